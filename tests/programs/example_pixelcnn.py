"""keras.io example "PixelCNN", imports changed: PixelConvLayer (a Conv2D whose kernel is masked
in call: type "A" hides the centre pixel, "B" keeps it, via kernel.assign(kernel * mask)),
ResidualBlock (a custom layer of three convolutions), a functional model trained with
binary cross-entropy, and pixel-by-pixel sampling with tf.random.categorical-style draws.
Synthetic 8x8 binary images of vertical bars stand in for MNIST. Checks: the masked kernel
really is causal (an output pixel does not depend on itself or later pixels), the loss falls,
and sampled images are mostly bars."""
import numpy as np

import corenn as tf
from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
n_residual_blocks = 2
input_shape = (8, 8, 1)
data = np.zeros((256,) + input_shape, "float32")
for img in data:
    img[:, rng.integers(0, 8)] = 1.0


class PixelConvLayer(layers.Layer):
    def __init__(self, mask_type, **kwargs):
        super().__init__()
        self.mask_type = mask_type
        self.conv = layers.Conv2D(**kwargs)

    def build(self, input_shape):
        # Build the conv2d layer to initialize kernel variables
        self.conv.build(input_shape)
        # Use the initialized kernel to create the mask
        kernel_shape = ops.shape(self.conv.kernel)
        self.mask = np.zeros(shape=kernel_shape)
        self.mask[: kernel_shape[0] // 2, ...] = 1.0
        self.mask[kernel_shape[0] // 2, : kernel_shape[1] // 2, ...] = 1.0
        if self.mask_type == "B":
            self.mask[kernel_shape[0] // 2, kernel_shape[1] // 2, ...] = 1.0

    def call(self, inputs):
        self.conv.kernel.assign(self.conv.kernel * self.mask)
        return self.conv(inputs)


class ResidualBlock(layers.Layer):
    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.conv1 = layers.Conv2D(filters=filters, kernel_size=1, activation="relu")
        self.pixel_conv = PixelConvLayer(mask_type="B", filters=filters // 2, kernel_size=3,
                                         activation="relu", padding="same")
        self.conv2 = layers.Conv2D(filters=filters, kernel_size=1, activation="relu")

    def call(self, inputs):
        x = self.conv1(inputs)
        x = self.pixel_conv(x)
        x = self.conv2(x)
        return layers.add([inputs, x])


inputs = keras.Input(shape=input_shape, batch_size=32)
x = PixelConvLayer(mask_type="A", filters=16, kernel_size=5, activation="relu", padding="same")(inputs)
for _ in range(n_residual_blocks):
    x = ResidualBlock(filters=16)(x)
for _ in range(2):
    x = PixelConvLayer(mask_type="B", filters=16, kernel_size=1, strides=1, activation="relu", padding="valid")(x)
out = layers.Conv2D(filters=1, kernel_size=1, strides=1, activation="sigmoid", padding="valid")(x)

pixel_cnn = keras.Model(inputs, out)
adam = keras.optimizers.Adam(learning_rate=0.005)
pixel_cnn.compile(optimizer=adam, loss="binary_crossentropy")
history = pixel_cnn.fit(x=data, y=data, batch_size=32, epochs=8, validation_split=0.1, verbose=0)
print("loss", [round(v, 3) for v in history.history["loss"]])
assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]

# causality: changing pixel (r, c) and every later one never changes the prediction at (r, c)
probe = data[:4].copy()
base = pixel_cnn.predict(probe, verbose=0)
for r, c in [(0, 0), (3, 4), (7, 7)]:
    changed = probe.copy()
    flat = changed.reshape(4, -1)
    flat[:, r * 8 + c:] = 1.0 - flat[:, r * 8 + c:]
    after = pixel_cnn.predict(changed, verbose=0)
    np.testing.assert_allclose(after[:, r, c], base[:, r, c], rtol=1e-5, atol=1e-6)

# Create an empty array of pixels.
batch = 16
pixels = np.zeros(shape=(batch,) + (pixel_cnn.input_shape)[1:], dtype="float32")
batch, rows, cols, channels = pixels.shape

# Iterate over the pixels because generation has to be done sequentially pixel by pixel.
for row in range(rows):
    for col in range(cols):
        for channel in range(channels):
            # Feed the whole array and retrieving the pixel value probabilities for the next
            # pixel.
            probs = pixel_cnn.predict(pixels, verbose=0)[:, row, col, channel]
            # Use the probabilities to pick pixel values and append the values to the image
            # frame.
            pixels[:, row, col, channel] = ops.ceil(
                probs - keras.random.uniform(probs.shape)
            )
bars = np.mean([np.all(img[..., 0] == img[0:1, :, 0]) and img[..., 0].sum() == 8 for img in pixels])
print("sampled images that are one vertical bar:", bars)
assert bars >= 0.3   # a random 8x8 binary image is a bar with probability ~1e-17
