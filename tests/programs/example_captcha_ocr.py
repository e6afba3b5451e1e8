"""keras-io examples/vision/captcha_ocr (OCR model for reading captchas), imports changed only
(`import keras`, `from keras import layers, ops`, `import tensorflow as tf` -> corenn). The
captcha PNGs are replaced by synthetic 48x16 grey images of 3-character words over a 5-letter
alphabet: each letter is a fixed random glyph drawn at a jittered position with noise. The model
is the example's (two Conv2D + pooling, a reshape to a sequence over the image width, bidirectional
LSTMs, a softmax over the characters plus the CTC blank) at toy width, trained through a
`CTCLayer` that adds `keras.backend.ctc_batch_cost` with `add_loss`, and read back with
`keras.backend.ctc_decode` on a prediction model cut at the softmax layer."""
import numpy as np
import corenn as tf
from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(1)
rng = np.random.default_rng(1)

characters = sorted(set("abcde"))
img_width, img_height = 48, 16
max_length = 3
glyphs = {c: (rng.random((12, 8)) > 0.5).astype("float32") for c in characters}


def draw(word):
    img = rng.normal(0.0, 0.1, (img_height, img_width)).astype("float32")
    for i, c in enumerate(word):
        x0 = 16 * i + 4 + rng.integers(-2, 3)
        y0 = 2 + rng.integers(-1, 2)
        img[y0:y0 + 12, x0:x0 + 8] += glyphs[c]
    return np.clip(img, 0, 1)


words = ["".join(rng.choice(characters, max_length)) for _ in range(640)]
images = np.stack([draw(w) for w in words])[..., None]
labels = words
print("Number of images found: ", len(images))
print("Number of unique characters: ", len(characters))
print("Characters present: ", characters)

batch_size = 32
downsample_factor = 4

# Mapping characters to integers
char_to_num = layers.StringLookup(vocabulary=list(characters), mask_token=None)
# Mapping integers back to original characters
num_to_char = layers.StringLookup(vocabulary=char_to_num.get_vocabulary(), mask_token=None, invert=True)


def split_data(images, labels, train_size=0.9, shuffle=True):
    size = len(images)
    indices = np.arange(size)
    if shuffle:
        np.random.shuffle(indices)
    train_samples = int(size * train_size)
    x_train, y_train = images[indices[:train_samples]], np.array(labels)[indices[:train_samples]]
    x_valid, y_valid = images[indices[train_samples:]], np.array(labels)[indices[train_samples:]]
    return x_train, x_valid, y_train, y_valid


x_train, x_valid, y_train, y_valid = split_data(images, labels)


def encode_single_sample(img, label):
    # the example decodes a PNG, converts to float32 in [0, 1] and resizes; ours already are
    img = ops.image.resize(img, [img_height, img_width])
    # Transpose the image because we want the time dimension to correspond to the width
    img = ops.transpose(img, axes=[1, 0, 2])
    # Map the characters in label to numbers
    label = char_to_num(tf.strings.unicode_split(label, input_encoding="UTF-8"))
    return {"image": img, "label": label}


train_dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train))
train_dataset = (train_dataset.map(encode_single_sample, num_parallel_calls=tf.data.AUTOTUNE)
                 .batch(batch_size).prefetch(buffer_size=tf.data.AUTOTUNE))
validation_dataset = tf.data.Dataset.from_tensor_slices((x_valid, y_valid))
validation_dataset = (validation_dataset.map(encode_single_sample, num_parallel_calls=tf.data.AUTOTUNE)
                      .batch(batch_size).prefetch(buffer_size=tf.data.AUTOTUNE))

batch = next(iter(train_dataset))
assert tuple(batch["image"].shape) == (batch_size, img_width, img_height, 1)
assert tuple(np.shape(batch["label"])) == (batch_size, max_length)


