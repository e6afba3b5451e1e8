"""TensorFlow guide "Advanced automatic differentiation" (guide/advanced_autodiff), imports
changed: tape.stop_recording(), tape.reset(), tf.stop_gradient, tf.custom_gradient with
tf.clip_by_norm, several tapes at once, watch_accessed_variables, Jacobians (tape.jacobian of a
vector w.r.t. a scalar and of a layer's output w.r.t. its kernel; the sum of a Jacobian is the
gradient) and batch Jacobians (tape.batch_jacobian, and the same picked out of the full Jacobian
with tf.einsum). One difference: second-order gradients (the guide's Hessian and
gradient-penalty sections) are not computed by corenn; the program checks that they raise
NotImplementedError instead of giving a wrong number (README, "Second-order gradients")."""
import numpy as np

import corenn as tf

tf.random.set_seed(0)

# -- Controlling gradient recording ----------------------------------------------------------------
x = tf.Variable(2.0)
y = tf.Variable(3.0)

with tf.GradientTape() as t:
  x_sq = x * x
  with t.stop_recording():
    y_sq = y * y
  z = x_sq + y_sq

grad = t.gradient(z, {'x': x, 'y': y})

print('dz/dx:', grad['x'])  # 2*x => 4
print('dz/dy:', grad['y'])
assert grad['x'].numpy() == 4.0 and grad['y'] is None

x = tf.Variable(2.0)
y = tf.Variable(3.0)
reset = True

with tf.GradientTape() as t:
  y_sq = y * y
  if reset:
    # Throw out all the tape recorded so far.
    t.reset()
  z = x * x + y_sq

grad = t.gradient(z, {'x': x, 'y': y})

print('dz/dx:', grad['x'])  # 2*x => 4
print('dz/dy:', grad['y'])
assert grad['x'].numpy() == 4.0 and grad['y'] is None

# -- Stop gradient ---------------------------------------------------------------------------------
x = tf.Variable(2.0)
y = tf.Variable(3.0)

with tf.GradientTape() as t:
  y_sq = y**2
  z = x**2 + tf.stop_gradient(y_sq)

grad = t.gradient(z, {'x': x, 'y': y})

print('dz/dx:', grad['x'])  # 2*x => 4
print('dz/dy:', grad['y'])
assert grad['x'].numpy() == 4.0 and grad['y'] is None


# -- Custom gradients ------------------------------------------------------------------------------
# Establish an identity operation, but clip during the gradient pass.
@tf.custom_gradient
def clip_gradients(y):
  def backward(dy):
    return tf.clip_by_norm(dy, 0.5)
  return y, backward


v = tf.Variable(2.0)
with tf.GradientTape() as t:
  output = clip_gradients(v * v)
clipped = t.gradient(output, v)
print(clipped)  # calls "backward", which clips 4 to 2
np.testing.assert_allclose(clipped.numpy(), 2.0, rtol=1e-6)
np.testing.assert_allclose(tf.clip_by_norm(tf.constant([3.0, 4.0]), 1.0).numpy(), [0.6, 0.8], rtol=1e-6)
np.testing.assert_allclose(tf.clip_by_norm(tf.constant([0.3, 0.4]), 1.0).numpy(), [0.3, 0.4], rtol=1e-6)

# -- Multiple tapes --------------------------------------------------------------------------------
x0 = tf.constant(0.0)
x1 = tf.constant(0.0)

with tf.GradientTape() as tape0, tf.GradientTape() as tape1:
  tape0.watch(x0)
  tape1.watch(x1)

  y0 = tf.math.sin(x0)
  y1 = tf.nn.sigmoid(x1)

  y = y0 + y1

  ys = tf.reduce_sum(y)

g0 = tape0.gradient(ys, x0).numpy()
g1 = tape1.gradient(ys, x1).numpy()
print(g0)   # cos(x) => 1.0
print(g1)   # sigmoid(x1)*(1-sigmoid(x1)) => 0.25
np.testing.assert_allclose([g0, g1], [1.0, 0.25], rtol=1e-6)

