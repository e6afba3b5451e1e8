"""TF tutorial "Custom layers" (customization/custom_layers), imports changed: a Dense layer built
by its first call (layer.variables, layer.kernel / layer.bias), MyDenseLayer written with build /
add_weight / call (tf.matmul), a ResnetIdentityBlock written as a tf.keras.Model subclass
(Conv2D, BatchNormalization called with training=, tf.nn.relu, `x += input_tensor`), its layers,
variables and summary, and the same stack as a Sequential. Checks: the shapes and counts the
tutorial prints, each layer against NumPy, the block against its layers applied by hand, and a
short fit of the block that lowers its loss."""
import numpy as np

import corenn as tf

print(tf.config.list_physical_devices('GPU'))

# In the tf.keras.layers package, layers are objects. To construct a layer,
# simply construct the object. Most layers take as a first argument the number
# of output dimensions / channels.
layer = tf.keras.layers.Dense(100)
# The number of input dimensions is often unnecessary, as it can be inferred
# the first time the layer is used, but it can be provided if you want to
# specify it manually, which is useful in some complex models.
layer = tf.keras.layers.Dense(10)

# To use a layer, simply call it.
out = layer(tf.zeros([10, 5]))
assert out.shape == (10, 10)

# Layers have many useful methods. For example, you can inspect all variables
# in a layer using `layer.variables` and trainable variables using
# `layer.trainable_variables`. In this case a fully-connected layer
# will have variables for weights and biases.
print(layer.variables)
assert [tuple(v.shape) for v in layer.variables] == [(5, 10), (10,)]
# The variables are also accessible through nice accessors
print(layer.kernel, layer.bias)
x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
np.testing.assert_allclose(layer(x).numpy(), x @ layer.kernel.numpy() + layer.bias.numpy(), rtol=1e-5, atol=1e-6)


class MyDenseLayer(tf.keras.layers.Layer):
  def __init__(self, num_outputs):
    super(MyDenseLayer, self).__init__()
    self.num_outputs = num_outputs

  def build(self, input_shape):
    self.kernel = self.add_weight(shape=[int(input_shape[-1]),
                                         self.num_outputs], name="kernel")

  def call(self, inputs):
    return tf.matmul(inputs, self.kernel)


layer = MyDenseLayer(10)
_ = layer(tf.zeros([10, 5]))  # Calling the layer `.builds` it.
print([var.name for var in layer.trainable_variables])
assert [var.name for var in layer.trainable_variables] == ["kernel"]
assert layer.trainable_variables[0].shape == (5, 10)
np.testing.assert_allclose(layer(x).numpy(), x @ layer.kernel.numpy(), rtol=1e-5, atol=1e-6)


class ResnetIdentityBlock(tf.keras.Model):
  def __init__(self, kernel_size, filters):
    super(ResnetIdentityBlock, self).__init__(name='')
    filters1, filters2, filters3 = filters

    self.conv2a = tf.keras.layers.Conv2D(filters1, (1, 1))
    self.bn2a = tf.keras.layers.BatchNormalization()

    self.conv2b = tf.keras.layers.Conv2D(filters2, kernel_size, padding='same')
    self.bn2b = tf.keras.layers.BatchNormalization()

    self.conv2c = tf.keras.layers.Conv2D(filters3, (1, 1))
    self.bn2c = tf.keras.layers.BatchNormalization()

  def call(self, input_tensor, training=False):
    x = self.conv2a(input_tensor)
    x = self.bn2a(x, training=training)
    x = tf.nn.relu(x)

    x = self.conv2b(x)
    x = self.bn2b(x, training=training)
    x = tf.nn.relu(x)

    x = self.conv2c(x)
    x = self.bn2c(x, training=training)

    x += input_tensor
    return tf.nn.relu(x)


block = ResnetIdentityBlock(1, [1, 2, 3])
_ = block(tf.zeros([1, 2, 3, 3]))
print(block.layers)
print(len(block.variables))
block.summary()
assert len(block.layers) == 6 and len(block.variables) == 18
assert len(block.trainable_variables) == 12

# the block against its layers applied by hand (inference: the moving statistics)
img = np.random.default_rng(1).normal(size=(2, 4, 5, 3)).astype("float32")


def bn(layer, h):
  gamma, beta, mean, var = [w for w in layer.get_weights()]
  return gamma * (h - mean) / np.sqrt(var + layer.epsilon) + beta


def conv1x1(layer, h):
  w, b = layer.get_weights()
  return h @ w[0, 0] + b


h = np.maximum(bn(block.bn2a, conv1x1(block.conv2a, img)), 0)
h = np.maximum(bn(block.bn2b, conv1x1(block.conv2b, h)), 0)   # kernel_size 1
h = bn(block.bn2c, conv1x1(block.conv2c, h))
np.testing.assert_allclose(block(img).numpy(), np.maximum(h + img, 0), rtol=1e-4, atol=1e-5)

my_seq = tf.keras.Sequential([tf.keras.layers.Conv2D(1, (1, 1),
                                                    input_shape=(
                                                        None, None, 3)),
                             tf.keras.layers.BatchNormalization(),
                             tf.keras.layers.Conv2D(2, 1,
                                                    padding='same'),
                             tf.keras.layers.BatchNormalization(),
                             tf.keras.layers.Conv2D(3, (1, 1)),
                             tf.keras.layers.BatchNormalization()])
out = my_seq(tf.zeros([1, 2, 3, 3]))
my_seq.summary()
assert out.shape == (1, 2, 3, 3) and my_seq.count_params() == (4 + 4) + (4 + 8) + (9 + 12)

# the block trains: fit it to map noisy images to relu(2 * image)
target = np.maximum(2 * img.repeat(16, axis=0), 0)
inputs = img.repeat(16, axis=0) + np.random.default_rng(2).normal(0, 0.05, (32, 4, 5, 3)).astype("float32")
block.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
history = block.fit(inputs, target, epochs=30, batch_size=8, verbose=0)
print("loss:", history.history["loss"][0], "->", history.history["loss"][-1])
assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
