"""TensorFlow guide "Introduction to modules, layers, and models" (guide/intro_to_modules),
imports changed: tf.Module with trainable and frozen variables, Dense / Sequential modules,
a module that creates its variables on first call, Keras layers holding tf.Variables (made in
__init__ or in build), a Keras model of them, and the functional form. TensorFlow checkpoints
and SavedModel (tf.train.Checkpoint, tf.saved_model) are TensorFlow's file formats and are not
ported; the Keras weights file is used instead."""
import numpy as np

import corenn as tf

tf.random.set_seed(0)


class SimpleModule(tf.Module):
  def __init__(self, name=None):
    super().__init__(name=name)
    self.a_variable = tf.Variable(5.0, name="train_me")
    self.non_trainable_variable = tf.Variable(5.0, trainable=False, name="do_not_train_me")

  def __call__(self, x):
    return self.a_variable * x + self.non_trainable_variable


simple_module = SimpleModule(name="simple")

assert simple_module(tf.constant(5.0)).numpy() == 30.0

# All trainable variables
print("trainable variables:", simple_module.trainable_variables)
# Every variable
print("all variables:", simple_module.variables)
assert [v.name for v in simple_module.trainable_variables] == ["train_me:0"]
assert sorted(v.name for v in simple_module.variables) == ["do_not_train_me:0", "train_me:0"]


class Dense(tf.Module):
  def __init__(self, in_features, out_features, name=None):
    super().__init__(name=name)
    self.w = tf.Variable(
      tf.random.normal([in_features, out_features]), name='w')
    self.b = tf.Variable(tf.zeros([out_features]), name='b')

  def __call__(self, x):
    y = tf.matmul(x, self.w) + self.b
    return tf.nn.relu(y)


class SequentialModule(tf.Module):
  def __init__(self, name=None):
    super().__init__(name=name)

    self.dense_1 = Dense(in_features=3, out_features=3)
    self.dense_2 = Dense(in_features=3, out_features=2)

  def __call__(self, x):
    x = self.dense_1(x)
    return self.dense_2(x)


# You have made a model!
my_model = SequentialModule(name="the_model")

# Call it, with random results
result = my_model(tf.constant([[2.0, 2.0, 2.0]]))
print("Model results:", result)
x = np.array([[2.0, 2.0, 2.0]])
h = np.maximum(x @ np.asarray(my_model.dense_1.w, np.float64) + np.asarray(my_model.dense_1.b), 0)
want = np.maximum(h @ np.asarray(my_model.dense_2.w, np.float64) + np.asarray(my_model.dense_2.b), 0)
np.testing.assert_allclose(result.numpy(), want, rtol=1e-5, atol=1e-6)

print("Submodules:", my_model.submodules)
assert len(my_model.submodules) == 2

for var in my_model.variables:
  print(var, "\n")
assert len(my_model.variables) == 4


class FlexibleDenseModule(tf.Module):
  # Note: No need for `in_features`
  def __init__(self, out_features, name=None):
    super().__init__(name=name)
    self.is_built = False
    self.out_features = out_features

  def __call__(self, x):
    # Create variables on first call.
    if not self.is_built:
      self.w = tf.Variable(
        tf.random.normal([x.shape[-1], self.out_features]), name='w')
      self.b = tf.Variable(tf.zeros([self.out_features]), name='b')
      self.is_built = True

    y = tf.matmul(x, self.w) + self.b
    return tf.nn.relu(y)


# Used in a module
class MySequentialModule(tf.Module):
  def __init__(self, name=None):
    super().__init__(name=name)

    self.dense_1 = FlexibleDenseModule(out_features=3)
    self.dense_2 = FlexibleDenseModule(out_features=2)

  def __call__(self, x):
    x = self.dense_1(x)
    return self.dense_2(x)


my_model = MySequentialModule(name="the_model")
assert len(my_model.variables) == 0
print("Model results:", my_model(tf.constant([[2.0, 2.0, 2.0]])))
assert len(my_model.variables) == 4

