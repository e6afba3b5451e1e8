"""TensorFlow guide "Introduction to Variables" (guide/variable), imports changed: tf.Variable of
tensors, booleans and Python lists, shape / dtype / numpy(), tf.convert_to_tensor and ops reading a
variable, assign (shape checked), assign_add / assign_sub, a variable made from another (a copy),
names (shared names allowed), trainable=False (a step counter, int32 from a Python int), and
tf.device placement with tf.debugging.set_log_device_placement (accepted; nothing to log). Differences: a boolean variable holds float32 0 / 1 (corenn's tensors are
float32 / int32 / int64) and the guide's complex variable is left out (no complex dtype)."""
import numpy as np

import corenn as tf

my_tensor = tf.constant([[1.0, 2.0], [3.0, 4.0]])
my_variable = tf.Variable(my_tensor)

# Variables can be all kinds of types, just like tensors
bool_variable = tf.Variable([False, False, False, True])
np.testing.assert_array_equal(bool_variable.numpy(), [0, 0, 0, 1])

print("Shape: ", my_variable.shape)
print("DType: ", my_variable.dtype)
print("As NumPy: ", my_variable.numpy())
assert my_variable.shape == (2, 2) and my_variable.dtype == tf.float32

print("A variable:", my_variable)
print("\nViewed as a tensor:", tf.convert_to_tensor(my_variable))
print("\nIndex of highest value:", tf.math.argmax(my_variable))

# This creates a new tensor; it does not reshape the variable.
print("\nCopying and reshaping: ", tf.reshape(my_variable, [1,4]))
np.testing.assert_array_equal(tf.math.argmax(my_variable).numpy(), [1, 1])
assert tf.reshape(my_variable, [1, 4]).shape == (1, 4) and my_variable.shape == (2, 2)

a = tf.Variable([2.0, 3.0])
# This will keep the same dtype, float32
a.assign([1, 2])
np.testing.assert_array_equal(a.numpy(), [1.0, 2.0])
assert a.dtype == tf.float32
# Not allowed as it resizes the variable:
try:
  a.assign([1.0, 2.0, 3.0])
  raise AssertionError("assign must not resize a variable")
except Exception as e:
  print(f"{type(e).__name__}: {e}")
  assert "(3,)" in str(e) and "(2,)" in str(e)

a = tf.Variable([2.0, 3.0])
# Create b based on the value of a
b = tf.Variable(a)
a.assign([5, 6])

# a and b are different
print(a.numpy())
print(b.numpy())
np.testing.assert_array_equal(a.numpy(), [5, 6])
np.testing.assert_array_equal(b.numpy(), [2, 3])

# There are other versions of assign
print(a.assign_add([2,3]).numpy())  # [7. 9.]
print(a.assign_sub([7,9]).numpy())  # [0. 0.]
np.testing.assert_array_equal(a.numpy(), [0, 0])

# -- Lifecycles, naming, and watching --------------------------------------------------------------
# Create a and b; they will have the same name but will be backed by
# different tensors.
a = tf.Variable(my_tensor, name="Mark")
# A new variable with the same name, but different value
# Note that the scalar add is broadcast
b = tf.Variable(my_tensor + 1, name="Mark")

# These are elementwise-unequal, despite having the same name
print(a == b)
assert a.name == b.name == "Mark:0"
assert not np.asarray(a == b).any()

step_counter = tf.Variable(1, trainable=False)
assert step_counter.trainable is False and step_counter.dtype == tf.int32
step_counter.assign_add(1)
assert int(step_counter.numpy()) == 2

# a non-trainable variable is not watched by a tape; a trainable one is
w = tf.Variable(3.0)
with tf.GradientTape() as tape:
  y = w * step_counter.numpy() + tf.cast(step_counter, tf.float32)
assert float(tape.gradient(y, w)) == 2.0

# -- Placing variables and tensors -----------------------------------------------------------------
tf.debugging.set_log_device_placement(True)   # accepted: corenn's placement is explicit

with tf.device('CPU:0'):
  # Create some tensors
  a = tf.Variable([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
  b = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
  c = tf.matmul(a, b)

print(c)
np.testing.assert_array_equal(c.numpy(), [[22, 28], [49, 64]])

with tf.device('CPU:0'):
  a = tf.Variable([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
  b = tf.Variable([[1.0, 2.0, 3.0]])

with tf.device('CPU:0'):   # the guide's GPU:0 (corenn's placement is explicit: Tensor.to)
  # Element-wise multiply
  k = a * b

print(k)
np.testing.assert_array_equal(k.numpy(), [[1, 4, 9], [4, 10, 18]])
tf.debugging.assert_equal(k, [[1.0, 4.0, 9.0], [4.0, 10.0, 18.0]])
try:
  tf.debugging.assert_equal(k, 0.0, message="k is not zero")
  raise AssertionError("assert_equal must fail")
except tf.errors.InvalidArgumentError as exc:
  assert "k is not zero" in str(exc)
