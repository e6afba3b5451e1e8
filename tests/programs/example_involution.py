"""keras-io examples/vision/involution (Involutional neural networks), imports changed only
(`import tensorflow as tf`, `from tensorflow import keras` -> corenn). CIFAR-10 is replaced by
small synthetic 16x16 RGB images of 4 classes; the plots are left out."""
import numpy as np
import corenn as tf
from corenn import keras

# Set seed for reproducibility.
tf.random.set_seed(42)


class Involution(keras.layers.Layer):
    def __init__(
        self, channel, group_number, kernel_size, stride, reduction_ratio, name
    ):
        super().__init__(name=name)

        # Initialize the parameters.
        self.channel = channel
        self.group_number = group_number
        self.kernel_size = kernel_size
        self.stride = stride
        self.reduction_ratio = reduction_ratio

    def build(self, input_shape):
        # Get the shape of the input.
        (_, height, width, num_channels) = input_shape

        # Scale the height and width with respect to the strides.
        height = height // self.stride
        width = width // self.stride

        # Define a layer that average pools the input tensor
        # if stride is more than 1.
        self.stride_layer = (
            keras.layers.AveragePooling2D(
                pool_size=self.stride, strides=self.stride, padding="same"
            )
            if self.stride > 1
            else tf.identity
        )
        # Define the kernel generation layer.
        self.kernel_gen = keras.Sequential(
            [
                keras.layers.Conv2D(
                    filters=self.channel // self.reduction_ratio, kernel_size=1
                ),
                keras.layers.BatchNormalization(),
                keras.layers.ReLU(),
                keras.layers.Conv2D(
                    filters=self.kernel_size * self.kernel_size * self.group_number,
                    kernel_size=1,
                ),
            ]
        )
        # Define reshape layers
        self.kernel_reshape = keras.layers.Reshape(
            target_shape=(
                height,
                width,
                self.kernel_size * self.kernel_size,
                1,
                self.group_number,
            )
        )
        self.input_patches_reshape = keras.layers.Reshape(
            target_shape=(
                height,
                width,
                self.kernel_size * self.kernel_size,
                num_channels // self.group_number,
                self.group_number,
            )
        )
        self.output_reshape = keras.layers.Reshape(
            target_shape=(height, width, num_channels)
        )

    def call(self, x):
        # Generate the kernel with respect to the input tensor.
        # B, H, W, K*K*G
        kernel_input = self.stride_layer(x)
        kernel = self.kernel_gen(kernel_input)

        # reshape the kerenl
        # B, H, W, K*K, 1, G
        kernel = self.kernel_reshape(kernel)

        # Extract input patches.
        # B, H, W, K*K*C
        input_patches = tf.image.extract_patches(
            images=x,
            sizes=[1, self.kernel_size, self.kernel_size, 1],
            strides=[1, self.stride, self.stride, 1],
            rates=[1, 1, 1, 1],
            padding="SAME",
        )

        # Reshape the input patches to align with later operations.
        # B, H, W, K*K, C//G, G
        input_patches = self.input_patches_reshape(input_patches)

        # Compute the multiply-add operation of kernels and patches.
        # B, H, W, K*K, C//G, G
        output = tf.multiply(kernel, input_patches)
        # B, H, W, C//G, G
        output = tf.reduce_sum(output, axis=3)

        # Reshape the output kernel.
        # B, H, W, C
        output = self.output_reshape(output)

        # Return the output tensor and the kernel.
        return output, kernel


# Define the input tensor.
input_tensor = tf.random.normal((4, 32, 32, 3))

# Compute involution with stride 1.
output_tensor, _ = Involution(
    channel=3, group_number=1, kernel_size=5, stride=1, reduction_ratio=1, name="inv_1"
)(input_tensor)
print(f"with stride 1 ouput shape: {output_tensor.shape}")
assert tuple(output_tensor.shape) == (4, 32, 32, 3)

# Compute involution with stride 2.
output_tensor, _ = Involution(
    channel=3, group_number=1, kernel_size=5, stride=2, reduction_ratio=1, name="inv_2"
)(input_tensor)
print(f"with stride 2 ouput shape: {output_tensor.shape}")
assert tuple(output_tensor.shape) == (4, 16, 16, 3)

# Compute involution with stride 1, channel 16 and reduction ratio 2.
output_tensor, kernel = Involution(
    channel=16, group_number=1, kernel_size=5, stride=1, reduction_ratio=2, name="inv_3"
)(input_tensor)
print(
    "with channel 16 and reduction ratio 2 ouput shape: {}".format(output_tensor.shape)
)
assert tuple(output_tensor.shape) == (4, 32, 32, 3) and tuple(kernel.shape) == (4, 32, 32, 25, 1, 1)

# synthetic stand-in for CIFAR-10: 4 classes, a bright bar in the top or bottom half, red or blue
rng = np.random.default_rng(3)


