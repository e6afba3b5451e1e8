"""keras.io example "Learning to Resize in Computer Vision", imports changed: a learnable resizer
model on `Input(shape=[None, None, 3])` (a naive bilinear `Resizing` branch plus convolutions, a
`Resizing` bottleneck and residual blocks, one `LeakyReLU(0.2)` instance shared by every
`conv_block` call through a default argument) put in front of a `DenseNet121(weights=None,
classes=2)` backbone, trained with label-smoothed categorical cross-entropy; then the resizer's
output is inspected on its own. cats_vs_dogs is replaced by 48x48 synthetic images of two
classes (bright stripe horizontal / vertical), resized to 32x32; one epoch of a few steps."""
import numpy as np

from corenn import keras
from corenn.keras import layers
import corenn as tf

keras.utils.set_random_seed(10)
rng = np.random.default_rng(10)

# Define hyperparameters.
INP_SIZE = (48, 48)
TARGET_SIZE = (32, 32)
INTERPOLATION = "bilinear"

AUTO = tf.data.AUTOTUNE
BATCH_SIZE = 16
EPOCHS = 2


def make_images(n):
    y = rng.integers(0, 2, n)
    x = rng.uniform(0, 80, (n, 48, 48, 3)).astype("float32")
    for img, label in zip(x, y):
        k = rng.integers(8, 40)
        if label:
            img[k - 3:k + 3, :, :] += 150
        else:
            img[:, k - 3:k + 3, :] += 150
    return x, y


train_images, train_labels = make_images(96)
val_images, val_labels = make_images(32)


def preprocess_dataset(image, label):
    image = tf.image.resize(image, (INP_SIZE[0], INP_SIZE[1]))
    label = tf.one_hot(label, depth=2)
    return (image, label)


train_ds = (tf.data.Dataset.from_tensor_slices((train_images, train_labels)).shuffle(BATCH_SIZE * 100)
            .map(preprocess_dataset, num_parallel_calls=AUTO).batch(BATCH_SIZE).prefetch(AUTO))
validation_ds = (tf.data.Dataset.from_tensor_slices((val_images, val_labels))
                 .map(preprocess_dataset, num_parallel_calls=AUTO).batch(BATCH_SIZE).prefetch(AUTO))


def conv_block(x, filters, kernel_size, strides, activation=layers.LeakyReLU(0.2)):
    x = layers.Conv2D(filters, kernel_size, strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    if activation:
        x = activation(x)
    return x


def res_block(x):
    inputs = x
    x = conv_block(x, 16, 3, 1)
    x = conv_block(x, 16, 3, 1, activation=None)
    return layers.Add()([inputs, x])


def get_learnable_resizer(filters=16, num_res_blocks=1, interpolation=INTERPOLATION):
    inputs = layers.Input(shape=[None, None, 3])

    # First, perform naive resizing.
    naive_resize = layers.Resizing(*TARGET_SIZE, interpolation=interpolation)(inputs)

    # First convolution block without batch normalization.
    x = layers.Conv2D(filters=filters, kernel_size=7, strides=1, padding="same")(inputs)
    x = layers.LeakyReLU(0.2)(x)

    # Second convolution block with batch normalization.
    x = layers.Conv2D(filters=filters, kernel_size=1, strides=1, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.BatchNormalization()(x)

    # Intermediate resizing as a bottleneck.
    bottleneck = layers.Resizing(*TARGET_SIZE, interpolation=interpolation)(x)

    # Residual passes.
    for _ in range(num_res_blocks):
        x = res_block(bottleneck)

    # Projection.
    x = layers.Conv2D(filters=filters, kernel_size=3, strides=1, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)

    # Skip connection.
    x = layers.Add()([bottleneck, x])

    # Final resized image.
    x = layers.Conv2D(filters=3, kernel_size=7, strides=1, padding="same")(x)
    final_resize = layers.Add()([naive_resize, x])

    return keras.Model(inputs, final_resize, name="learnable_resizer")


learnable_resizer = get_learnable_resizer()

sample_images, sample_labels = next(iter(train_ds))
print(sample_images.shape, sample_labels.shape)
resized = learnable_resizer(sample_images[:4], training=False)
assert tuple(resized.shape) == (4, TARGET_SIZE[0], TARGET_SIZE[1], 3)
# the resizer takes any input size: its first layers see (None, None, 3)
assert tuple(learnable_resizer(np.zeros((1, 40, 52, 3), "float32")).shape) == (1, 32, 32, 3)


def get_model():
    backbone = keras.applications.DenseNet121(weights=None, include_top=True, classes=2,
                                              input_shape=((TARGET_SIZE[0], TARGET_SIZE[1], 3)))
    backbone.trainable = True

    inputs = layers.Input((INP_SIZE[0], INP_SIZE[1], 3))
    x = layers.Rescaling(scale=1.0 / 255)(inputs)
    x = learnable_resizer(x)
    outputs = backbone(x)

    return keras.Model(inputs, outputs)


model = get_model()
model.compile(loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1), optimizer="sgd", metrics=["accuracy"])
history = model.fit(train_ds, validation_data=validation_ds, epochs=EPOCHS, verbose=0)
print(history.history)
assert all(np.isfinite(history.history["loss"]))
assert history.history["loss"][-1] < history.history["loss"][0], history.history["loss"]

# the shared LeakyReLU: one layer object, called once per conv block of the residual path
shared = [l for l in learnable_resizer.layers if isinstance(l, layers.LeakyReLU)]
assert len(shared) == 3, shared   # two of the stem, one shared by the res blocks' conv_block calls
x = rng.normal(size=(2, 5)).astype("float32")
np.testing.assert_allclose(np.asarray(shared[-1](x)), np.where(x > 0, x, 0.2 * x), rtol=1e-6)
# trained end to end: the resizer's weights are the model's
assert len(learnable_resizer.trainable_weights) > 0
assert all(any(w is v for v in model.trainable_weights) for w in learnable_resizer.trainable_weights)

# Visualize the resized images next to the naive resizing (arrays only here)
for i, image in enumerate(sample_images[:2]):
    image = image / 255
    resized_image = learnable_resizer(image[None, ...])
    naive = tf.image.resize(image, TARGET_SIZE)
    assert tuple(resized_image.shape) == (1, 32, 32, 3) and tuple(naive.shape) == (32, 32, 3)
