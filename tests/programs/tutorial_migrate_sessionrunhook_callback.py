"""TensorFlow guide "Migrate SessionRunHook to Keras callbacks"
(guide/migrate/sessionrunhook_callback), imports changed: the TF2 part (the TF1 Estimator hook part
needs tf.compat.v1.estimator, which corenn does not have): a Callback that sets its state in
on_train_begin (no __init__), counts steps in on_train_batch_begin and logs every 10th step's
examples per second in on_train_batch_end, passed to fit(verbose=0) on a batch(1).repeat(100)
tf.data.Dataset with a Sequential Dense(1) and Adagrad; result.history read. The guide's data is
used as is (three rows, repeated 100 times). Checked: the callback saw every one of the 300
steps and logged steps 0, 10, ..., 290 with the loss in their logs, the history holds the one
epoch's loss, and training lowered the model's MSE on the data."""
import time
from datetime import datetime

import numpy as np
import corenn as tf

features = [[1., 1.5], [2., 2.5], [3., 3.5]]
labels = [[0.3], [0.5], [0.7]]
eval_features = [[4., 4.5], [5., 5.5], [6., 6.5]]
eval_labels = [[0.8], [0.9], [1.]]

logged = []


class CustomCallback(tf.keras.callbacks.Callback):

    def on_train_begin(self, logs = None):
      self._step = -1
      self._start_time = time.time()
      self.log_frequency = 10

    def on_train_batch_begin(self, batch, logs = None):
      self._step += 1

    def on_train_batch_end(self, batch, logs = None):
      if self._step % self.log_frequency == 0:
        current_time = time.time()
        duration = current_time - self._start_time
        self._start_time = current_time
        examples_per_sec = self.log_frequency / duration
        print('Time:', datetime.now(), ', Step #:', self._step,
              ', Examples per second:', examples_per_sec)
        logged.append((self._step, batch, sorted(logs or {})))

callback = CustomCallback()

dataset = tf.data.Dataset.from_tensor_slices(
    (features, labels)).batch(1).repeat(100)

model = tf.keras.models.Sequential([tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.Adagrad(learning_rate=0.05)

model.compile(optimizer, "mse")
data_once = tf.data.Dataset.from_tensor_slices((features, labels)).batch(3)
before = model.evaluate(data_once, verbose=0)

# Begin training.
result = model.fit(dataset, callbacks=[callback], verbose = 0)
# Provide the results of training metrics.
print(result.history)

# the check
assert callback._step == 299, callback._step
assert [s for s, _, _ in logged] == list(range(0, 300, 10))
assert all(b == s for s, b, _ in logged)   # one epoch: the batch index is the step
assert all(keys == ["loss"] for _, _, keys in logged), logged[:2]
assert list(result.history) == ["loss"] and len(result.history["loss"]) == 1
after = model.evaluate(data_once, verbose=0)
assert np.isfinite(after) and after < before, (before, after)
