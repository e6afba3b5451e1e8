"""TensorFlow guide "Advanced automatic differentiation" (guide/advanced_autodiff), imports
changed: tape.stop_recording(), tape.reset(), tf.stop_gradient, tf.custom_gradient with
tf.clip_by_norm, several tapes at once, watch_accessed_variables, Jacobians (tape.jacobian of a
vector w.r.t. a scalar and of a layer's output w.r.t. its kernel; the sum of a Jacobian is the
gradient) and batch Jacobians (tape.batch_jacobian, and the same picked out of the full Jacobian
with tf.einsum), and the higher-order gradients: d2y/dx2 from nested tapes, the input-gradient
regularization example (checked against float64 differences) and the Hessian of a Dense kernel
by tape.jacobian of a gradient, used for a Newton step."""
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

# -- Higher-order gradients -----------------------------------------------------------------------
x = tf.Variable(1.0)  # Create a Tensorflow variable initialized to 1.0

with tf.GradientTape() as t2:
  with tf.GradientTape() as t1:
    y = x * x * x

  # Compute the gradient inside the outer `t2` context manager
  # which means the gradient computation is differentiable as well.
  dy_dx = t1.gradient(y, x)
d2y_dx2 = t2.gradient(dy_dx, x)

print('dy_dx:', dy_dx.numpy())  # 3 * x**2 => 3.0
print('d2y_dx2:', d2y_dx2.numpy())  # 6 * x => 6.0
np.testing.assert_allclose([dy_dx.numpy(), d2y_dx2.numpy()], [3.0, 6.0], rtol=1e-6)

# Example: input gradient regularization
x = tf.random.normal([7, 5])

layer = tf.keras.layers.Dense(10, activation=tf.nn.relu)

with tf.GradientTape() as t2:
  # The inner tape only takes the gradient with respect to the input,
  # not the variables.
  with tf.GradientTape(watch_accessed_variables=False) as t1:
    t1.watch(x)
    y = layer(x)
    out = tf.reduce_sum(layer(x)**2)
  # 1. Calculate the input gradient.
  g1 = t1.gradient(out, x)
  # 2. Calculate the magnitude of the input gradient.
  g1_mag = tf.norm(g1)

# 3. Calculate the gradient of the magnitude with respect to the model.
dg1_mag = t2.gradient(g1_mag, layer.trainable_variables)
print([var.shape for var in dg1_mag])
assert [tuple(v.shape) for v in dg1_mag] == [(5, 10), (10,)]
# against central differences of the same magnitude in float64 (d out / dx = 2 relu(z) W^T)
X, (W, b) = np.asarray(x, np.float64), [np.asarray(w, np.float64) for w in layer.get_weights()]


def input_gradient_norm(W, b):
  return np.linalg.norm((2 * np.maximum(X @ W + b, 0)) @ W.T)


for (i, o) in [(0, 0), (3, 7)]:
  E = np.zeros_like(W)
  E[i, o] = 1e-5
  numeric = (input_gradient_norm(W + E, b) - input_gradient_norm(W - E, b)) / 2e-5
  np.testing.assert_allclose(np.asarray(dg1_mag[0])[i, o], numeric, rtol=1e-3, atol=1e-5)

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

# Example: Hessian
x = tf.random.normal([7, 5])
layer1 = tf.keras.layers.Dense(8, activation=tf.nn.relu)
layer2 = tf.keras.layers.Dense(6, activation=tf.nn.relu)

with tf.GradientTape() as t2:
  with tf.GradientTape() as t1:
    x = layer1(x)
    x = layer2(x)
    loss = tf.reduce_mean(x**2)

  g = t1.gradient(loss, layer1.kernel)

h = t2.jacobian(g, layer1.kernel)
print(f'layer.kernel.shape: {layer1.kernel.shape}')
print(f'h.shape: {h.shape}')
assert h.shape == (5, 8, 5, 8)

n_params = tf.reduce_prod(layer1.kernel.shape)

g_vec = tf.reshape(g, [n_params, 1])
h_mat = tf.reshape(h, [n_params, n_params])
np.testing.assert_allclose(h_mat.numpy(), h_mat.numpy().T, rtol=1e-4, atol=1e-6)   # a Hessian is symmetric

eps = 1e-3
eye_eps = tf.eye(h_mat.shape[0])*eps
# X(k+1) = X(k) - (∇²f(X(k)))^-1 @ ∇f(X(k))
# h_mat = ∇²f(X(k))
# g_vec = ∇f(X(k))
update = tf.linalg.solve(h_mat + eye_eps, g_vec)

# Reshape the update and apply it to the variable.
_ = layer1.kernel.assign_sub(tf.reshape(update, layer1.kernel.shape))
np.testing.assert_allclose((h_mat.numpy() + eps * np.eye(40)) @ update.numpy(), g_vec.numpy(), rtol=1e-3, atol=1e-5)

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
