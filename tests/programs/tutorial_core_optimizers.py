"""TensorFlow Core guide "Optimizers with Core APIs" (guide/core/optimizers_core), imports
changed: gradient descent, momentum and Adam written as tf.Module classes with
apply_gradients(grads, vars), run by the guide's convergence test on 2x^4 + 3x^3 + 2 (a
GradientTape watching a tf.Variable, tf.math.is_nan for exploding gradients, convergence when an
update leaves the float32 variable unchanged). Each path is checked against the same updates
written out in NumPy float32; the guide's matplotlib plots are left out."""
import numpy as np

import corenn as tf

tf.random.set_seed(22)

def convergence_test(optimizer, loss_fn, grad_fn, init_val=2., max_iters=2000):
  # Function for optimizer convergence test
  print(optimizer.title)
  print("-------------------------------")
  # Initializing variables and structures
  x_star = tf.Variable(init_val)
  param_path = []
  converged = False

  for iter in range(1, max_iters + 1):
    x_grad = grad_fn(loss_fn, x_star)

    # Case for exploding gradient
    if tf.math.is_nan(x_grad):
      print(f"Gradient exploded at iteration {iter}\n")
      return []

    # Updating the variable and storing its old-version
    x_old = x_star.numpy()
    optimizer.apply_gradients([x_grad], [x_star])
    param_path.append(x_star.numpy())

    # Checking for convergence
    if x_star == x_old:
      print(f"Converged in {iter} iterations\n")
      converged = True
      break

  # Print early termination message
  if not converged:
    print(f"Exceeded maximum of {max_iters} iterations. Test terminated.\n")
  return param_path


class GradientDescent(tf.Module):

  def __init__(self, learning_rate=1e-3):
    # Initialize parameters
    self.learning_rate = learning_rate
    self.title = f"Gradient descent optimizer: learning rate={self.learning_rate}"

  def apply_gradients(self, grads, vars):
    # Update variables
    for grad, var in zip(grads, vars):
      var.assign_sub(self.learning_rate*grad)


x_vals = tf.linspace(-2, 2, 201)
x_vals = tf.cast(x_vals, tf.float32)

def loss(x):
  return 2*(x**4) + 3*(x**3) + 2

def grad(f, x):
  with tf.GradientTape() as tape:
    tape.watch(x)
    result = f(x)
  return tape.gradient(result, x)

np.testing.assert_allclose(np.asarray(grad(loss, tf.Variable(1.5))), 8 * 1.5 ** 3 + 9 * 1.5 ** 2, rtol=1e-6)


def numpy_path(step, max_iters=2000, x=2.0):
  """The same test in NumPy float32: step(x, g) -> new x; [] when the gradient is NaN."""
  x, path = np.float32(x), []
  for _ in range(max_iters):
    g = np.float32(8) * x ** 3 + np.float32(9) * x ** 2
    if np.isnan(g):
      return []
    new = np.float32(step(x, g))
    path.append(new)
    if new == x:
      break
    x = new
  return path


def same_path(got, want, rtol=1e-5):
  assert len(got) == len(want) or abs(len(got) - len(want)) <= 2, (len(got), len(want))
  k = min(len(got), len(want))
  np.testing.assert_allclose(np.asarray(got[:k], "float64"), np.asarray(want[:k], "float64"), rtol=rtol, atol=1e-6)


param_map_gd = {}
learning_rates = [1e-3, 1e-2, 1e-1]
with np.errstate(over="ignore", invalid="ignore"):
  for learning_rate in learning_rates:
    param_map_gd[learning_rate] = (convergence_test(
        GradientDescent(learning_rate=learning_rate), loss_fn=loss, grad_fn=grad))
    same_path(param_map_gd[learning_rate],
              numpy_path(lambda x, g: x - np.float32(learning_rate) * g))
assert param_map_gd[1e-1] == []                       # the guide's exploding gradient
assert abs(param_map_gd[1e-2][-1]) < 0.01   # gradient descent stalls at the saddle point x = 0