# a training step over a module's trainable variables
with tf.GradientTape() as tape:
  loss = tf.reduce_sum(my_model(tf.constant([[2.0, 2.0, 2.0]])) ** 2)
grads = tape.gradient(loss, my_model.trainable_variables)
assert len(grads) == 4 and all(g is not None for g in grads)


# -- Keras layers ----------------------------------------------------------------------------------
class MyDense(tf.keras.layers.Layer):
  # Adding **kwargs to support base Keras layer arguments
  def __init__(self, in_features, out_features, **kwargs):
    super().__init__(**kwargs)

    # This will soon move to the build step; see below
    self.w = tf.Variable(
      tf.random.normal([in_features, out_features]), name='w')
    self.b = tf.Variable(tf.zeros([out_features]), name='b')

  def call(self, x):
    y = tf.matmul(x, self.w) + self.b
    return tf.nn.relu(y)


simple_layer = MyDense(name="simple", in_features=3, out_features=3)
out = simple_layer([[2.0, 2.0, 2.0]])
assert tuple(out.shape) == (1, 3)
assert [v.name for v in simple_layer.trainable_weights] == ["w:0", "b:0"]


class FlexibleDense(tf.keras.layers.Layer):
  # Note the added `**kwargs`, as Keras supports many arguments
  def __init__(self, out_features, **kwargs):
    super().__init__(**kwargs)
    self.out_features = out_features

  def build(self, input_shape):  # Create the state of the layer (weights)
    self.w = tf.Variable(
      tf.random.normal([input_shape[-1], self.out_features]), name='w')
    self.b = tf.Variable(tf.zeros([self.out_features]), name='b')

  def call(self, inputs):  # Defines the computation from inputs to outputs
    return tf.matmul(inputs, self.w) + self.b


# Create the instance of the layer
flexible_dense = FlexibleDense(out_features=3)
assert flexible_dense.variables == []
# Call it, with predictably random results
print("Model results:", flexible_dense(tf.constant([[2.0, 2.0, 2.0], [3.0, 3.0, 3.0]])))
assert len(flexible_dense.variables) == 2


class MySequentialModel(tf.keras.Model):
  def __init__(self, name=None, **kwargs):
    super().__init__(**kwargs)

    self.dense_1 = FlexibleDense(out_features=3)
    self.dense_2 = FlexibleDense(out_features=2)

  def call(self, x):
    x = self.dense_1(x)
    return self.dense_2(x)


# You have made a Keras model!
my_sequential_model = MySequentialModel(name="the_model")

# Call it on a tensor, with random results
print("Model results:", my_sequential_model(tf.constant([[2.0, 2.0, 2.0]])))
assert len(my_sequential_model.variables) == 4
print(my_sequential_model.submodules)

# trains with fit: the variables made in build are the model's weights
x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
y = x @ np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]], np.float32)
my_sequential_model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss="mse")
history = my_sequential_model.fit(x, y, epochs=60, batch_size=32, verbose=0)
assert history.history["loss"][-1] < 0.05 * history.history["loss"][0], history.history["loss"]

inputs = tf.keras.Input(shape=[3,])

x = FlexibleDense(3)(inputs)
x = FlexibleDense(2)(x)

my_functional_model = tf.keras.Model(inputs=inputs, outputs=x)

my_functional_model.summary()
assert tuple(my_functional_model(tf.constant([[2.0, 2.0, 2.0]])).shape) == (1, 2)
assert my_functional_model.count_params() == 3 * 3 + 3 + 3 * 2 + 2

my_functional_model.save_weights("functional.weights.npz")   # not ported: tf.saved_model.save
before = my_functional_model.predict(np.ones((1, 3), "float32"), verbose=0)
for v in my_functional_model.trainable_variables:
  v.assign(np.zeros(v.shape, "float32"))
my_functional_model.load_weights("functional.weights.npz")
np.testing.assert_allclose(my_functional_model.predict(np.ones((1, 3), "float32"), verbose=0), before)
