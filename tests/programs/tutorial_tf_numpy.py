"""TensorFlow guide "NumPy API on TensorFlow" (guide/tf_numpy), imports changed:
tf.experimental.numpy as tnp with numpy behavior enabled (ndarray methods .T / .reshape /
.astype on Tensors), type promotion, broadcasting, NumPy indexing, a two-layer model written in
tnp and trained with a GradientTape, NumPy interoperation both ways and tf.function. corenn
computes in float32, so float64 requests give float32 (TensorFlow's prefer_float32 mode)."""
import numpy as np
import corenn as tf
import corenn.experimental.numpy as tnp

tnp.experimental_enable_numpy_behavior()
ones = tnp.ones([5, 3], dtype=tnp.float32)
print("Created ND array with shape = %s, rank = %s, dtype = %s on device = %s\n" % (
    ones.shape, ones.ndim, ones.dtype, ones.device))
print("Is `ones` an instance of tf.Tensor: %s\n" % isinstance(ones, tf.Tensor))
print("ndarray.T has shape %s" % str(ones.T.shape))
print("narray.reshape(-1) has shape %s" % ones.reshape(-1).shape)
print("Type promotion for operations")
values = [tnp.asarray(1, dtype=d) for d in (tnp.int32, tnp.int64, tnp.float32, tnp.float64)]
for i, v1 in enumerate(values):
  for v2 in values[i + 1:]:
    print("%s + %s => %s" % (v1.dtype.name, v2.dtype.name, (v1 + v2).dtype.name))
print("tnp.asarray(1).dtype == tnp.%s" % tnp.asarray(1).dtype.name)
print("tnp.asarray(1.).dtype == tnp.%s\n" % tnp.asarray(1.).dtype.name)
x = tnp.ones([2, 3])
y = tnp.ones([3])
z = tnp.ones([1, 2, 1])
print("Broadcasting shapes %s, %s and %s gives shape %s" % (x.shape, y.shape, z.shape, (x + y + z).shape))
x = tnp.arange(24).reshape(2, 3, 4)
print("Basic indexing")
print(x[1, tnp.newaxis, 1:3, ...], "\n")
np.testing.assert_array_equal(np.asarray(x[1, tnp.newaxis, 1:3, ...]), np.arange(24).reshape(2, 3, 4)[1, None, 1:3])
print("Boolean indexing")
print(x[:, (True, False, True)], "\n")
print("Advanced indexing")
print(x[1, (0, 0, 1), tnp.asarray([0, 1, 1])])
np.testing.assert_array_equal(np.asarray(x[1, (0, 0, 1), tnp.asarray([0, 1, 1])]), [12, 13, 17])
np.testing.assert_array_equal(np.asarray(x[:, (True, False, True)]), np.arange(24).reshape(2, 3, 4)[:, [True, False, True]])
class Model(object):
  def __init__(self):
    self.weights = None
  def predict(self, inputs):
    if self.weights is None:
      size = inputs.shape[1]
      stddev = tnp.sqrt(size).astype(tnp.float32)
      w1 = tnp.random.randn(size, 64).astype(tnp.float32) / stddev
      bias = tnp.random.randn(64).astype(tnp.float32)
      w2 = tnp.random.randn(64, 2).astype(tnp.float32) / 8
      self.weights = (w1, bias, w2)
    else:
      w1, bias, w2 = self.weights
    y = tnp.matmul(inputs, w1) + bias
    y = tnp.maximum(y, 0)
    return tnp.matmul(y, w2)
model = Model()
out = model.predict(tnp.ones([2, 32], dtype=tnp.float32))
print(out.shape)
x = np.ones([2]) * 2
print(tnp.sum(x))
print(np.sum(tnp.ones([4])))
x = tnp.ones([2]) + np.ones([2])
np_sum = np.sum(tnp.ones([2, 3]))
print(np_sum)
def create_batch(batch_size=32):
  return (tnp.random.randn(batch_size, 32).astype(tnp.float32),
          tnp.random.randn(batch_size, 2).astype(tnp.float32))
def compute_gradients(model, inputs, labels):
  with tf.GradientTape() as tape:
    assert model.weights is not None
    tape.watch(model.weights)
    prediction = model.predict(inputs)
    loss = tnp.sum(tnp.square(prediction - labels))
  return tape.gradient(loss, model.weights)
inputs, labels = create_batch()
gradients = compute_gradients(model, inputs, labels)
print("Parameter shapes: %s" % [w.shape for w in model.weights])
print("Gradient shapes: %s" % [g.shape for g in gradients])
assert all(g.shape == w.shape for g, w in zip(gradients, model.weights))
# the guide's plain gradient-descent training of the tnp model
tnp.random.seed(1)
true_w = tnp.random.randn(32, 2).astype(tnp.float32) / 6.
train_x = tnp.random.randn(256, 32).astype(tnp.float32)
train_y = tnp.matmul(train_x, true_w)
first = None
for step in range(60):
  grads = compute_gradients(model, train_x, train_y)
  model.weights = tuple(w - 2e-4 * g for w, g in zip(model.weights, grads))
  loss = float(tnp.sum(tnp.square(model.predict(train_x) - train_y)))
  first = loss if first is None else first
print("loss", first, "->", loss)
assert loss < 0.5 * first
@tf.function
def fn(x):
  return tnp.sum(x ** 2)
print(fn(tnp.ones([3])))
assert float(fn(tnp.ones([3]))) == 3.0
ndarray = tnp.ones([2, 3])
print(tf.math.sin(ndarray), tnp.einsum("ij,kj->ik", ndarray, ndarray))
print(tnp.linspace(0., 1., 5), tnp.cumsum(tnp.arange(5)), tnp.where(tnp.arange(4) > 1, 1, 0))
print(tnp.stack([tnp.ones(2), tnp.zeros(2)]), tnp.tril(tnp.ones([3, 3])), tnp.diag(tnp.arange(3)))
print(tnp.argmax(tnp.asarray([[1, 5, 2]]), axis=1), tnp.clip(tnp.arange(5), 1, 3), tnp.mean(tnp.arange(4.)))
np.testing.assert_allclose(np.asarray(tnp.einsum("ij,kj->ik", ndarray, ndarray)), np.full((2, 2), 3.0))
assert tnp.asarray(1).dtype.name == "int64" and ones.dtype == tnp.float32
assert isinstance(ones.astype(tnp.int32), tnp.ndarray) and ones.reshape(-1).shape == (15,)
assert float(np_sum) == 6.0 and isinstance(x, tf.Tensor)
