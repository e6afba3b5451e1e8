"""TensorFlow guide "TensorFlow basics" (tensorflow.org/guide/basics), imports changed
(`import corenn as tf`): tensors (arithmetic, `@`, `tf.transpose`, `tf.concat`, `tf.nn.softmax`,
`tf.reduce_sum` of a tensor and of a Python list, `tf.convert_to_tensor`), the GPU check,
variables (`assign`, `assign_add`), a GradientTape derivative, `@tf.function` (its Python runs
on every call here: no trace cache), a `tf.Module` with a `tf.function` method (kept with
`tf.train.Checkpoint`: `tf.saved_model.save` raises in corenn, which writes no TensorFlow
graphs), the quadratic `tf.Module` model trained by `assign_sub` on a shuffled batched Dataset,
and the Keras version (`Lambda` stacking `[x, x**2]`, `Dense(kernel_initializer=
tf.random.normal)`, `tf.keras.losses.MSE`, SGD, `fit`; `save('.keras')` raises for the Lambda,
as corenn saves no Python code, so the weights are saved). Only the plots are replaced by
checks; sizes and epochs are the guide's."""
import numpy as np

import corenn as tf

tf.random.set_seed(22)

x = tf.constant([[1., 2., 3.],
                 [4., 5., 6.]])

print(x)
print(x.shape)
print(x.dtype)
xn = np.array([[1., 2., 3.], [4., 5., 6.]], "float32")
assert x.shape == (2, 3) and x.dtype == tf.float32

np.testing.assert_allclose(x + x, 2 * xn)
np.testing.assert_allclose(5 * x, 5 * xn)
np.testing.assert_allclose(x @ tf.transpose(x), xn @ xn.T)
np.testing.assert_allclose(tf.concat([x, x, x], axis=0), np.concatenate([xn] * 3))
sm = np.exp(xn) / np.exp(xn).sum(-1, keepdims=True)
np.testing.assert_allclose(tf.nn.softmax(x, axis=-1), sm, rtol=1e-6)
assert float(tf.reduce_sum(x)) == 21.0

t = tf.convert_to_tensor([1,2,3])
assert t.dtype == tf.int32 and t.numpy().tolist() == [1, 2, 3]
s = tf.reduce_sum([1,2,3])
assert int(s) == 6 and s.dtype == tf.int32

if tf.config.list_physical_devices('GPU'):
  print("TensorFlow **IS** using the GPU")
else:
  print("TensorFlow **IS NOT** using the GPU")

var = tf.Variable([0.0, 0.0, 0.0])
var.assign([1, 2, 3])
var.assign_add([1, 1, 1])
assert var.numpy().tolist() == [2.0, 3.0, 4.0]

x = tf.Variable(1.0)

def f(x):
  y = x**2 + 2*x - 5
  return y

assert float(f(x)) == -2.0

with tf.GradientTape() as tape:
  y = f(x)

g_x = tape.gradient(y, x)  # g(x) = dy/dx
print(g_x)
assert float(g_x) == 4.0   # 2x + 2 at x = 1

traces = []


@tf.function
def my_func(x):
  print('Tracing.\n')
  traces.append(x.dtype)
  return tf.reduce_sum(x)


x = tf.constant([1, 2, 3])
assert int(my_func(x)) == 6
x = tf.constant([10, 9, 8])
assert int(my_func(x)) == 27
x = tf.constant([10.0, 9.1, 8.2], dtype=tf.float32)
np.testing.assert_allclose(float(my_func(x)), 27.3, rtol=1e-6)
# TensorFlow traces twice here (int32, then float32) and prints "Tracing." twice; corenn's
# tf.function runs its Python on every call (ARCHITECTURE.md: no graph capture), so three times
assert traces == ["int32", "int32", "float32"], traces


class MyModule(tf.Module):
  def __init__(self, value):
    self.weight = tf.Variable(value)

  @tf.function
  def multiply(self, x):
    return x * self.weight


mod = MyModule(3)
assert mod.multiply(tf.constant([1, 2, 3])).numpy().tolist() == [3, 6, 9]

save_path = './saved'
# corenn writes no TensorFlow SavedModel (a TF graph; ARCHITECTURE.md): save raises, naming the
# alternatives, and the module's state goes through tf.train.Checkpoint instead
try:
  tf.saved_model.save(mod, save_path)
  raise AssertionError("tf.saved_model.save should raise")
