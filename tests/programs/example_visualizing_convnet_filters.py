"""keras.io example "Visualizing what convnets learn", imports changed: a feature extractor
keras.Model on a named layer's output (model.get_layer(name=...).output), gradient ascent on the
input image with tf.GradientTape (tape.watch on a plain tensor) to maximize one filter's mean
activation with a border trim, tf.math.l2_normalize of the gradients, the example's
deprocess_image (standardize, clip, uint8) and a grid of filter images stitched with NumPy (not
written to a PNG: that needs Pillow).
ResNet50V2 (ImageNet weights) becomes a small ConvNet trained on synthetic stripes so its
filters have something to respond to; the image size and iteration count are cut."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers

keras.utils.set_random_seed(14)
rng = np.random.default_rng(14)

# The dimensions of our input image
img_width = 24
img_height = 24
layer_name = "conv3_block4_out"

# a small ConvNet that learns horizontal against vertical stripes
def stripes(n):
    y = rng.integers(0, 2, n)
    t = np.arange(img_width)
    waves = np.sin(t * 1.2)
    x = np.where(y[:, None, None] == 0, waves[None, :, None] * np.ones((1, 1, img_width)),
                 waves[None, None, :] * np.ones((1, img_height, 1)))
    x = x[..., None].repeat(3, -1) + rng.normal(0, 0.3, (n, img_height, img_width, 3))
    return x.astype("float32"), y


x_train, y_train = stripes(256)
inputs = keras.Input((img_height, img_width, 3))
h = layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
h = layers.Conv2D(8, 3, activation="relu", name=layer_name)(h)
h = layers.GlobalAveragePooling2D()(h)
outputs = layers.Dense(1, activation="sigmoid")(h)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=6, batch_size=32, verbose=0)
assert model.evaluate(x_train, y_train, verbose=0)[1] > 0.9

# Set up a model that returns the activation values for our target layer
layer = model.get_layer(name=layer_name)
feature_extractor = keras.Model(inputs=model.inputs, outputs=layer.output)
assert tuple(feature_extractor.output.shape) == (None, img_height - 4, img_width - 4, 8)


def compute_loss(input_image, filter_index):
    activation = feature_extractor(input_image)
    # We avoid border artifacts by only involving non-border pixels in the loss.
    filter_activation = activation[:, 2:-2, 2:-2, filter_index]
    return tf.reduce_mean(filter_activation)


@tf.function
def gradient_ascent_step(img, filter_index, learning_rate):
    with tf.GradientTape() as tape:
        tape.watch(img)
        loss = compute_loss(img, filter_index)
    # Compute gradients.
    grads = tape.gradient(loss, img)
    # Normalize gradients.
    grads = tf.math.l2_normalize(grads)
    img += learning_rate * grads
    return loss, img


def initialize_image():
    # We start from a gray image with some random noise
    img = tf.random.uniform((1, img_width, img_height, 3))
    # ResNet50V2 expects inputs in the range [-1, +1].
    # Here we scale our random inputs to [-0.125, +0.125]
    return (img - 0.5) * 0.25


def visualize_filter(filter_index):
    # We run gradient ascent for 20 steps
    iterations = 30
    learning_rate = 10.0
    img = initialize_image()
    losses = []
    for iteration in range(iterations):
        loss, img = gradient_ascent_step(img, filter_index, learning_rate)
        losses.append(float(loss))
    # Decode the resulting input image
    img = deprocess_image(img[0].numpy())
    return losses, img


def deprocess_image(img):
    # Normalize array: center on 0., ensure variance is 0.15
    img -= img.mean()
    img /= img.std() + 1e-5
    img *= 0.15
    # Center crop
    img = img[2:-2, 2:-2, :]
    # Clip to [0, 1]
    img += 0.5
    img = np.clip(img, 0, 1)
    # Convert to RGB array
    img *= 255
    img = np.clip(img, 0, 255).astype("uint8")
    return img


# l2_normalize against NumPy
g = rng.normal(size=(1, 4, 4, 3)).astype("float32")
np.testing.assert_allclose(tf.math.l2_normalize(g).numpy(), g / np.linalg.norm(g), rtol=1e-5)

all_imgs, gains = [], []
for filter_index in range(8):
    losses, img = visualize_filter(filter_index)
    all_imgs.append(img)
    gains.append(losses[-1] - losses[0])
print("activation gains", np.round(gains, 3).tolist())
# a filter that is alive is driven up by the ascent (a dead ReLU filter may stay at zero)
assert sum(gain > 0 for gain in gains) >= 4, gains
assert all(gain >= -1e-6 for gain in gains), gains

# Build a black picture with enough space for our 2 x 4 filters with a 2 px margin in between
margin = 2
n, m = 2, 4
cropped_width = img_width - 4
cropped_height = img_height - 4
width = n * cropped_width + (n - 1) * margin
height = m * cropped_height + (m - 1) * margin
stitched_filters = np.zeros((width, height, 3))
# Fill the picture with our saved filters
for i in range(n):
    for j in range(m):
        img = all_imgs[i * m + j]
        stitched_filters[(cropped_width + margin) * i: (cropped_width + margin) * i + cropped_width,
                         (cropped_height + margin) * j: (cropped_height + margin) * j + cropped_height, :] = img
assert all_imgs[0].shape == (cropped_height, cropped_width, 3) and all_imgs[0].dtype == np.uint8
assert stitched_filters.max() <= 255 and stitched_filters.shape == (width, height, 3)
