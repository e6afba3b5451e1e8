"""keras.io example "Handwriting recognition", imports changed: labels split into characters
with tf.strings.unicode_split and mapped by StringLookup (and back with invert=True), padded
with tf.pad to a fixed length with a padding token; images resized without distortion
(tf.image.resize with preserve_aspect_ratio, padded to the target with tf.pad, transposed and
flipped so the width is the time axis); a tf.data pipeline of map/batch/cache/prefetch; a
CTCLayer endpoint adding keras.ops.ctc_loss with add_loss; a Conv2D + Bidirectional LSTM model
trained with EarlyStopping; greedy keras.ops.ctc_decode on a prediction model cut at the dense
layer; and the example's EditDistanceCallback computing tf.edit_distance over tf.sparse.from_dense
tensors. The IAM words become synthetic "words" drawn as bar codes of 3 to 4 letters."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(2)
rng = np.random.default_rng(2)
np.random.seed(2)

alphabet = "abcde"
glyph = {c: rng.uniform(size=(8, 3)) > 0.5 for c in alphabet}  # each letter an 8x3 pattern


def draw(word):
    cols = [np.zeros((8, 1))]
    for c in word:
        cols += [glyph[c].astype(float), np.zeros((8, 1))]
    img = np.concatenate(cols, 1)
    img = img + rng.normal(0, 0.05, img.shape)
    return (np.clip(img, 0, 1) * 255).astype("float32")[..., None]


words = ["".join(rng.choice(list(alphabet), rng.integers(3, 5))) for _ in range(320)]
images = [draw(w) for w in words]
train_labels_cleaned, validation_labels_cleaned = words[:256], words[256:]
train_img, validation_img = images[:256], images[256:]

characters = sorted(set(char for label in words for char in label))
max_len = max(len(label) for label in words)
AUTOTUNE = tf.data.AUTOTUNE
# Mapping characters to integers.
char_to_num = layers.StringLookup(vocabulary=list(characters), mask_token=None)
# Mapping integers back to original characters.
num_to_char = layers.StringLookup(vocabulary=char_to_num.get_vocabulary(), mask_token=None, invert=True)
assert char_to_num.get_vocabulary() == ["[UNK]"] + characters


def distortion_free_resize(image, img_size):
    w, h = img_size
    image = tf.image.resize(image, size=(h, w), preserve_aspect_ratio=True)
    # Check tha amount of padding needed to be done.
    pad_height = h - tf.shape(image)[0]
    pad_width = w - tf.shape(image)[1]
    # Only necessary if you want to do same amount of padding on both sides.
    if pad_height % 2 != 0:
        height = pad_height // 2
        pad_height_top = height + 1
        pad_height_bottom = height
    else:
        pad_height_top = pad_height_bottom = pad_height // 2
    if pad_width % 2 != 0:
        width = pad_width // 2
        pad_width_left = width + 1
        pad_width_right = width
    else:
        pad_width_left = pad_width_right = pad_width // 2
    image = tf.pad(image, paddings=[[pad_height_top, pad_height_bottom], [pad_width_left, pad_width_right], [0, 0]])
    image = tf.transpose(image, perm=[1, 0, 2])
    image = tf.image.flip_left_right(image)
    return image


batch_size = 32
padding_token = 99
image_width = 32
image_height = 16


def preprocess_image(image, img_size=(image_width, image_height)):
    image = distortion_free_resize(image, img_size)
    image = tf.cast(image, tf.float32) / 255.0
    return image


def vectorize_label(label):
    label = char_to_num(tf.strings.unicode_split(label, input_encoding="UTF-8"))
    length = tf.shape(label)[0]
    pad_amount = max_len - length
    label = tf.pad(label, paddings=[[0, pad_amount]], constant_values=padding_token)
    return label


def process_images_labels(image, label):
    image = preprocess_image(image)
    label = vectorize_label(label)
    return {"image": image, "label": label}


def prepare_dataset(images, labels):
    dataset = [process_images_labels(tf.constant(i), tf.constant(l)) for i, l in zip(images, labels)]
    dataset = tf.data.Dataset.from_tensor_slices({"image": np.stack([np.asarray(d["image"]) for d in dataset]),
                                                  "label": np.stack([np.asarray(d["label"]) for d in dataset])})
    return dataset.batch(batch_size).cache().prefetch(AUTOTUNE)


sample = preprocess_image(tf.constant(images[0]))
assert tuple(sample.shape) == (image_width, image_height, 1), sample.shape   # time axis first
label0 = np.asarray(vectorize_label(tf.constant(words[0])))
assert label0.shape == (max_len,) and (label0[len(words[0]):] == padding_token).all()
decoded = tf.strings.reduce_join(num_to_char(label0[:len(words[0])])).numpy().decode("utf-8")
assert decoded == words[0], (decoded, words[0])

train_ds = prepare_dataset(train_img, train_labels_cleaned)
validation_ds = prepare_dataset(validation_img, validation_labels_cleaned)


class CTCLayer(keras.layers.Layer):
    def __init__(self, name=None):
        super().__init__(name=name)

    def call(self, y_true, y_pred):
        batch_len = ops.cast(ops.shape(y_true)[0], dtype="int32")
        input_length = ops.cast(ops.shape(y_pred)[1], dtype="int32")
        label_length = ops.sum(ops.cast(ops.not_equal(y_true, padding_token), "int32"), axis=1)
        input_length = input_length * ops.ones(shape=(batch_len,), dtype="int32")
        y_true = ops.where(ops.equal(y_true, padding_token), 0, y_true)
        # ops.ctc_loss takes logits; the model ends in a softmax, whose logs are logits of it
        loss = ops.ctc_loss(y_true, ops.log(y_pred + 1e-7), label_length, input_length, mask_index=0)
        self.add_loss(ops.mean(loss))
        # At test time, just return the computed predictions.
        return y_pred


def build_model():
    # Inputs to the model
    input_img = keras.Input(shape=(image_width, image_height, 1), name="image")
    labels = keras.layers.Input(name="label", shape=(None,), dtype="int32")
    # First conv block.
    x = keras.layers.Conv2D(16, (3, 3), activation="relu", kernel_initializer="he_normal", padding="same",
                            name="Conv1")(input_img)
    x = keras.layers.MaxPooling2D((2, 2), name="pool1")(x)
    # We have used one max pool with pool size and strides 2, so the downsampled feature maps are 2x smaller.
    new_shape = ((image_width // 2), (image_height // 2) * 16)
    x = keras.layers.Reshape(target_shape=new_shape, name="reshape")(x)
    x = keras.layers.Dense(32, activation="relu", name="dense1")(x)
    x = keras.layers.Dropout(0.1)(x)
    # RNNs.
    x = keras.layers.Bidirectional(keras.layers.LSTM(48, return_sequences=True, dropout=0.1))(x)
    # +1 for the blank token at index 0 (the StringLookup's OOV slot is never a label).
    x = keras.layers.Dense(len(char_to_num.get_vocabulary()) + 1, activation="softmax", name="dense2")(x)
    # Add CTC layer for calculating CTC loss at each step.
    output = CTCLayer(name="ctc_loss")(labels, x)
    # Define the model.
    model = keras.models.Model(inputs=[input_img, labels], outputs=output, name="handwriting_recognizer")
    # Optimizer.
    opt = keras.optimizers.Adam(learning_rate=3e-3)
    # Compile the model and return.
    model.compile(optimizer=opt)
    return model


model = build_model()
prediction_model = keras.models.Model(model.get_layer(name="image").output, model.get_layer(name="dense2").output)
validation_images, validation_labels = [], []
for batch in validation_ds:
    validation_images.append(batch["image"])
    validation_labels.append(batch["label"])


def calculate_edit_distance(labels, predictions):
    # Get a single batch and convert its labels to sparse tensors.
    saprse_labels = ops.cast(tf.sparse.from_dense(labels), dtype="int64")
    # Make predictions and convert them to sparse tensors.
    input_len = np.ones(predictions.shape[0]) * predictions.shape[1]
    predictions_decoded = ops.ctc_decode(predictions, sequence_lengths=input_len, strategy="greedy",
                                         mask_index=0)[0][0][:, :max_len]
    sparse_predictions = ops.cast(tf.sparse.from_dense(predictions_decoded), dtype="int64")
    # Compute individual edit distances and average them out.
    edit_distances = tf.edit_distance(sparse_predictions, saprse_labels, normalize=False)
    return tf.reduce_mean(edit_distances)


class EditDistanceCallback(keras.callbacks.Callback):
    def __init__(self, pred_model):
        super().__init__()
        self.prediction_model = pred_model
        self.distances = []

    def on_epoch_end(self, epoch, logs=None):
        edit_distances = []
        for i in range(len(validation_images)):
            labels = validation_labels[i]
            predictions = self.prediction_model.predict(validation_images[i], verbose=0)
            edit_distances.append(calculate_edit_distance(labels, predictions).numpy())
        self.distances.append(float(np.mean(edit_distances)))


# tf.edit_distance on the example's kind of sparse tensors, against a hand count
truth = tf.sparse.from_dense(np.array([[1, 2, 3, 0], [4, 5, 0, 0]], "int64"))
hyp = tf.sparse.from_dense(np.array([[1, 3, 0, 0], [4, 5, 6, 0]], "int64"))
np.testing.assert_allclose(tf.edit_distance(hyp, truth, normalize=False).numpy(), [1.0, 1.0])
np.testing.assert_allclose(tf.edit_distance(hyp, truth).numpy(), [1 / 3, 1 / 2], rtol=1e-6)

edit_distance_callback = EditDistanceCallback(prediction_model)
history = model.fit(train_ds, validation_data=validation_ds, epochs=30, verbose=0,
                    callbacks=[edit_distance_callback,
                               keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)])
losses = history.history["loss"]
print("loss", losses[0], "->", losses[-1], "edit distance", edit_distance_callback.distances[0], "->",
      edit_distance_callback.distances[-1])
assert losses[-1] < 0.3 * losses[0], losses
assert edit_distance_callback.distances[-1] < 0.5 * edit_distance_callback.distances[0]


def decode_batch_predictions(pred):
    input_len = np.ones(pred.shape[0]) * pred.shape[1]
    # Use greedy search. For complex tasks, you can use beam search.
    results = ops.ctc_decode(pred, sequence_lengths=input_len, strategy="greedy", mask_index=0)[0][0][:, :max_len]
    # Iterate over the results and get back the text.
    output_text = []
    for res in results:
        res = tf.gather(res, tf.where(tf.math.not_equal(res, -1)))
        res = tf.strings.reduce_join(num_to_char(res)).numpy().decode("utf-8")
        output_text.append(res)
    return output_text


batch = next(iter(validation_ds))
pred_texts = decode_batch_predictions(prediction_model.predict(batch["image"], verbose=0))
correct = np.mean([p == t for p, t in zip(pred_texts, validation_labels_cleaned[:len(pred_texts)])])
print("exact words", correct, pred_texts[:4], validation_labels_cleaned[:4])
assert correct > 0.5, correct
