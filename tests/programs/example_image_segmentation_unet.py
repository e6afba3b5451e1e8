"""keras-io examples/vision/oxford_pets_image_segmentation (a U-Net-like model: SeparableConv2D
blocks with residual projections down, Conv2DTranspose + UpSampling2D blocks up, per-pixel
softmax, sparse categorical cross-entropy on (N, H, W, 1) masks), imports changed. The Oxford
pets PNGs become synthetic 32x32 pictures of one bright blob on noise whose trimap (1 = object,
2 = background, 3 = border, as the dataset's) is drawn with it; the tf.data pipeline keeps the
example's map (resize, convert_image_dtype, ``target_img -= 1``) over in-memory arrays instead
of files. Filters are a quarter of the example's (8..64 instead of 32..256), 3 epochs, Adam 3e-3,
and BatchNormalization(momentum=0.9): with Keras' 0.99 the moving variances after 72 steps are still
half their initial 1 (the example runs thousands of steps), so inference would see other
statistics than training did."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers
from corenn import data as tf_data
from corenn import image as tf_image

keras.utils.set_random_seed(0)

img_size = (32, 32)
num_classes = 3
batch_size = 8


def synthetic_pets(n, seed):
    """RGB uint8 pictures (n, 40, 40, 3) and trimaps (n, 40, 40, 1) with values 1, 2, 3."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:40, :40]
    images = rng.integers(0, 90, (n, 40, 40, 3))
    trimaps = np.full((n, 40, 40, 1), 2, np.uint8)
    for i in range(n):
        cy, cx, r = rng.integers(12, 28), rng.integers(12, 28), rng.integers(6, 11)
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
        images[i][d < r] += rng.integers(120, 160, 3)
        trimaps[i, d < r - 1.5, 0] = 1
        trimaps[i, (d >= r - 1.5) & (d < r + 1.5), 0] = 3
    return np.clip(images, 0, 255).astype(np.uint8), trimaps


input_imgs, target_imgs = synthetic_pets(224, 1)
print("Number of samples:", len(input_imgs))


def get_dataset(batch_size, img_size, input_imgs, target_imgs, max_dataset_len=None):
    """Returns a TF Dataset."""

    def load_img_masks(input_img, target_img):
        input_img = tf_image.resize(input_img, img_size)
        input_img = tf_image.convert_image_dtype(input_img, "float32") / 255.0

        target_img = tf_image.resize(target_img, img_size, method="nearest")
        target_img = tf_image.convert_image_dtype(target_img, "uint8")

        # Ground truth labels are 1, 2, 3. Subtract one to make them 0, 1, 2:
        target_img -= 1
        return input_img, target_img

    # For faster debugging, limit the size of data
    if max_dataset_len:
        input_imgs = input_imgs[:max_dataset_len]
        target_imgs = target_imgs[:max_dataset_len]
    dataset = tf_data.Dataset.from_tensor_slices((input_imgs, target_imgs))
    dataset = dataset.map(load_img_masks, num_parallel_calls=tf_data.AUTOTUNE)
    return dataset.batch(batch_size)


def get_model(img_size, num_classes):
    inputs = keras.Input(shape=img_size + (3,))

    ### [First half of the network: downsampling inputs] ###

    # Entry block
    x = layers.Conv2D(8, 3, strides=2, padding="same")(inputs)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.Activation("relu")(x)

    previous_block_activation = x  # Set aside residual

    # Blocks 1, 2, 3 are identical apart from the feature depth.
    for filters in [16, 32, 64]:
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization(momentum=0.9)(x)

        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization(momentum=0.9)(x)

        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)

        # Project residual
        residual = layers.Conv2D(filters, 1, strides=2, padding="same")(
            previous_block_activation
        )
        x = layers.add([x, residual])  # Add back residual
        previous_block_activation = x  # Set aside next residual

    ### [Second half of the network: upsampling inputs] ###

    for filters in [64, 32, 16, 8]:
        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization(momentum=0.9)(x)

        x = layers.Activation("relu")(x)
        x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
        x = layers.BatchNormalization(momentum=0.9)(x)

        x = layers.UpSampling2D(2)(x)

        # Project residual
        residual = layers.UpSampling2D(2)(previous_block_activation)
        residual = layers.Conv2D(filters, 1, padding="same")(residual)
        x = layers.add([x, residual])  # Add back residual
        previous_block_activation = x  # Set aside next residual

    # Add a per-pixel classification layer
    outputs = layers.Conv2D(num_classes, 3, activation="softmax", padding="same")(x)

    # Define the model
    model = keras.Model(inputs, outputs)
    return model


# Build model
model = get_model(img_size, num_classes)
model.summary()
assert model.output_shape == (None,) + img_size + (num_classes,)

# Split our img paths into a training and a validation set
val_samples = 32
rng = np.random.default_rng(1337)
order = rng.permutation(len(input_imgs))
input_imgs, target_imgs = input_imgs[order], target_imgs[order]
train_input_imgs = input_imgs[:-val_samples]
train_target_imgs = target_imgs[:-val_samples]
val_input_imgs = input_imgs[-val_samples:]
val_target_imgs = target_imgs[-val_samples:]

# Instantiate dataset for each split
train_dataset = get_dataset(batch_size, img_size, train_input_imgs, train_target_imgs)
valid_dataset = get_dataset(batch_size, img_size, val_input_imgs, val_target_imgs)

for x, y in train_dataset.take(1):
    assert tuple(x.shape) == (batch_size,) + img_size + (3,) and 0.0 <= float(np.min(x)) and float(np.max(x)) <= 1.0
    assert tuple(y.shape) == (batch_size,) + img_size + (1,) and set(np.unique(np.asarray(y))) <= {0, 1, 2}

# Configure the model for training.
# We use the "sparse" version of categorical_crossentropy
# because our target data is integers.
model.compile(
    optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy"
)

callbacks = [
    keras.callbacks.ModelCheckpoint("oxford_segmentation.keras", save_best_only=True)
]

# Train the model, doing validation at the end of each epoch.
epochs = 3
history = model.fit(
    train_dataset,
    epochs=epochs,
    validation_data=valid_dataset,
    callbacks=callbacks,
    verbose=2,
)
print(history.history)
assert history.history["loss"][-1] < 0.7 * history.history["loss"][0], history.history["loss"]

# Generate predictions for all images in the validation set
val_dataset = get_dataset(batch_size, img_size, val_input_imgs, val_target_imgs)
val_preds = model.predict(val_dataset)
assert val_preds.shape == (val_samples,) + img_size + (num_classes,)
np.testing.assert_allclose(val_preds.sum(axis=-1), 1.0, rtol=1e-5)


def display_mask(i):
    """Quick utility to display a model's prediction."""
    mask = np.argmax(val_preds[i], axis=-1)
    mask = np.expand_dims(mask, axis=-1)
    return mask


# the predicted masks find the blobs: per-pixel accuracy well above the background share
truth = np.concatenate([np.asarray(y) for _, y in val_dataset])
pred = np.stack([display_mask(i) for i in range(val_samples)])
accuracy = (pred == truth).mean()
background = (truth == 1).mean()
print(f"pixel accuracy {accuracy:.3f}, background share {background:.3f}")
assert accuracy > background + 0.05, (accuracy, background)

reloaded = keras.models.load_model("oxford_segmentation.keras")
assert reloaded.count_params() == model.count_params()
