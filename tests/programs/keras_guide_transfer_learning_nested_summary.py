"""The transfer-learning recipe of the Keras guide on a nested model: a convolutional base
(containing BatchNormalization) is pre-trained on one task, then reused frozen
(`base.trainable = False`, called with `training=False` so BatchNorm stays in inference mode)
under a new head, trained; then unfrozen and fine-tuned after recompiling with a low learning
rate. `summary(expand_nested=True, show_trainable=True)`, weight counts and the frozen weights'
values are checked at each stage. Only the imports changed."""
import io
import contextlib

import numpy as np
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(4)
rng = np.random.default_rng(4)


def make_images(n, shift):
    x = rng.normal(0, 0.3, size=(n, 12, 12, 1)).astype("float32")
    y = rng.integers(0, 2, n)
    x[y == 1, 3:9, 5:7, 0] += 1.0 + shift      # vertical bar
    x[y == 0, 5:7, 3:9, 0] += 1.0 + shift      # horizontal bar
    return x, y


x_a, y_a = make_images(512, 0.0)
x_b, y_b = make_images(256, 0.5)

base_model = keras.Sequential([
    keras.Input((12, 12, 1)),
    layers.Conv2D(8, 3, padding="same"),
    layers.BatchNormalization(),
    layers.Activation("relu"),
    layers.MaxPooling2D(),
    layers.Conv2D(16, 3, padding="same", activation="relu"),
    layers.GlobalAveragePooling2D(),
], name="base")
pretrain = keras.Sequential([base_model, layers.Dense(2, activation="softmax")])
pretrain.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                 metrics=["accuracy"])
pretrain.fit(x_a, y_a, epochs=4, batch_size=32, verbose=0)
assert pretrain.evaluate(x_a, y_a, verbose=0)[1] > 0.9

# freeze, new head
base_model.trainable = False
assert base_model.trainable_weights == [] and len(base_model.non_trainable_weights) == 8
inputs = keras.Input(shape=(12, 12, 1))
x = layers.RandomFlip("horizontal")(inputs)
x = base_model(x, training=False)
x = layers.Dropout(0.2)(x)
outputs = layers.Dense(1)(x)
model = keras.Model(inputs, outputs)

buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    model.summary(expand_nested=True, show_trainable=True)
text = buf.getvalue()
print(text)
assert "base" in text and "batch_normalization" in text and "Trainable" in text
assert "Trainable params: 17" in text.replace(",", ""), text     # the Dense(1) head: 16 + 1

frozen_before = [w.copy() for w in base_model.get_weights()]
model.compile(optimizer=keras.optimizers.Adam(0.02), loss=keras.losses.BinaryCrossentropy(from_logits=True),
              metrics=[keras.metrics.BinaryAccuracy()])
model.fit(x_b, y_b, epochs=10, batch_size=32, verbose=0)
for before, after in zip(frozen_before, base_model.get_weights()):
    np.testing.assert_array_equal(before, after)        # moving mean/variance untouched too
acc_frozen = model.evaluate(x_b, y_b, verbose=0)[1]
print("frozen base accuracy", acc_frozen)
assert acc_frozen > 0.85

# fine-tune: unfreeze and recompile with a low learning rate
base_model.trainable = True
assert len(model.trainable_weights) == 2 + 6
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss=keras.losses.BinaryCrossentropy(from_logits=True),
              metrics=[keras.metrics.BinaryAccuracy()])
model.fit(x_b, y_b, epochs=2, batch_size=32, verbose=0)
moved = [not np.array_equal(b, a) for b, a in zip(frozen_before, base_model.get_weights())]
assert moved[0], "the conv kernel did not change during fine-tuning"
acc_tuned = model.evaluate(x_b, y_b, verbose=0)[1]
print("fine-tuned accuracy", acc_tuned)
assert acc_tuned >= acc_frozen - 0.02

# a layer-by-layer partial freeze, as the guide shows for large bases
for layer in base_model.layers[:3]:
    layer.trainable = False
model.compile(optimizer=keras.optimizers.Adam(1e-5), loss=keras.losses.BinaryCrossentropy(from_logits=True))
assert len(model.trainable_weights) == 2 + 2
assert model.count_params() == base_model.count_params() + 17
