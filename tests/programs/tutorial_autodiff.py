"""TensorFlow guide "Introduction to gradients and automatic differentiation" (guide/autodiff),
imports changed: tf.Variable, GradientTape on scalars, lists and dicts of sources, a Keras
layer's weights, trainable=False variables, watch and watch_accessed_variables=False,
intermediate results, persistent tapes, stop_recording, non-scalar targets, control flow and
unconnected gradients. One deliberate difference (issue 12): TensorFlow returns None for a
source that is a plain tensor the tape never watched; corenn refuses it with a ValueError naming
the source (a forgotten tape.watch is a bug), so those two spots check the error instead."""
import numpy as np

import corenn as tf

tf.random.set_seed(0)

# -- Computing gradients ---------------------------------------------------------------------------
x = tf.Variable(3.0)

with tf.GradientTape() as tape:
  y = x**2

# dy = 2x * dx
dy_dx = tape.gradient(y, x)
print(dy_dx.numpy())
assert dy_dx.numpy() == 6.0

w = tf.Variable(tf.random.normal((3, 2)), name='w')
b = tf.Variable(tf.zeros(2, dtype=tf.float32), name='b')
x = [[1., 2., 3.]]

with tf.GradientTape(persistent=True) as tape:
  y = x @ w + b
  loss = tf.reduce_mean(y**2)

[dl_dw, dl_db] = tape.gradient(loss, [w, b])
print(w.shape)
print(dl_dw.shape)
y_np = np.array(x) @ np.asarray(w, np.float64) + np.asarray(b)
# loss = mean over 2 values of y^2: dloss/dy = y, so dl_dw = x^T y and dl_db = y
np.testing.assert_allclose(np.asarray(dl_dw), np.array(x).T @ y_np, rtol=1e-5)
np.testing.assert_allclose(np.asarray(dl_db), y_np[0], rtol=1e-5)

my_vars = {
    'w': w,
    'b': b
}

grad = tape.gradient(loss, my_vars)
print(grad['b'])
np.testing.assert_allclose(np.asarray(grad['b']), np.asarray(dl_db))

# -- Gradients with respect to a model -------------------------------------------------------------
layer = tf.keras.layers.Dense(2, activation='relu')
x = tf.constant([[1., 2., 3.]])

with tf.GradientTape() as tape:
  # Forward pass
  y = layer(x)
  loss = tf.reduce_mean(y**2)

# Calculate gradients with respect to every trainable variable
grad = tape.gradient(loss, layer.trainable_variables)

for var, g in zip(layer.trainable_variables, grad):
  print(f'{var.name}, shape: {g.shape}')
assert [tuple(g.shape) for g in grad] == [(3, 2), (2,)]

# -- Controlling what the tape watches -------------------------------------------------------------
# A trainable variable
x0 = tf.Variable(3.0, name='x0')
# Not trainable
x1 = tf.Variable(3.0, name='x1', trainable=False)
# Not a Variable: A variable + tensor returns a tensor.
x2 = tf.Variable(2.0, name='x2') + 1.0
# Not a variable
x3 = tf.constant(3.0, name='x3')

with tf.GradientTape() as tape:
  y = (x0**2) + (x1**2) + (x2**2)

try:
  grad = tape.gradient(y, [x0, x1, x2, x3])
  raise AssertionError("a plain tensor source should be refused")
except ValueError as exc:   # TensorFlow: [6.0, None, None, None]
  assert "tape.watch" in str(exc)

with tf.GradientTape() as tape:
  y = (x0**2) + (x1**2) + (x2**2)
grad = tape.gradient(y, [x0, x1])
for g in grad:
  print(g)
assert grad[0].numpy() == 6.0 and grad[1] is None
assert isinstance(x0, tf.Variable) and isinstance(x1, tf.Variable) and not isinstance(x2, tf.Variable)

print([var.name for var in tape.watched_variables()])
assert [var.name for var in tape.watched_variables()] == ['x0:0']

x = tf.constant(3.0)
with tf.GradientTape() as tape:
  tape.watch(x)
  y = x**2

# dy = 2x * dx
dy_dx = tape.gradient(y, x)
print(dy_dx.numpy())
assert dy_dx.numpy() == 6.0

x0 = tf.Variable(0.0)
x1 = tf.Variable(10.0)

with tf.GradientTape(watch_accessed_variables=False) as tape:
  tape.watch(x1)
  y0 = tf.math.sin(x0)
  y1 = tf.nn.softplus(x1)
  y = y0 + y1
  ys = tf.reduce_sum(y)

# dys/dx1 = exp(x1) / (1 + exp(x1)) = sigmoid(x1)
grad = tape.gradient(ys, {'x0': x0, 'x1': x1})