# -- Higher-order gradients: not computed (a clear error, never a wrong number) --------------------
x = tf.Variable(1.0)  # Create a Tensorflow variable initialized to 1.0
try:
  with tf.GradientTape() as t2:
    with tf.GradientTape() as t1:
      y = x * x * x
    # Compute the gradient inside the outer `t2` context manager
    # which means the gradient computation is differentiable as well.
    dy_dx = t1.gradient(y, x)
  d2y_dx2 = t2.gradient(dy_dx, x)
  raise AssertionError("second-order gradients are not computed by corenn")
except NotImplementedError as exc:
  print("NotImplementedError:", exc)
np.testing.assert_allclose(dy_dx.numpy(), 3.0)   # the first derivative is right

# -- Jacobians -------------------------------------------------------------------------------------
x = tf.linspace(-10.0, 10.0, 200+1)
delta = tf.Variable(0.0)

with tf.GradientTape() as tape:
  y = tf.nn.sigmoid(x+delta)

dy_dx = tape.jacobian(y, delta)
print(y.shape)
print(dy_dx.shape)
assert dy_dx.shape == (201,)
s = 1 / (1 + np.exp(-np.linspace(-10.0, 10.0, 201)))
np.testing.assert_allclose(dy_dx.numpy(), s * (1 - s), rtol=1e-4, atol=1e-7)

x = tf.random.normal([7, 5])
layer = tf.keras.layers.Dense(10, activation=tf.nn.relu)

with tf.GradientTape(persistent=True) as tape:
  y = layer(x)

print(y.shape)
print(layer.kernel.shape)
j = tape.jacobian(y, layer.kernel)
print(j.shape)
assert j.shape == (7, 10, 5, 10)
g = tape.gradient(y, layer.kernel)
print('g.shape:', g.shape)

j_sum = tf.reduce_sum(j, axis=[0, 1])
delta = tf.reduce_max(abs(g - j_sum)).numpy()
assert delta < 1e-3
print('delta:', delta)
# one entry against the formula: dy[b, o]/dW[i, o] = x[b, i] where the unit is active
xb, yb = np.asarray(x), np.asarray(y)
np.testing.assert_allclose(np.asarray(j)[3, 4, 2, 4], xb[3, 2] * (yb[3, 4] > 0), rtol=1e-6)
assert np.asarray(j)[3, 4, 2, 5] == 0.0

# -- Batch Jacobian --------------------------------------------------------------------------------
x = tf.random.normal([7, 5])
layer1 = tf.keras.layers.Dense(8, activation=tf.nn.elu)
layer2 = tf.keras.layers.Dense(6, activation=tf.nn.elu)

with tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
  tape.watch(x)
  y = layer1(x)
  y = layer2(y)

print(y.shape)
j = tape.jacobian(y, x)
print(j.shape)
assert j.shape == (7, 6, 7, 5)
imshow_block = j[:, 0, :, 0]   # the guide plots this: zero off the diagonal
np.testing.assert_array_equal(np.asarray(imshow_block)[~np.eye(7, dtype=bool)], 0.0)
j_sum = tf.reduce_sum(j, axis=2)
print(j_sum.shape)
j_select = tf.einsum('bxby->bxy', j)
print(j_select.shape)
jb = tape.batch_jacobian(y, x)
print(jb.shape)
assert jb.shape == (7, 6, 5)
np.testing.assert_allclose(jb.numpy(), j_select.numpy(), rtol=1e-6, atol=1e-7)
np.testing.assert_allclose(jb.numpy(), j_sum.numpy(), rtol=1e-6, atol=1e-7)

# against finite differences of the two-layer function, in float64
W1, b1 = (np.asarray(w, np.float64) for w in layer1.get_weights())
W2, b2 = (np.asarray(w, np.float64) for w in layer2.get_weights())


def elu(v):
  return np.where(v > 0, v, np.expm1(np.minimum(v, 0)))


def f(row):
  return elu(elu(row @ W1 + b1) @ W2 + b2)


x0 = np.asarray(x, np.float64)[2]
numeric = np.stack([(f(x0 + h) - f(x0 - h)) / 2e-6 for h in np.eye(5) * 1e-6], axis=1)
np.testing.assert_allclose(jb.numpy()[2], numeric, rtol=1e-3, atol=1e-5)
