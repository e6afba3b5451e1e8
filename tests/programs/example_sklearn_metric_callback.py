"""keras.io example "Evaluating and exporting scikit-learn metrics in a Keras callback"
(examples/keras_recipes/sklearn_metric_callbacks, lukewood), imports changed: a Callback whose
__init__ does not call super().__init__(), reads self.model in on_epoch_end, predicts on test
data, averages a per-class score with a keras.metrics.Mean (reset_state / update_state / result)
and writes it with tf.summary.create_file_writer / as_default / tf.summary.scalar(step=) / flush;
the MNIST convnet (to_categorical, categorical_crossentropy, validation_split) it is used with.
sklearn.metrics.jaccard_score(average=None) is a NumPy stand-in defined here; a 1200 / 300 image
Fashion-MNIST subset (guide_data) stands in for MNIST; 15 -> 3 epochs, batch 128 -> 64.
Checked: the event file holds one jaccard_score scalar per epoch, each the mean per-class
Jaccard score of that epoch's predictions, and the last one is well above chance."""
import os
import struct

import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers
from guide_data import fashion


def jaccard_score(y_true, y_pred, average=None):  # sklearn.metrics.jaccard_score, average=None
    labels = np.union1d(y_true, y_pred)
    scores = []
    for c in labels:
        inter = np.sum((y_true == c) & (y_pred == c))
        union = np.sum((y_true == c) | (y_pred == c))
        scores.append(inter / union if union else 0.0)
    return np.array(scores)


class JaccardScoreCallback(keras.callbacks.Callback):
    """Computes the Jaccard score and logs the results to TensorBoard."""

    def __init__(self, name, x_test, y_test, log_dir):
        self.x_test = x_test
        self.y_test = y_test
        self.keras_metric = keras.metrics.Mean("jaccard_score")
        self.epoch = 0
        self.summary_writer = tf.summary.create_file_writer(os.path.join(log_dir, name))
        self.written = []

    def on_epoch_end(self, batch, logs=None):
        self.epoch += 1
        self.keras_metric.reset_state()
        predictions = self.model.predict(self.x_test)
        jaccard_value = jaccard_score(
            np.argmax(predictions, axis=-1), self.y_test, average=None
        )
        self.keras_metric.update_state(jaccard_value)
        self._write_metric(
            self.keras_metric.name, self.keras_metric.result().numpy().astype(float)
        )
        self.written.append(float(np.mean(jaccard_value)))

    def _write_metric(self, name, value):
        with self.summary_writer.as_default():
            tf.summary.scalar(
                name,
                value,
                step=self.epoch,
            )
            self.summary_writer.flush()


# Model / data parameters
num_classes = 10
input_shape = (28, 28, 1)

keras.utils.set_random_seed(3)
# The data, split between train and test sets
(x_train, y_train), (x_test, y_test) = fashion(1200, 300)

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
# Make sure images have shape (28, 28, 1)
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")


# Convert class vectors to binary class matrices.
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)

model.summary()

batch_size = 64
epochs = 3

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
callbacks = [
    JaccardScoreCallback(model.name, x_test, np.argmax(y_test, axis=-1), "logs")
]
model.fit(
    x_train,
    y_train,
    batch_size=batch_size,
    epochs=epochs,
    validation_split=0.1,
    callbacks=callbacks,
)


# the check: the event file (TFRecords of Event protos) holds the scores the callback wrote
def fields(buf):
    out, i = {}, 0
    while i < len(buf):
        key, i = varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            n, i = varint(buf, i)
            value, i = buf[i:i + n], i + n
        out.setdefault(field, []).append(value)
    return out


def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


log_dir = os.path.join("logs", model.name)
scalars = {}
for name in os.listdir(log_dir):
    with open(os.path.join(log_dir, name), "rb") as f:
        raw = f.read()
    i = 0
    while i < len(raw):
        (n,) = struct.unpack("<Q", raw[i:i + 8])
        event = fields(raw[i + 12:i + 12 + n])
        i += 16 + n
        for value in (fields(event[5][0]).get(1, []) if 5 in event else []):
            v = fields(value)
            if 2 in v:      # simple_value
                number = struct.unpack("<f", v[2][0])[0]
            else:           # a scalar TensorProto (float_val, packed or not)
                t = fields(v[8][0])
                raw_val = t[5][0]
                number = struct.unpack("<f", raw_val if len(raw_val) == 4 else raw_val[:4])[0]
            scalars[(v[1][0].decode(), event[2][0])] = number
print(scalars)
written = callbacks[0].written
assert sorted(scalars) == [("jaccard_score", step) for step in (1, 2, 3)], sorted(scalars)
np.testing.assert_allclose([scalars[("jaccard_score", s)] for s in (1, 2, 3)], written, rtol=1e-6)
assert written[-1] > 0.3, written   # chance is ~0.05 for 10 classes