def make_images(n):
    y = rng.integers(0, 4, n)
    x = rng.uniform(0, 90, (n, 16, 16, 3))
    for i, label in enumerate(y):
        half, colour = divmod(int(label), 2)
        x[i, 8 * half + 2: 8 * half + 6, 2:14, 2 * colour] += 150
    return x.astype("uint8"), y.reshape(-1, 1)


(train_images, train_labels), (test_images, test_labels) = make_images(512), make_images(128)

# Normalize pixel values to be between 0 and 1.
(train_images, test_images) = (train_images / 255.0, test_images / 255.0)

# Shuffle and batch the dataset.
train_ds = (
    tf.data.Dataset.from_tensor_slices((train_images, train_labels))
    .shuffle(256)
    .batch(64)
)
test_ds = tf.data.Dataset.from_tensor_slices((test_images, test_labels)).batch(64)

# Build the conv model.
print("building the convolution model...")
conv_model = keras.Sequential(
    [
        keras.layers.Conv2D(8, (3, 3), input_shape=(16, 16, 3), padding="same"),
        keras.layers.ReLU(name="relu1"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Conv2D(16, (3, 3), padding="same"),
        keras.layers.ReLU(name="relu2"),
        keras.layers.MaxPooling2D((2, 2)),
        keras.layers.Conv2D(16, (3, 3), padding="same"),
        keras.layers.ReLU(name="relu3"),
        keras.layers.Flatten(),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.Dense(4),
    ]
)

conv_model.compile(
    optimizer="adam",
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
conv_hist = conv_model.fit(train_ds, epochs=4, validation_data=test_ds, verbose=0)
print("conv", conv_hist.history["val_accuracy"])
assert conv_hist.history["val_accuracy"][-1] > 0.7

# Build the involution model.
inputs = keras.Input(shape=(16, 16, 3))
x, _ = Involution(
    channel=3, group_number=1, kernel_size=3, stride=1, reduction_ratio=2, name="inv_1"
)(inputs)
x = keras.layers.ReLU()(x)
x = keras.layers.MaxPooling2D((2, 2))(x)
x, _ = Involution(
    channel=3, group_number=1, kernel_size=3, stride=1, reduction_ratio=2, name="inv_2"
)(x)
x = keras.layers.ReLU()(x)
x = keras.layers.MaxPooling2D((2, 2))(x)
x, _ = Involution(
    channel=3, group_number=1, kernel_size=3, stride=1, reduction_ratio=2, name="inv_3"
)(x)
x = keras.layers.ReLU()(x)
x = keras.layers.Flatten()(x)
x = keras.layers.Dense(32, activation="relu")(x)
outputs = keras.layers.Dense(4)(x)

inv_model = keras.Model(inputs=[inputs], outputs=[outputs], name="inv_model")
inv_model.compile(
    optimizer="adam",
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
inv_hist = inv_model.fit(train_ds, epochs=6, validation_data=test_ds, verbose=0)
print("inv", inv_hist.history["loss"], inv_hist.history["val_accuracy"])
assert inv_hist.history["loss"][-1] < inv_hist.history["loss"][0]
# the kernel generator's BatchNormalization trains in training mode inside the Involution call
# (Keras 3's call context; corenn ran it in inference mode before sweep 26), so after 6 short
# epochs its moving statistics (momentum 0.99) are still near their initial values and the
# validation accuracy, computed with them, is not yet meaningful: the training accuracy is checked
assert inv_hist.history["accuracy"][-1] > 0.5, inv_hist.history["accuracy"]

# far fewer parameters than the convolutional model
conv_model.summary()
inv_model.summary()
assert inv_model.count_params() < conv_model.count_params()

# Visualizing Involution Kernels: a model whose outputs are the involution layers' (output, kernel)
layer_names = ["inv_1", "inv_2", "inv_3"]
outputs = [inv_model.get_layer(name).output for name in layer_names]
vis_model = keras.Model(inv_model.input, outputs)

for test_image in test_images[:2]:
    (inv1_out, inv2_out, inv3_out) = vis_model.predict(test_image[None, ...])

    _, inv1_kernel = inv1_out
    _, inv2_kernel = inv2_out
    _, inv3_kernel = inv3_out

    inv1_kernel = tf.reduce_sum(inv1_kernel, axis=[-1, -2, -3])
    inv2_kernel = tf.reduce_sum(inv2_kernel, axis=[-1, -2, -3])
    inv3_kernel = tf.reduce_sum(inv3_kernel, axis=[-1, -2, -3])
    assert tuple(inv1_kernel.shape) == (1, 16, 16) and tuple(inv3_kernel.shape) == (1, 4, 4)

    image = keras.preprocessing.image.array_to_img(test_image)
    assert image.size == (16, 16)
    kernel_image = keras.preprocessing.image.array_to_img(inv1_kernel[0, ..., None])
    assert kernel_image.size == (16, 16)
