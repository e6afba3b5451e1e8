"""A CNN written channels-first, as older Keras scripts and models ported from PyTorch are:
NCHW inputs, data_format="channels_first" on every image layer, BatchNormalization(axis=1), and a
ResNeXt-style block whose 3x3 convolution is grouped (cardinality 4). Imports changed only; the
data are synthetic 3x16x16 images (each class a bright square in its own quadrant and channel)."""
import numpy as np

from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(3)
rng = np.random.default_rng(11)
NUM_CLASSES = 4


def make_images(n):
    labels = rng.integers(0, NUM_CLASSES, n)
    images = rng.normal(0.0, 0.3, (n, 3, 16, 16)).astype("float32")
    for i, k in enumerate(labels):   # class k: a square in quadrant k of channel k % 3
        r, c = 8 * (k // 2), 8 * (k % 2)
        images[i, k % 3, r + 2:r + 6, c + 2:c + 6] += 1.5
    return images, labels


x_train, y_train = make_images(256)
x_test, y_test = make_images(64)


def resnext_block(x, filters, cardinality):
    """1x1 reduce, grouped 3x3, 1x1 expand, plus the shortcut (ResNeXt's form C)."""
    shortcut = x
    y = layers.Conv2D(filters, 1, use_bias=False, data_format="channels_first")(x)
    y = layers.BatchNormalization(axis=1)(y)
    y = layers.Activation("relu")(y)
    y = layers.Conv2D(filters, 3, padding="same", groups=cardinality, use_bias=False,
                      data_format="channels_first")(y)
    y = layers.BatchNormalization(axis=1)(y)
    y = layers.Activation("relu")(y)
    y = layers.Conv2D(int(shortcut.shape[1]), 1, use_bias=False, data_format="channels_first")(y)
    y = layers.BatchNormalization(axis=1)(y)
    return layers.Activation("relu")(layers.Add()([shortcut, y]))


inputs = keras.Input(shape=(3, 16, 16))
x = layers.Conv2D(16, 3, padding="same", activation="relu", data_format="channels_first")(inputs)
x = layers.MaxPooling2D(2, data_format="channels_first")(x)
x = resnext_block(x, 16, cardinality=4)
x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", data_format="channels_first")(x)
x = layers.GlobalAveragePooling2D(data_format="channels_first")(x)
outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
model = keras.Model(inputs, outputs, name="resnext_cf")
model.summary()

assert model.get_layer(index=3).output.shape == (None, 16, 8, 8)   # still NCHW after the pooling
grouped = [layer for layer in model.layers if getattr(layer, "groups", 1) > 1]
assert len(grouped) == 1 and tuple(grouped[0].kernel.shape) == (3, 3, 4, 16)

model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=8, validation_split=0.1, verbose=0)
assert history.history["loss"][-1] < history.history["loss"][0]

test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
print("test accuracy", test_acc)
assert test_acc > 0.9, test_acc

model.save("resnext_cf.keras")
restored = keras.models.load_model("resnext_cf.keras")
np.testing.assert_allclose(restored.predict(x_test, verbose=0), model.predict(x_test, verbose=0),
                           rtol=1e-5, atol=1e-6)
assert restored.layers[1].get_config()["data_format"] == "channels_first"
