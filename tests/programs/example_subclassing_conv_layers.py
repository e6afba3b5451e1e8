"""keras-io examples/keras_recipes/subclassing_conv_layers (customizing the convolution of a
Conv2D subclass: weight standardization), imports changed only (`import keras`, `from keras import
layers, ops` -> corenn). MNIST is replaced by synthetic 28x28 digits-like images of 10 classes.
Both ways the example shows run as written: a subclass overriding `call` (its own computation,
bias added by hand, no activation) and one overriding Keras 3's `convolution_op` hook (the layer's
bias and activation kept). The standardized kernels are checked against NumPy."""
import numpy as np
from corenn import keras
from corenn.keras import layers, ops

keras.utils.set_random_seed(6)
rng = np.random.default_rng(6)


class StandardizedConv2DWithOverride(layers.Conv2D):
    def convolution_op(self, inputs, kernel):
        mean, var = ops.moments(kernel, axes=[0, 1, 2], keepdims=True)
        return ops.conv(
            inputs,
            (kernel - mean) / ops.sqrt(var + 1e-10),
            padding="valid",
            strides=list(self.strides),
            dilation_rate=list(self.dilation_rate),
        )


class StandardizedConv2DWithCall(layers.Conv2D):
    def call(self, inputs):
        mean, var = ops.moments(self.kernel, axes=[0, 1, 2], keepdims=True)
        result = ops.conv(
            inputs,
            (self.kernel - mean) / ops.sqrt(var + 1e-10),
            padding="valid",
            strides=list(self.strides),
            dilation_rate=list(self.dilation_rate),
        )
        if self.use_bias:
            result = result + self.bias
        return result


# Model / data parameters
num_classes = 10
input_shape = (28, 28, 1)


def make(n):
    y = rng.integers(0, num_classes, n)
    x = rng.random((n, 28, 28)) * 0.3
    for i, c in enumerate(y):
        r, col = divmod(int(c), 5)
        x[i, 4 + 12 * r: 12 + 12 * r, 2 + 5 * col: 6 + 5 * col] += 0.7
    return x.astype("float32"), y


(x_train, y_train), (x_test, y_test) = make(1000), make(200)

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 1.0
x_test = x_test.astype("float32") / 1.0
# Make sure images have shape (28, 28, 1)
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)

# convert class vectors to binary class matrices
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

# each subclass computes what it says: the standardized kernel, bias added, the activation only
# where the layer applies it (convolution_op keeps it, a call of one's own does not)
probe = rng.normal(size=(2, 8, 8, 1)).astype("float32")
for cls, activated in ((StandardizedConv2DWithCall, False), (StandardizedConv2DWithOverride, True)):
    conv = cls(4, kernel_size=(3, 3), activation="relu", bias_initializer="random_normal")
    got = np.asarray(conv(probe))
    k, b = (w.astype("float64") for w in conv.get_weights())
    ks = (k - k.mean(axis=(0, 1, 2), keepdims=True)) / np.sqrt(k.var(axis=(0, 1, 2), keepdims=True) + 1e-10)
    windows = np.lib.stride_tricks.sliding_window_view(probe.astype("float64"), (3, 3), axis=(1, 2))
    want = np.einsum("nhwcij,ijcf->nhwf", windows, ks) + b
    np.testing.assert_allclose(got, np.maximum(want, 0) if activated else want, rtol=1e-4, atol=1e-4)

model = keras.Sequential(
    [
        keras.layers.Input(shape=input_shape),
        StandardizedConv2DWithCall(16, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        StandardizedConv2DWithOverride(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)

model.summary()

batch_size = 64
epochs = 3

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1, verbose=0)
print({k: [round(v, 3) for v in vs] for k, vs in history.history.items()})
score = model.evaluate(x_test, y_test, verbose=0)
print("Test accuracy:", score[1])
assert history.history["loss"][-1] < history.history["loss"][0]
assert score[1] > 0.9, score
