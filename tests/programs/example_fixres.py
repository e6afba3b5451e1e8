"""keras.io example "FixRes: Fixing train-test resolution discrepancy" (Sayak Paul), imports
changed only: tf.data pipelines that train on random resized crops at a small resolution and
test on centre crops at a larger one (tf.image.resize, random_crop, central_crop), a model on
inputs of any size ((None, None, 3), Rescaling, a convolutional base with BatchNormalization,
global average pooling), then the FixRes fine-tuning at the test resolution with everything
frozen but the BatchNormalization layers and the classifier. tf_flowers is replaced by small
synthetic images."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(5)

batch_size = 32
auto = tf.data.AUTOTUNE
smaller_size = 16
bigger_size = 24
NUM_CLASSES = 4
FULL = 32


def make_images(n, rng):
    labels = rng.integers(0, NUM_CLASSES, size=n)
    yy, xx = np.mgrid[0:FULL, 0:FULL] / FULL
    images = np.zeros((n, FULL, FULL, 3), "float32")
    for i, c in enumerate(labels):
        f = rng.uniform(3, 4)
        base = [np.sin(f * 2 * np.pi * xx), np.sin(f * 2 * np.pi * yy), np.sin(f * 2 * np.pi * (xx + yy) / 2),
                np.sin(f * 2 * np.pi * np.hypot(xx - 0.5, yy - 0.5))][c]
        images[i] = 127 + 100 * base[..., None] * rng.uniform(0.6, 1.0, size=3) + rng.normal(0, 10, (FULL, FULL, 3))
    return np.clip(images, 0, 255).astype("uint8"), labels.astype("int32")


rng = np.random.default_rng(1)
x_train, y_train = make_images(384, rng)
x_val, y_val = make_images(96, rng)
train_dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train))
validation_dataset = tf.data.Dataset.from_tensor_slices((x_val, y_val))

size_for_resizing = int((bigger_size / smaller_size) * bigger_size)
central_crop_layer = layers.CenterCrop(bigger_size, bigger_size)


def preprocess_initial(train, image_size):
    """Initial preprocessing function for training on smaller resolution.

    For training, do random_horizontal_flip -> random_crop.
    For validation, just resize.
    No color-jittering has been used.
    """

    def _pp(image, label, train):
        if train:
            channels = image.shape[-1]
            begin, size, _ = tf.image.sample_distorted_bounding_box(
                tf.shape(image),
                tf.zeros([0, 0, 4], tf.float32),
                area_range=(0.25, 1.0),
                use_image_if_no_bounding_boxes=True,
            )
            image = tf.slice(image, begin, size)

            image.set_shape([None, None, channels])
            image = tf.image.resize(image, [image_size, image_size])
            image = tf.image.random_flip_left_right(image)
        else:
            image = tf.image.resize(image, [image_size, image_size])

        return image, label

    return _pp


def preprocess_finetune(image, label, train):
    """Preprocessing function for fine-tuning on a higher resolution.

    For training, resize to a bigger resolution to maintain the ratio ->
        random_horizontal_flip -> center_crop.
    For validation, do the same without any horizontal flipping.
    No color-jittering has been used.
    """
    image = tf.image.resize(image, [size_for_resizing, size_for_resizing])
    if train:
        image = tf.image.random_flip_left_right(image)
    image = central_crop_layer(image[None, ...])[0]

    return image, label


def make_dataset(dataset: tf.data.Dataset, train: bool, image_size: int = smaller_size,
                 fixres: bool = True, num_parallel_calls=auto):
    if image_size not in [smaller_size, bigger_size]:
        raise ValueError(f"{image_size} resolution is not supported.")

    # Determine which preprocessing function we are using.
    if image_size == smaller_size:
        preprocess_func = preprocess_initial(train, image_size)
    elif not fixres and image_size == bigger_size:
        preprocess_func = preprocess_initial(train, image_size)
    else:
        preprocess_func = preprocess_finetune

    if train:
        dataset = dataset.shuffle(batch_size * 10)

    return (
        dataset.map(
            lambda x, y: preprocess_func(x, y, train),
            num_parallel_calls=num_parallel_calls,
        )
        .batch(batch_size)
        .prefetch(num_parallel_calls)
    )


initial_train_dataset = make_dataset(train_dataset, train=True, image_size=smaller_size)
initial_val_dataset = make_dataset(validation_dataset, train=False, image_size=smaller_size)

finetune_train_dataset = make_dataset(train_dataset, train=True, image_size=bigger_size)
finetune_val_dataset = make_dataset(validation_dataset, train=False, image_size=bigger_size)

vanilla_train_dataset = make_dataset(train_dataset, train=True, image_size=bigger_size, fixres=False)
vanilla_val_dataset = make_dataset(validation_dataset, train=False, image_size=bigger_size, fixres=False)

for ds, size in [(initial_train_dataset, smaller_size), (finetune_train_dataset, bigger_size),
                 (vanilla_val_dataset, bigger_size)]:
    images, labels = next(iter(ds))
    assert tuple(images.shape) == (batch_size, size, size, 3), (images.shape, size)


def get_training_model(num_classes=NUM_CLASSES):
    inputs = layers.Input((None, None, 3))
    resnet_base = keras.Sequential(
        [
            layers.Conv2D(16, 3, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.GlobalAveragePooling2D(),
        ],
        name="resnet_base",
    )
    x = layers.Rescaling(scale=1.0 / 127.5, offset=-1)(inputs)
    x = resnet_base(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def train_and_evaluate(model, train_ds, val_ds, epochs, learning_rate=1e-3, use_early_stopping=False):
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    if use_early_stopping:
        es_callback = keras.callbacks.EarlyStopping(patience=5)
        callbacks = [es_callback]
    else:
        callbacks = None

    model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=0)

    _, accuracy = model.evaluate(val_ds, verbose=0)
    print(f"Top-1 accuracy on the validation set: {accuracy*100:.2f}%.")
    return model


epochs = 8

smaller_res_model = get_training_model()
smaller_res_model = train_and_evaluate(smaller_res_model, initial_train_dataset, initial_val_dataset, epochs,
                                       learning_rate=3e-3)

# the same model, at the larger resolution, without fine-tuning (the "train-test discrepancy")
_, before = smaller_res_model.evaluate(finetune_val_dataset, verbose=0)
print("at the test resolution before FixRes:", before)

# -- FixRes fine-tuning: freeze everything but BatchNormalization and the classifier ------------
for layer in smaller_res_model.layers[-2].layers:
    if not isinstance(layer, layers.BatchNormalization):
        layer.trainable = False

frozen_conv = [w.copy() for w in smaller_res_model.layers[-2].layers[0].get_weights()]
bn = smaller_res_model.layers[-2].layers[1]
bn_before = [w.copy() for w in bn.get_weights()]
assert len(smaller_res_model.trainable_weights) == 2 + 2 + 2   # two BN (gamma, beta) + Dense
smaller_res_model = train_and_evaluate(smaller_res_model, finetune_train_dataset, finetune_val_dataset, 4,
                                       learning_rate=1e-3)
_, after = smaller_res_model.evaluate(finetune_val_dataset, verbose=0)
print("at the test resolution after FixRes:", after)
assert all(np.array_equal(a, b) for a, b in zip(smaller_res_model.layers[-2].layers[0].get_weights(), frozen_conv))
assert not np.allclose(bn.get_weights()[0], bn_before[0])     # gamma was fine-tuned
assert after >= before - 0.02 and after > 0.6, (before, after)
