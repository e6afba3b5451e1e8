"""TensorFlow guide "Better performance with tf.function" (guide/function), imports changed:
decorating Python functions and methods, polymorphism and retracing on new shapes and Python
arguments, input_signature with tf.TensorSpec, get_concrete_function, Python side effects run at
trace time only, tf.print, tf.Variable created once, and a tf.function training step."""
import numpy as np
import corenn as tf

@tf.function
def add(a, b):
  return a + b
np.testing.assert_array_equal(np.asarray(add(tf.ones([2, 2]), tf.ones([2, 2]))), np.full((2, 2), 2.0))
v = tf.Variable(1.0)
with tf.GradientTape() as tape:
  result = add(v, 1.0)
assert float(tape.gradient(result, v)) == 1.0

@tf.function
def dense_layer(x, w, b):
  return add(tf.matmul(x, w), b)
print(dense_layer(tf.ones([3, 2]), tf.ones([2, 2]), tf.ones([2])))

@tf.function
def double(a):
  print("Tracing with", a)
  return a + a
print(double(tf.constant(1)))
print(double(tf.constant(1.1)))

trace_count = []
@tf.function
def f(x):
  trace_count.append(1)
  tf.print("Executing with", x)
  return x * 2
f(tf.constant(1.0)); f(tf.constant(2.0))
print("traces", len(trace_count))
assert float(f(tf.constant(3.0))) == 6.0

@tf.function(input_signature=(tf.TensorSpec(shape=[None], dtype=tf.int32),))
def next_collatz(x):
  print("Tracing with", x)
  return tf.where(x % 2 == 0, x // 2, 3 * x + 1)
print(next_collatz(tf.constant([1, 2])))
np.testing.assert_array_equal(np.asarray(next_collatz(tf.constant([3, 4, 5]))), [10, 2, 16])

concrete = double.get_concrete_function(tf.constant(1))
print(concrete)
assert int(concrete(tf.constant(4))) == 8

class Count(tf.Module):
  def __init__(self):
    self.count = None
  @tf.function
  def __call__(self):
    if self.count is None:
      self.count = tf.Variable(0)
    return self.count.assign_add(1)
c = Count()
c(); c()
assert int(c.count.numpy()) == 2

@tf.function
def sum_even(items):
  s = 0
  for c in items:
    if c % 2 > 0:
      continue
    s += c
  return s
assert int(sum_even(tf.constant([10, 12, 15, 20]))) == 42

x = tf.random.normal((64, 3)); y = tf.matmul(x, tf.constant([[1.], [-2.], [0.5]])) + 0.3
model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
opt = tf.keras.optimizers.SGD(0.1)
@tf.function
def train_step(x, y):
  with tf.GradientTape() as tape:
    loss = tf.reduce_mean(tf.square(model(x) - y))
  grads = tape.gradient(loss, model.trainable_variables)
  opt.apply_gradients(zip(grads, model.trainable_variables))
  return loss
losses = [float(train_step(x, y)) for _ in range(50)]
print(losses[0], losses[-1])
assert losses[-1] < 0.01 * losses[0]
