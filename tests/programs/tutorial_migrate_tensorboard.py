"""TensorFlow guide "Migrate TensorBoard: TensorFlow's visualization toolkit"
(guide/migrate/tensorboard), imports changed: its TensorFlow 2 part (the TF1 part needs
tf.compat.v1.estimator, which corenn does not have): `tf.keras.callbacks.TensorBoard(log_dir=
tempfile.mkdtemp(), histogram_freq=1)` on a Sequential MNIST classifier compiled with
`steps_per_execution=10` and fit with validation data (`%tensorboard --logdir` is a notebook
magic: the event files are listed instead). A 1000 / 200 image Fashion-MNIST subset (guide_data)
stands in for MNIST, 3 epochs instead of 10. Checked: train/ and validation/ hold event files, and
train/'s records hold one weight histogram per layer weight and epoch beside the scalars."""
import os
import struct
import tempfile
import numpy as np
import corenn as tf

from guide_data import fashion

(x_train, y_train), (x_test, y_test) = fashion(1000, 200)
x_train, x_test = x_train / 255.0, x_test / 255.0


def create_model():
  return tf.keras.models.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(512, activation='relu'),
    tf.keras.layers.Dropout(0.2),
    tf.keras.layers.Dense(10, activation='softmax')
  ])


model = create_model()
model.compile(optimizer='adam',
              loss='sparse_categorical_crossentropy',
              metrics=['accuracy'],
              steps_per_execution=10)

log_dir = tempfile.mkdtemp()
tensorboard_callback = tf.keras.callbacks.TensorBoard(
  log_dir=log_dir,
  histogram_freq=1) # Enable histogram computation with each epoch.

model.fit(x=x_train,
          y=y_train,
          epochs=3,
          validation_data=(x_test, y_test),
          callbacks=[tensorboard_callback],
          verbose=0)

for sub in ("train", "validation"):
    print(sub, os.listdir(os.path.join(tensorboard_callback.log_dir, sub)))


# the train/ event file: TFRecords of Event protos; count the histogram values (Summary.Value
# field 5) and the scalar ones (field 2) per step
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


(name,) = os.listdir(os.path.join(log_dir, "train"))
with open(os.path.join(log_dir, "train", name), "rb") as f:
    raw = f.read()
histograms, scalars, i = {}, {}, 0
while i < len(raw):
    (n,) = struct.unpack("<Q", raw[i:i + 8])
    event = fields(raw[i + 12:i + 12 + n])
    i += 16 + n
    for value in (fields(event[5][0])[1] if 5 in event else []):
        v = fields(value)
        target = histograms if 5 in v else scalars
        target.setdefault(event[2][0], []).append(v[1][0].decode())
print({step: len(tags) for step, tags in histograms.items()}, scalars[0])
weights = len(model.weights)   # 2 kernels and 2 biases
assert sorted(histograms) == [0, 1, 2] and all(len(tags) == weights for tags in histograms.values())
assert all(tag.endswith("/histogram") for tags in histograms.values() for tag in tags)
assert sorted(scalars[2]) == ["epoch_accuracy", "epoch_loss"]
assert os.listdir(os.path.join(log_dir, "validation"))