print('dy/dx0:', grad['x0'])
print('dy/dx1:', grad['x1'].numpy())
assert grad['x0'] is None
np.testing.assert_allclose(grad['x1'].numpy(), 1 / (1 + np.exp(-10.0)), rtol=1e-6)

# -- Intermediate results --------------------------------------------------------------------------
x = tf.constant(3.0)

with tf.GradientTape() as tape:
  tape.watch(x)
  y = x * x
  z = y * y

# Use the tape to compute the gradient of z with respect to the
# intermediate value y.
# dz_dy = 2 * y and y = x ** 2 = 9
print(tape.gradient(z, y).numpy())

x = tf.constant([1, 3.0])
with tf.GradientTape(persistent=True) as tape:
  tape.watch(x)
  y = x * x
  z = y * y

print(tape.gradient(z, x).numpy())  # [4.0, 108.0] (4 * x**3 at x = [1.0, 3.0])
print(tape.gradient(y, x).numpy())  # [2.0, 6.0] (2 * x at x = [1.0, 3.0])
np.testing.assert_allclose(tape.gradient(z, x).numpy(), [4.0, 108.0])
np.testing.assert_allclose(tape.gradient(y, x).numpy(), [2.0, 6.0])
del tape   # Drop the reference to the tape

# -- Gradient of non-scalar targets ----------------------------------------------------------------
x = tf.Variable(2.0)
with tf.GradientTape(persistent=True) as tape:
  y0 = x**2
  y1 = 1 / x

g0, g1 = tape.gradient(y0, x).numpy(), tape.gradient(y1, x).numpy()
np.testing.assert_allclose([g0, g1], [4.0, -0.25])

x = tf.Variable(2.)

with tf.GradientTape() as tape:
  y = x * [3., 4.]

print(tape.gradient(y, x).numpy())
x = tf.Variable(2.)
with tf.GradientTape() as tape:
  y = x * [3., 4.]
assert tape.gradient(y, x).numpy() == 7.0

x = tf.linspace(-10.0, 10.0, 200+1)

with tf.GradientTape() as tape:
  tape.watch(x)
  y = tf.nn.sigmoid(x)

dy_dx = tape.gradient(y, x)
s = 1 / (1 + np.exp(-np.linspace(-10.0, 10.0, 201)))
np.testing.assert_allclose(dy_dx.numpy(), s * (1 - s), rtol=1e-4, atol=1e-7)

# -- Control flow ----------------------------------------------------------------------------------
x = tf.constant(1.0)

v0 = tf.Variable(2.0)
v1 = tf.Variable(2.0)

with tf.GradientTape(persistent=True) as tape:
  tape.watch(x)
  if x > 0.0:
    result = v0
  else:
    result = v1**2

dv0, dv1 = tape.gradient(result, [v0, v1])

print(dv0)
print(dv1)
assert dv0.numpy() == 1.0 and dv1 is None

dx = tape.gradient(result, x)
print(dx)
assert dx is None

# -- Cases where gradient returns None -------------------------------------------------------------
x = tf.Variable(2.)
y = tf.Variable(3.)

with tf.GradientTape() as tape:
  z = y * y
print(tape.gradient(z, x))

x = tf.Variable(2.0)

for epoch in range(2):
  with tf.GradientTape() as tape:
    y = x+1

  if epoch == 0:
    g = tape.gradient(y, x)
    print(type(x).__name__, ":", g)
    assert g.numpy() == 1.0
  else:   # x is now a plain tensor: TensorFlow prints None, corenn names the unwatched source
    try:
      tape.gradient(y, x)
      raise AssertionError("a plain tensor source should be refused")
    except ValueError as exc:
      assert "tape.watch" in str(exc)
  x = x + 1   # This should be `x.assign_add(1)`

x = tf.Variable(2.0)
with tf.GradientTape() as tape:
  y = x + 1
x.assign_add(1)
assert isinstance(x, tf.Variable) and x.numpy() == 3.0

# -- Zeros instead of None -------------------------------------------------------------------------
x = tf.Variable([2., 2.])
y = tf.Variable(3.)

with tf.GradientTape() as tape:
  z = y**2
print(tape.gradient(z, x, unconnected_gradients=tf.UnconnectedGradients.ZERO))
with tf.GradientTape() as tape:
  z = y**2
np.testing.assert_array_equal(
    tape.gradient(z, x, unconnected_gradients=tf.UnconnectedGradients.ZERO).numpy(), [0.0, 0.0])

# keras.Variable (Keras 3's form: initializer and shape)
k = tf.keras.Variable("ones", shape=(2, 3), name="kv")
with tf.GradientTape() as tape:
  s = tf.reduce_sum(k * 2.0)
np.testing.assert_array_equal(tape.gradient(s, k).numpy(), np.full((2, 3), 2.0))
