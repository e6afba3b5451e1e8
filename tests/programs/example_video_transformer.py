"""keras.io example "Video Classification with Transformers" (tf.keras 2 version), imports changed:
frame features from a CNN feature extractor (DenseNet121's `preprocess_input` before it), a
`PositionalEmbedding` layer whose `compute_mask` marks the padded (all-zero) frames with
`tf.reduce_any(tf.cast(inputs, "bool"), axis=-1)`, a `TransformerEncoder` layer that takes that
mask as `mask=` and hands it to MultiHeadAttention as `mask[:, tf.newaxis, :]`, an input of shape
`(None, None)`, `ModelCheckpoint(save_weights_only=True, save_best_only=True)` to a `.weights.h5`
file reloaded before `evaluate`, and the example's per-video prediction. UCF101 videos are
replaced by synthetic clips (class = which colour channel pulses), padded with zero frames to
MAX_SEQ_LENGTH; the pretrained DenseNet121 is replaced by a small untrained CNN built the same way."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(3)
rng = np.random.default_rng(3)

MAX_SEQ_LENGTH = 8
NUM_FEATURES = 16
IMG_SIZE = 16
EPOCHS = 8
class_vocab = ["CricketShot", "PlayingCello", "Punch"]


def make_video(label):
    n_frames = rng.integers(4, MAX_SEQ_LENGTH + 1)
    frames = rng.uniform(0, 80, (n_frames, IMG_SIZE, IMG_SIZE, 3))
    frames[::2, :, :, label] += 150          # the label's channel pulses every other frame
    return frames.astype("float32")


def build_feature_extractor():
    preprocess_input = keras.applications.densenet.preprocess_input
    inputs = keras.Input((IMG_SIZE, IMG_SIZE, 3))
    preprocessed = preprocess_input(inputs)
    x = layers.Conv2D(8, 3, strides=2, activation="relu")(preprocessed)
    x = layers.Conv2D(NUM_FEATURES, 3, activation="relu")(x)
    outputs = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, outputs, name="feature_extractor")


feature_extractor = build_feature_extractor()


def prepare_all_videos(videos):
    num_samples = len(videos)
    frame_features = np.zeros(shape=(num_samples, MAX_SEQ_LENGTH, NUM_FEATURES), dtype="float32")
    for idx, frames in enumerate(videos):
        length = min(MAX_SEQ_LENGTH, len(frames))
        frame_features[idx, :length] = feature_extractor.predict(frames[:length], verbose=0)
    return frame_features


train_labels = rng.integers(0, len(class_vocab), 90)
test_labels = rng.integers(0, len(class_vocab), 30)
train_data = prepare_all_videos([make_video(y) for y in train_labels])
test_data = prepare_all_videos([make_video(y) for y in test_labels])
print(f"Frame features in train set: {train_data.shape}")


class PositionalEmbedding(layers.Layer):
    def __init__(self, sequence_length, output_dim, **kwargs):
        super().__init__(**kwargs)
        self.position_embeddings = layers.Embedding(input_dim=sequence_length, output_dim=output_dim)
        self.sequence_length = sequence_length
        self.output_dim = output_dim

    def call(self, inputs):
        # The inputs are of shape: `(batch_size, frames, num_features)`
        length = tf.shape(inputs)[1]
        positions = tf.range(start=0, limit=length, delta=1)
        embedded_positions = self.position_embeddings(positions)
        return inputs + embedded_positions

    def compute_mask(self, inputs, mask=None):
        mask = tf.reduce_any(tf.cast(inputs, "bool"), axis=-1)
        return mask


class TransformerEncoder(layers.Layer):
    def __init__(self, embed_dim, dense_dim, num_heads, **kwargs):
        super().__init__(**kwargs)
        self.embed_dim = embed_dim
        self.dense_dim = dense_dim
        self.num_heads = num_heads
        self.attention = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim, dropout=0.3)
        self.dense_proj = keras.Sequential(
            [layers.Dense(dense_dim, activation=tf.nn.gelu), layers.Dense(embed_dim)]
        )
        self.layernorm_1 = layers.LayerNormalization()
        self.layernorm_2 = layers.LayerNormalization()

    def call(self, inputs, mask=None):
        if mask is not None:
            mask = mask[:, tf.newaxis, :]

        attention_output = self.attention(inputs, inputs, attention_mask=mask)
        proj_input = self.layernorm_1(inputs + attention_output)
        proj_output = self.dense_proj(proj_input)
        return self.layernorm_2(proj_input + proj_output)


def get_compiled_model():
    sequence_length = MAX_SEQ_LENGTH
    embed_dim = NUM_FEATURES
    dense_dim = 4
    num_heads = 1
    classes = len(class_vocab)

    inputs = keras.Input(shape=(None, None))
    x = PositionalEmbedding(sequence_length, embed_dim, name="frame_position_embedding")(inputs)
    x = TransformerEncoder(embed_dim, dense_dim, num_heads, name="transformer_layer")(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)

    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def run_experiment():
    filepath = "./tmp/video_classifier.weights.h5"
    checkpoint = keras.callbacks.ModelCheckpoint(filepath, save_weights_only=True, save_best_only=True, verbose=1)

    model = get_compiled_model()
    history = model.fit(train_data, train_labels, validation_split=0.15, epochs=EPOCHS,
                        callbacks=[checkpoint], verbose=0)

    model.load_weights(filepath)
    _, accuracy = model.evaluate(test_data, test_labels)
    print(f"Test accuracy: {round(accuracy * 100, 2)}%")
    return model, history, accuracy


trained_model, history, accuracy = run_experiment()
assert history.history["loss"][-1] < history.history["loss"][0], history.history["loss"]
assert accuracy > 0.6, accuracy     # chance is 1/3

# the mask of a padded clip: its zero frames are masked out
short = np.zeros((1, MAX_SEQ_LENGTH, NUM_FEATURES), "float32")
short[0, :3] = test_data[0, :3]
emb = trained_model.get_layer("frame_position_embedding")
assert np.array_equal(np.asarray(emb.compute_mask(tf.constant(short)))[0], [True] * 3 + [False] * 5)


def predict_action(frames):
    frame_features = prepare_all_videos([frames])
    probabilities = trained_model.predict(frame_features)[0]
    for i in np.argsort(probabilities)[::-1]:
        print(f"  {class_vocab[i]}: {probabilities[i] * 100:5.2f}%")
    return class_vocab[int(np.argmax(probabilities))]


test_video = make_video(1)
print(f"Test video label: {class_vocab[1]}")
print("predicted:", predict_action(test_video))
