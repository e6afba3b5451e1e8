"""In the style of keras-io examples/vision/randaugment and "Image classification from scratch":
a data-augmentation front end (keras.layers.RandAugment, then the Keras 3 colour and geometry
layers) in front of a small convnet, trained a few steps on synthetic 24x24 RGB images of two
classes (red-ish squares and blue-ish discs). The augmentation runs in fit only."""
import numpy as np

import corenn as keras
from corenn.keras import layers

keras.utils.set_random_seed(7)
rng = np.random.default_rng(7)
IMAGE_SIZE = 24
rows, cols = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE]


def make_images(n):
    labels = rng.integers(0, 2, n)
    x = rng.uniform(0, 60, (n, IMAGE_SIZE, IMAGE_SIZE, 3))
    for i, label in enumerate(labels):
        cy, cx = rng.integers(7, 17, 2)
        if label == 0:
            shape = (abs(rows - cy) < 5) & (abs(cols - cx) < 5)
            colour = [220, 60, 40]
        else:
            shape = (rows - cy) ** 2 + (cols - cx) ** 2 < 30
            colour = [40, 80, 220]
        x[i][shape] = colour + rng.normal(0, 10, 3)
    return np.clip(x, 0, 255).astype("float32"), labels


x_train, y_train = make_images(192)
x_test, y_test = make_images(64)

# RandAugment on pixels in [0, 255], then the simpler augmentations of the tutorial
data_augmentation = keras.Sequential(
    [
        layers.RandAugment(value_range=(0, 255), num_ops=2, factor=0.2),
        layers.RandomFlip("horizontal"),
        layers.RandomShear(x_factor=0.1, y_factor=0.1),
        layers.RandomColorJitter(value_range=(0, 255), brightness_factor=0.1, hue_factor=0.05),
        layers.RandomErasing(factor=0.3, scale=(0.02, 0.1), value_range=(0, 255)),
    ],
    name="data_augmentation",
)

# the augmentation changes the images when training and leaves them alone at inference
augmented = np.asarray(data_augmentation(x_train[:8], training=True))
assert augmented.shape == (8, IMAGE_SIZE, IMAGE_SIZE, 3)
assert not np.allclose(augmented, x_train[:8])
assert augmented.min() >= 0 and augmented.max() <= 255
np.testing.assert_array_equal(np.asarray(data_augmentation(x_train[:8], training=False)), x_train[:8])


def make_model(input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    x = data_augmentation(inputs)
    x = layers.Rescaling(1.0 / 255)(x)
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


model = make_model(input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), num_classes=2)
model.compile(optimizer=keras.optimizers.Adam(5e-3), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
losses = history.history["loss"]
print("loss per epoch:", [round(v, 3) for v in losses])
assert min(losses[-3:]) < losses[0] - 0.05, losses

_, test_acc = model.evaluate(x_test, y_test, verbose=0)
print(f"Test accuracy: {test_acc * 100:.1f}%")
assert test_acc > 0.7, test_acc

# predict does not augment: the same images give the same probabilities
first = model.predict(x_test, verbose=0)
np.testing.assert_allclose(model.predict(x_test, verbose=0), first)
