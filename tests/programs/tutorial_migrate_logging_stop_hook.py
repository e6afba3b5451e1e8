"""TensorFlow guide "Migrate LoggingTensorHook and StopAtStepHook to Keras callbacks"
(guide/migrate/logging_stop_hook), imports changed: its TensorFlow 2 part (the TF1 part needs
tf.compat.v1.estimator, which corenn does not have): a callback that stops training once
`self.model.optimizer.iterations >= self._stop_step` (a Variable compared with an int in an `if`)
and one that prints the first Dense layer's weights and the logged loss from `on_batch_end`, on an
unbuilt Sequential compiled with `Adagrad(learning_rate=0.05)` and "mse" and fit on a
`from_tensor_slices` dataset of Python lists batched by 1. The page's own data (three samples).
Checked: training stopped after two steps, and the two steps are Adagrad's from the weights
the model started from (recomputed in NumPy)."""
import contextlib
import io
import numpy as np
import corenn as tf

features = [[1., 1.5], [2., 2.5], [3., 3.5]]
labels = [[0.3], [0.5], [0.7]]


class StopAtStepCallback(tf.keras.callbacks.Callback):
  def __init__(self, stop_step=None):
    super().__init__()
    self._stop_step = stop_step

  def on_batch_end(self, batch, logs=None):
    if self.model.optimizer.iterations >= self._stop_step:
      self.model.stop_training = True
      print('\nstop training now')


class LoggingTensorCallback(tf.keras.callbacks.Callback):
  def __init__(self, every_n_iter):
      super().__init__()
      self._every_n_iter = every_n_iter
      self._log_count = every_n_iter

  def on_batch_end(self, batch, logs=None):
    if self._log_count > 0:
      self._log_count -= 1
      print("Logging Tensor Callback: dense/kernel:",
            model.layers[0].weights[0])
      print("Logging Tensor Callback: dense/bias:",
            model.layers[0].weights[1])
      print("Logging Tensor Callback loss:", logs["loss"])
    else:
      self._log_count -= self._every_n_iter


dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(1)
model = tf.keras.models.Sequential([tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.Adagrad(learning_rate=0.05)
model.compile(optimizer, "mse")


class _Start(tf.keras.callbacks.Callback):   # the check's: the weights the model started from
  # (the Sequential has no input shape: it is built by its first batch, before the first step)
  def on_train_batch_begin(self, batch, logs=None):
    if batch == 0:
      self.weights = [np.array(w, np.float64) for w in self.model.get_weights()]


start = _Start()
out = io.StringIO()
with contextlib.redirect_stdout(out):
  # the training will stop after 2 steps, the weights/loss are logged as well
  history = model.fit(dataset, callbacks=[StopAtStepCallback(stop_step=2),
                                          LoggingTensorCallback(every_n_iter=2), start])
printed = out.getvalue()
print(printed)
assert int(np.asarray(model.optimizer.iterations)) == 2 and model.stop_training
assert printed.count("stop training now") == 1 and printed.count("Logging Tensor Callback loss:") == 2

# two Adagrad steps from the starting weights on the first two samples (Keras: the accumulator
# starts at 0.1, adds g^2, and the step is lr g / sqrt(acc + 1e-7))
w, b = start.weights[0].copy(), start.weights[1].copy()
acc_w, acc_b = np.full_like(w, 0.1), np.full_like(b, 0.1)
for x, y in zip(np.array(features[:2]), np.array(labels[:2])):
  err = x @ w + b - y                     # mse of one sample with one output
  gw, gb = 2 * np.outer(x, err), 2 * err
  acc_w += gw ** 2
  acc_b += gb ** 2
  w -= 0.05 * gw / np.sqrt(acc_w + 1e-7)
  b -= 0.05 * gb / np.sqrt(acc_b + 1e-7)
np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(model.get_weights()[1], b, rtol=1e-5, atol=1e-6)