class Momentum(tf.Module):

  def __init__(self, learning_rate=1e-3, momentum=0.7):
    # Initialize parameters
    self.learning_rate = learning_rate
    self.momentum = momentum
    self.change = 0.
    self.title = f"Gradient descent optimizer: learning rate={self.learning_rate}"

  def apply_gradients(self, grads, vars):
    # Update variables
    for grad, var in zip(grads, vars):
      curr_change = self.learning_rate*grad + self.momentum*self.change
      var.assign_sub(curr_change)
      self.change = curr_change


def numpy_momentum(lr, mu=0.7):
  state = {"change": np.float32(0)}
  def step(x, g):
    state["change"] = np.float32(lr) * g + np.float32(mu) * state["change"]
    return x - state["change"]
  return step


param_map_mtm = {}
learning_rates = [1e-3, 1e-2, 1e-1]
with np.errstate(over="ignore", invalid="ignore"):
  for learning_rate in learning_rates:
    param_map_mtm[learning_rate] = (convergence_test(
        Momentum(learning_rate=learning_rate),
        loss_fn=loss, grad_fn=grad))
    same_path(param_map_mtm[learning_rate], numpy_path(numpy_momentum(learning_rate)), rtol=1e-4)
np.testing.assert_allclose(param_map_mtm[1e-2][-1], -9 / 8, rtol=1e-3)   # momentum gets past the saddle


class Adam(tf.Module):

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, ep=1e-7):
      # Initialize the Adam parameters
      self.beta_1 = beta_1
      self.beta_2 = beta_2
      self.learning_rate = learning_rate
      self.ep = ep
      self.t = 1.
      self.v_dvar, self.s_dvar = [], []
      self.title = f"Adam: learning rate={self.learning_rate}"
      self.built = False

    def apply_gradients(self, grads, vars):
      # Set up moment and RMSprop slots for each variable on the first call
      if not self.built:
        for var in vars:
          v = tf.Variable(tf.zeros(shape=var.shape))
          s = tf.Variable(tf.zeros(shape=var.shape))
          self.v_dvar.append(v)
          self.s_dvar.append(s)
        self.built = True
      # Perform Adam updates
      for i, (d_var, var) in enumerate(zip(grads, vars)):
        # Moment calculation
        self.v_dvar[i] = self.beta_1*self.v_dvar[i] + (1-self.beta_1)*d_var
        # RMSprop calculation
        self.s_dvar[i] = self.beta_2*self.s_dvar[i] + (1-self.beta_2)*tf.square(d_var)
        # Bias correction
        v_dvar_bc = self.v_dvar[i]/(1-(self.beta_1**self.t))
        s_dvar_bc = self.s_dvar[i]/(1-(self.beta_2**self.t))
        # Update model variables
        var.assign_sub(self.learning_rate*(v_dvar_bc/(tf.sqrt(s_dvar_bc) + self.ep)))
      # Increment the iteration counter
      self.t += 1.


def numpy_adam(lr, b1=0.9, b2=0.999, ep=1e-7):
  st = {"v": np.float32(0), "s": np.float32(0), "t": 1.0}
  def step(x, g):
    st["v"] = np.float32(b1 * st["v"] + (1 - b1) * g)
    st["s"] = np.float32(b2 * st["s"] + (1 - b2) * np.float32(g * g))
    v_bc = np.float32(st["v"] / np.float32(1 - b1 ** st["t"]))
    s_bc = np.float32(st["s"] / np.float32(1 - b2 ** st["t"]))
    st["t"] += 1
    return x - np.float32(lr * (v_bc / (np.sqrt(s_bc) + np.float32(ep))))
  return step


param_map_adam = {}
learning_rates = [1e-3, 1e-2, 1e-1]
for learning_rate in learning_rates:
  param_map_adam[learning_rate] = (convergence_test(
      Adam(learning_rate=learning_rate), loss_fn=loss, grad_fn=grad))
  same_path(param_map_adam[learning_rate][:200], numpy_path(numpy_adam(learning_rate), max_iters=200), rtol=1e-3)
np.testing.assert_allclose(param_map_adam[1e-1][-1], -9 / 8, rtol=1e-3)