class CTCLayer(layers.Layer):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.loss_fn = keras.backend.ctc_batch_cost

    def call(self, y_true, y_pred):
        # Compute the training-time loss value and add it to the layer using `self.add_loss()`.
        batch_len = ops.cast(ops.shape(y_true)[0], dtype="int64")
        input_length = ops.cast(ops.shape(y_pred)[1], dtype="int64")
        label_length = ops.cast(ops.shape(y_true)[1], dtype="int64")
        input_length = input_length * ops.ones(shape=(batch_len, 1), dtype="int64")
        label_length = label_length * ops.ones(shape=(batch_len, 1), dtype="int64")
        loss = self.loss_fn(y_true, y_pred, input_length, label_length)
        self.add_loss(ops.mean(loss))
        # At test time, just return the computed predictions
        return y_pred


def build_model():
    # Inputs to the model
    input_img = layers.Input(shape=(img_width, img_height, 1), name="image", dtype="float32")
    labels = layers.Input(name="label", shape=(None,), dtype="float32")
    # First conv block
    x = layers.Conv2D(16, (3, 3), activation="relu", kernel_initializer="he_normal", padding="same",
                      name="Conv1")(input_img)
    x = layers.MaxPooling2D((2, 2), name="pool1")(x)
    # Second conv block
    x = layers.Conv2D(32, (3, 3), activation="relu", kernel_initializer="he_normal", padding="same",
                      name="Conv2")(x)
    x = layers.MaxPooling2D((2, 2), name="pool2")(x)
    # We have used two max pool with pool size and strides 2: downsampled feature maps are 4x
    # smaller, and the last layer has 32 filters. Reshape before the RNN part of the model.
    new_shape = ((img_width // 4), (img_height // 4) * 32)
    x = layers.Reshape(target_shape=new_shape, name="reshape")(x)
    x = layers.Dense(32, activation="relu", name="dense1")(x)
    x = layers.Dropout(0.2)(x)
    # RNNs
    x = layers.Bidirectional(layers.LSTM(32, return_sequences=True, dropout=0.25))(x)
    # Output layer: the characters, [UNK] and the CTC blank (the last class)
    x = layers.Dense(len(char_to_num.get_vocabulary()) + 1, activation="softmax", name="dense2")(x)
    # Add CTC layer for calculating CTC loss at each step
    output = CTCLayer(name="ctc_loss")(labels, x)
    # Define the model
    model = keras.models.Model(inputs=[input_img, labels], outputs=output, name="ocr_model_v1")
    # Optimizer
    opt = keras.optimizers.Adam(learning_rate=3e-3)
    # Compile the model and return
    model.compile(optimizer=opt)
    return model


model = build_model()
model.summary()

epochs = 16
early_stopping_patience = 5
# Add early stopping
early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=early_stopping_patience,
                                               restore_best_weights=True)
history = model.fit(train_dataset, validation_data=validation_dataset, epochs=epochs, callbacks=[early_stopping],
                    verbose=0)
print("loss", [round(v, 3) for v in history.history["loss"]])
assert history.history["loss"][-1] < 0.3 * history.history["loss"][0], history.history["loss"]

# Get the prediction model by extracting layers till the output layer
prediction_model = keras.models.Model(model.input[0], model.get_layer(name="dense2").output)
prediction_model.summary()


# A utility function to decode the output of the network
def decode_batch_predictions(pred):
    input_len = np.ones(pred.shape[0]) * pred.shape[1]
    # Use greedy search. For complex tasks, you can use beam search
    results = keras.backend.ctc_decode(pred, input_length=input_len, greedy=True)[0][0][:, :max_length]
    # Iterate over the results and get back the text
    output_text = []
    for res in results:
        res = tf.strings.reduce_join(num_to_char(res)).numpy().decode("utf-8")
        output_text.append(res)
    return output_text


correct = total = 0
for batch in validation_dataset.take(2):
    batch_images = batch["image"]
    batch_labels = batch["label"]
    preds = prediction_model.predict(batch_images, verbose=0)
    pred_texts = decode_batch_predictions(preds)
    orig_texts = []
    for label in batch_labels:
        label = tf.strings.reduce_join(num_to_char(label)).numpy().decode("utf-8")
        orig_texts.append(label)
    print(list(zip(orig_texts, pred_texts))[:4])
    correct += sum(p == o for p, o in zip(pred_texts, orig_texts))
    total += len(orig_texts)
print(f"read {correct}/{total} captchas exactly")
assert correct >= 0.8 * total, (correct, total)
