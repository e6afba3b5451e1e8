"""TensorFlow guide "TensorFlow graph optimization with Grappler" (guide/graph_optimization),
imports changed: the `options` context manager over tf.config.optimizer.get_experimental_options /
set_experimental_options, a tf.function chaining matmuls timed with and without constant folding,
then tf.debugging.check_numerics inside a tf.function raising tf.errors.InvalidArgumentError on an
infinite input, and passing once Grappler's debug_stripper is on. The guide's 2000 x 2000 matrix
raised to the 51st power is 200 x 200 scaled to stay finite (seconds on this machine instead of
minutes). Checked: the options dicts TensorFlow 2.21 prints, the function's value against NumPy,
the error before and its absence after debug_stripper."""
import contextlib
import timeit
import traceback

import numpy as np

import corenn as tf

N = 200


@contextlib.contextmanager
def options(options):
  old_opts = tf.config.optimizer.get_experimental_options()
  tf.config.optimizer.set_experimental_options(options)
  try:
    yield
  finally:
    tf.config.optimizer.set_experimental_options(old_opts)


rng = np.random.default_rng(0)
A = (rng.standard_normal((N, N)) / np.sqrt(N)).astype(np.float32)


def test_function_1():
  @tf.function
  def simple_function(input_arg):
    print('Tracing!')
    a = tf.constant(A, dtype = tf.float32)
    c = a
    for n in range(50):
      c = c@a
    return tf.reduce_mean(c+input_arg)

  return simple_function


ref = A.astype(np.float64)
c = ref
for n in range(50):
  c = c @ ref
expected = float(np.mean(c + 2.2))

with options({'constant_folding': False}):
  print(tf.config.optimizer.get_experimental_options())
  assert tf.config.optimizer.get_experimental_options() == {
      'constant_folding': False, 'disable_model_pruning': False, 'disable_meta_optimizer': False}
  simple_function = test_function_1()
  # Trace once
  x = tf.constant(2.2)
  simple_function(x)
  print("Vanilla execution:", timeit.timeit(lambda: simple_function(x), number = 1), "s")
  np.testing.assert_allclose(float(simple_function(x)), expected, rtol=1e-4)

with options({'constant_folding': True}):
  print(tf.config.optimizer.get_experimental_options())
  assert tf.config.optimizer.get_experimental_options()['constant_folding'] is True
  simple_function = test_function_1()
  # Trace once
  x = tf.constant(2.2)
  simple_function(x)
  print("Constant folded execution:", timeit.timeit(lambda: simple_function(x), number = 1), "s")
  np.testing.assert_allclose(float(simple_function(x)), expected, rtol=1e-4)


def test_function_2():
  @tf.function
  def simple_func(input_arg):
    output = input_arg
    tf.debugging.check_numerics(output, "Bad!")
    return output
  return simple_func


raised = []
test_func = test_function_2()
p1 = tf.constant(float('inf'))
try:
  test_func(p1)
except tf.errors.InvalidArgumentError as e:
  traceback.print_exc(limit=2)
  raised.append(e)

with options({'debug_stripper': True}):
  test_func2 = test_function_2()
  p1 = tf.constant(float('inf'))
  try:
    out = test_func2(p1)
  except tf.errors.InvalidArgumentError as e:
    traceback.print_exc(limit=2)
    raised.append(e)

# the check: the first call raised "Bad!", the stripped one returned the infinity unchecked
assert len(raised) == 1 and "Bad!" in str(raised[0]), raised
assert np.isinf(float(out))
# TensorFlow's set_experimental_options merges: restoring the old options leaves debug_stripper on
assert tf.config.optimizer.get_experimental_options()['debug_stripper'] is True
tf.config.optimizer.set_experimental_options({'debug_stripper': False})
