"""keras-io examples/vision/image_classification_from_scratch, imports changed: JPEG files
filtered by their JFIF header, image_dataset_from_directory with subset="both", augmentation
layers applied in a tf.data map, a small Xception-like network (Rescaling, SeparableConv2D
blocks with residual projections, GlobalAveragePooling2D, a logit), ModelCheckpoint per epoch,
BinaryAccuracy(name="acc"), and load_img / img_to_array / ops.expand_dims / ops.sigmoid for one
prediction. The Cats vs Dogs download becomes 160 synthetic 32x32 JPEGs (a bright disc = "Cat",
a bright square = "Dog"), plus two files that are not JPEGs for the filter to delete; image_size
32x32 (no resizing, so load_img's nearest and the dataset's bilinear agree), widths 8..32 instead of 128..1024, batches of 16 and 12 epochs (BatchNormalization's
momentum 0.9: few steps)."""
import os

import numpy as np
from PIL import Image

import corenn as keras
from corenn.keras import layers
from corenn import data as tf_data

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)

yy, xx = np.mgrid[:32, :32]
for folder_name in ("Cat", "Dog"):
    folder_path = os.path.join("PetImages", folder_name)
    os.makedirs(folder_path, exist_ok=True)
    for i in range(80):
        cy, cx, r = rng.integers(11, 21, 2).tolist() + [int(rng.integers(5, 9))]
        shape = ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r) if folder_name == "Cat" else \
            ((abs(yy - cy) < r * 0.85) & (abs(xx - cx) < r * 0.85))
        pixels = rng.integers(0, 80, (32, 32, 3)) + shape[..., None] * rng.integers(120, 170, 3)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(os.path.join(folder_path, f"{i}.jpg"))
    with open(os.path.join(folder_path, "corrupt.jpg"), "wb") as f:
        f.write(b"not an image at all")

num_skipped = 0
for folder_name in ("Cat", "Dog"):
    folder_path = os.path.join("PetImages", folder_name)
    for fname in os.listdir(folder_path):
        fpath = os.path.join(folder_path, fname)
        try:
            fobj = open(fpath, "rb")
            is_jfif = b"JFIF" in fobj.peek(10)
        finally:
            fobj.close()

        if not is_jfif:
            num_skipped += 1
            # Delete corrupted image
            os.remove(fpath)

print(f"Deleted {num_skipped} images.")
assert num_skipped == 2

image_size = (32, 32)
batch_size = 16

train_ds, val_ds = keras.utils.image_dataset_from_directory(
    "PetImages",
    validation_split=0.2,
    subset="both",
    seed=1337,
    image_size=image_size,
    batch_size=batch_size,
)
assert train_ds.class_names == ["Cat", "Dog"]

for images, labels in train_ds.take(1):
    for i in range(9):
        pixels = np.array(images[i]).astype("uint8")
        assert pixels.shape == image_size + (3,) and int(labels[i]) in (0, 1)

data_augmentation_layers = [
    layers.RandomFlip("horizontal"),
    layers.RandomRotation(0.1),
]


def data_augmentation(images):
    for layer in data_augmentation_layers:
        images = layer(images)
    return images


# Apply `data_augmentation` to the training images.
train_ds = train_ds.map(
    lambda img, label: (data_augmentation(img), label),
    num_parallel_calls=tf_data.AUTOTUNE,
)
# Prefetching samples in GPU memory helps maximize GPU utilization.
train_ds = train_ds.prefetch(tf_data.AUTOTUNE)
val_ds = val_ds.prefetch(tf_data.AUTOTUNE)


def make_model(input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)

    # Entry block
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(8, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.Activation("relu")(x)

    previous_block_activation = x  # Set aside residual

    for size in [16, 24]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization(momentum=0.9)(x)

        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization(momentum=0.9)(x)

        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)

        # Project residual
        residual = layers.Conv2D(size, 1, strides=2, padding="same")(
            previous_block_activation
        )
        x = layers.add([x, residual])  # Add back residual
        previous_block_activation = x  # Set aside next residual

    x = layers.SeparableConv2D(32, 3, padding="same")(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.Activation("relu")(x)

    x = layers.GlobalAveragePooling2D()(x)
    if num_classes == 2:
        units = 1
    else:
        units = num_classes

    x = layers.Dropout(0.25)(x)
    # We specify activation=None so as to return logits
    outputs = layers.Dense(units, activation=None)(x)
    return keras.Model(inputs, outputs)


model = make_model(input_shape=image_size + (3,), num_classes=2)
keras.utils.plot_model(model, show_shapes=True)

epochs = 12

callbacks = [
    keras.callbacks.ModelCheckpoint("save_at_{epoch}.keras"),
]
model.compile(
    optimizer=keras.optimizers.Adam(3e-3),
    loss=keras.losses.BinaryCrossentropy(from_logits=True),
    metrics=[keras.metrics.BinaryAccuracy(name="acc")],
)
history = model.fit(
    train_ds,
    epochs=epochs,
    callbacks=callbacks,
    validation_data=val_ds,
    verbose=0,
)
print(history.history)
assert {f for f in os.listdir(".") if f.startswith("save_at_")} == {f"save_at_{e}.keras" for e in range(1, epochs + 1)}
assert history.history["acc"][-1] > 0.8, history.history
assert history.history["val_acc"][-1] > 0.7, history.history

img = keras.utils.load_img("PetImages/Cat/6.jpg", target_size=image_size)

img_array = keras.utils.img_to_array(img)
img_array = keras.ops.expand_dims(img_array, 0)  # Create batch axis

predictions = model.predict(img_array)
score = float(keras.ops.sigmoid(predictions[0][0]))
print(f"This image is {100 * (1 - score):.2f}% cat and {100 * score:.2f}% dog.")
assert score < 0.5
# and over more files of each class
cats = np.stack([keras.utils.img_to_array(keras.utils.load_img(f"PetImages/Cat/{i}.jpg", target_size=image_size))
                 for i in range(20)])
dogs = np.stack([keras.utils.img_to_array(keras.utils.load_img(f"PetImages/Dog/{i}.jpg", target_size=image_size))
                 for i in range(20)])
right = (model.predict(cats, verbose=0)[:, 0] < 0).sum() + (model.predict(dogs, verbose=0)[:, 0] > 0).sum()
assert right >= 30, right
