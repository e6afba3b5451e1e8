"""TensorFlow's forward-mode automatic differentiation (tf.autodiff.ForwardAccumulator, the
examples of its API guide), imports changed: Jacobian-vector products of elementwise
functions, of a Keras Dense layer along its kernel, several primals at once, a
forward-over-backward Hessian-vector product, an unconnected output, and a JVP compared with the
reverse-mode Jacobian times the tangent and with a central finite difference."""
import numpy as np
import corenn as tf

v = tf.Variable([2., 3.])
with tf.autodiff.ForwardAccumulator(v, tf.constant([1., 0.])) as acc:
  y = v ** 2
print(acc.jvp(y))
np.testing.assert_allclose(np.asarray(acc.jvp(y)), [4., 0.])

x = tf.constant([[2.0, 3.0], [1.0, 4.0]])
targets = tf.constant([[1.], [-1.]])
dense = tf.keras.layers.Dense(1)
dense.build([None, 2])
with tf.autodiff.ForwardAccumulator(primals=dense.kernel, tangents=tf.constant([[1.], [0.]])) as acc:
  loss = tf.reduce_sum((dense(x) - targets) ** 2.)
print(acc.jvp(loss))
assert acc.jvp(loss).shape == ()
kernel, bias = (np.asarray(w, np.float64) for w in dense.get_weights())
resid = np.asarray(x, np.float64) @ kernel + bias - np.asarray(targets)
np.testing.assert_allclose(float(acc.jvp(loss)), float(2 * (resid[:, 0] * np.asarray(x)[:, 0]).sum()), rtol=1e-4)

v = tf.Variable([1., 2.])
with tf.autodiff.ForwardAccumulator(v, tf.constant([1., 3.])) as acc:
  with tf.GradientTape() as tape:
    y = tf.reduce_sum(v ** 3.)
  backward = tape.gradient(y, v)
print(backward)
print(acc.jvp(backward))
np.testing.assert_allclose(np.asarray(backward), [3., 12.])
np.testing.assert_allclose(np.asarray(acc.jvp(backward)), [6., 36.])

# two primals with their tangents; a value not computed from them has no JVP
a = tf.constant([0.5, -1.0, 2.0])
b = tf.constant(1.5)
with tf.autodiff.ForwardAccumulator(primals=[a, b], tangents=[tf.constant([1., 2., 3.]), tf.constant(-1.)]) as acc:
  z = tf.sin(a) * b + tf.exp(b)
  unrelated = tf.constant(3.0) * 2.0
jvp = acc.jvp(z)
expect = np.cos([0.5, -1.0, 2.0]) * 1.5 * np.array([1., 2., 3.]) + (np.sin([0.5, -1.0, 2.0]) + np.exp(1.5)) * -1.0
np.testing.assert_allclose(np.asarray(jvp), expect, rtol=1e-5)
assert acc.jvp(unrelated) is None
np.testing.assert_array_equal(np.asarray(acc.jvp(unrelated, unconnected_gradients="zero")), 0.0)

# the JVP is the Jacobian times the tangent, and a directional derivative
w = tf.constant(np.random.default_rng(0).normal(size=(3, 4)).astype("float32"))
u = np.random.default_rng(1).normal(size=(3, 4)).astype("float32")
f = lambda w: tf.nn.softmax(tf.reduce_sum(tf.tanh(w), axis=0))
with tf.GradientTape() as tape:
  tape.watch(w)
  out = f(w)
jac = tape.jacobian(out, w)
with tf.autodiff.ForwardAccumulator(w, tf.constant(u)) as acc:
  out2 = f(w)
np.testing.assert_allclose(np.asarray(acc.jvp(out2)), np.tensordot(np.asarray(jac), u, axes=2), rtol=1e-4, atol=1e-6)
eps = 1e-2
fd = (np.asarray(f(w + eps * u), np.float64) - np.asarray(f(w - eps * u), np.float64)) / (2 * eps)
np.testing.assert_allclose(np.asarray(acc.jvp(out2)), fd, rtol=2e-2, atol=1e-4)
print("forward-mode JVPs match")