except NotImplementedError as e:
  assert "tf.train.Checkpoint" in str(e)
path = tf.train.Checkpoint(mod=mod).write(save_path + '/ckpt')
reloaded = MyModule(0)
tf.train.Checkpoint(mod=reloaded).read(path)
assert reloaded.multiply(tf.constant([1, 2, 3])).numpy().tolist() == [3, 6, 9]

x = tf.linspace(-2, 2, 201)
x = tf.cast(x, tf.float32)

def f(x):
  y = x**2 + 2*x - 5
  return y

y = f(x) + tf.random.normal(shape=[201])
assert x.shape == (201,) and y.shape == (201,)


class Model(tf.Module):

  def __init__(self):
    # Randomly generate weight and bias terms
    rand_init = tf.random.uniform(shape=[3], minval=0., maxval=5., seed=22)
    # Initialize model parameters
    self.w_q = tf.Variable(rand_init[0])
    self.w_l = tf.Variable(rand_init[1])
    self.b = tf.Variable(rand_init[2])

  @tf.function
  def __call__(self, x):
    # Quadratic Model : quadratic_weight * x^2 + linear_weight * x + bias
    return self.w_q * (x**2) + self.w_l * x + self.b


quad_model = Model()
assert len(quad_model.variables) == 3


def mse_loss(y_pred, y):
  return tf.reduce_mean(tf.square(y_pred - y))


batch_size = 32
dataset = tf.data.Dataset.from_tensor_slices((x, y))
dataset = dataset.shuffle(buffer_size=x.shape[0]).batch(batch_size)

# Set training parameters
epochs = 100
learning_rate = 0.01
losses = []

# Format training loop
for epoch in range(epochs):
  for x_batch, y_batch in dataset:
    with tf.GradientTape() as tape:
      batch_loss = mse_loss(quad_model(x_batch), y_batch)
    # Update parameters with respect to the gradient calculations
    grads = tape.gradient(batch_loss, quad_model.variables)
    for g,v in zip(grads, quad_model.variables):
        v.assign_sub(learning_rate*g)
  # Keep track of model loss per epoch
  loss = mse_loss(quad_model(x), y)
  losses.append(loss)
  if epoch % 10 == 0:
    print(f'Mean squared error for step {epoch}: {loss.numpy():0.3f}')

# the check: the fit approaches the noise floor (unit-variance noise: MSE about 1) and recovers
# the ground truth's coefficients (1, 2, -5); quad_model.variables is sorted by name (b, w_l, w_q)
print("final MSE", float(losses[-1]), [float(v) for v in quad_model.variables])
assert float(losses[-1]) < 1.5 < float(losses[0])
assert [float(v) for v in quad_model.variables] == [float(quad_model.b), float(quad_model.w_l),
                                                   float(quad_model.w_q)]
np.testing.assert_allclose([float(quad_model.w_q), float(quad_model.w_l), float(quad_model.b)],
                           [1, 2, -5], atol=0.4)

new_model = tf.keras.Sequential([
    tf.keras.layers.Lambda(lambda x: tf.stack([x, x**2], axis=1)),
    tf.keras.layers.Dense(units=1, kernel_initializer=tf.random.normal)])

new_model.compile(
    loss=tf.keras.losses.MSE,
    optimizer=tf.keras.optimizers.SGD(learning_rate=0.01))

history = new_model.fit(x, y,
                        epochs=100,
                        batch_size=32,
                        verbose=0)

# Keras 3 saves the Lambda's bytecode (loadable only with safe_mode=False); corenn refuses to
# save Python code and says so, so the weights are kept instead
try:
  new_model.save('./my_new_model.keras')
  raise AssertionError("saving a Lambda should raise")
except NotImplementedError as e:
  assert "Lambda" in str(e)
new_model.save_weights('./my_new_model.weights.h5')
loss_curve = history.history['loss']
print("keras MSE", loss_curve[0], "->", loss_curve[-1])
assert loss_curve[-1] < 1.5 and loss_curve[-1] < 0.5 * loss_curve[0], loss_curve
kernel = new_model.layers[1].kernel.numpy()[:, 0]
np.testing.assert_allclose([kernel[0], kernel[1], float(new_model.layers[1].bias.numpy()[0])],
                           [2, 1, -5], atol=0.5)
