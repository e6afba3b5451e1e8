"""TensorFlow guide "Migrate early stopping" (guide/migrate/early_stopping), imports changed: the
TF2 parts (the TF1 Estimator hook part needs tf.compat.v1.estimator, which corenn does not have):
`tf.keras.callbacks.EarlyStopping(monitor='loss', patience=3)` in fit with validation data, a
custom callback setting `self.model.stop_training = True` from `on_train_batch_end` after a time
limit, and a custom training loop under `@tf.function` with SparseCategoricalAccuracy /
SparseCategoricalCrossentropy metrics (the latter on logits with its default from_logits=False,
as the page has it), `result()` / `reset_states()` and a hand-written patience rule. A 1000 / 300
image Fashion-MNIST subset (guide_data) in `tf.data.Dataset.from_tensor_slices` stands in for
tfds' MNIST; the fits and the loop run at most 30 / 15 epochs instead of 100 and the time limit is 0.5 s instead
of 30. Checked: EarlyStopping stops where its rule says, the time limit stops fit inside an
epoch, and the loop's metrics equal NumPy's on the model's predictions."""
import time
import numpy as np
import corenn as tf

from guide_data import fashion

tf.random.set_seed(0)


def normalize_img(image, label):
  return tf.cast(image, tf.float32) / 255., label


(x_train, y_train), (x_test, y_test) = fashion(1000, 300)
# tfds.load('mnist', split=['train', 'test'], as_supervised=True): (image, label) pairs
ds_train = tf.data.Dataset.from_tensor_slices((x_train, y_train.astype("int64")))
ds_test = tf.data.Dataset.from_tensor_slices((x_test, y_test.astype("int64")))

ds_train = ds_train.map(
    normalize_img, num_parallel_calls=tf.data.experimental.AUTOTUNE)
ds_train = ds_train.batch(128)

ds_test = ds_test.map(
    normalize_img, num_parallel_calls=tf.data.experimental.AUTOTUNE)
ds_test = ds_test.batch(128)

model = tf.keras.models.Sequential([
  tf.keras.layers.Flatten(input_shape=(28, 28)),
  tf.keras.layers.Dense(128, activation='relu'),
  tf.keras.layers.Dense(10)
])

model.compile(
    optimizer=tf.keras.optimizers.Adam(0.005),
    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
)

callback = tf.keras.callbacks.EarlyStopping(monitor='loss', patience=3)
# Only around 25 epochs are run during training, instead of 100
history = model.fit(
    ds_train,
    epochs=30,
    validation_data=ds_test,
    callbacks=[callback],
    verbose=0,
)
print("epochs run with EarlyStopping:", len(history.history['loss']))
# EarlyStopping's rule on the recorded losses: stop once 3 epochs in a row did not beat the best
losses, best, wait, stop = history.history['loss'], np.inf, 0, None
for epoch, value in enumerate(losses):
    if value < best:
        best, wait = value, 0
    else:
        wait += 1
        if wait >= 3:
            stop = epoch + 1
            break
assert len(losses) == (stop or 30), (losses, stop)
assert callback.stopped_epoch == (stop - 1 if stop else 0), callback.stopped_epoch


class LimitTrainingTime(tf.keras.callbacks.Callback):
  def __init__(self, max_time_s):
    super().__init__()
    self.max_time_s = max_time_s
    self.start_time = None

  def on_train_begin(self, logs):
    self.start_time = time.time()

  def on_train_batch_end(self, batch, logs):
    now = time.time()
    if now - self.start_time >  self.max_time_s:
      self.model.stop_training = True


class CountBatches(tf.keras.callbacks.Callback):
  def on_train_begin(self, logs=None):
    self.batches = 0

  def on_train_batch_end(self, batch, logs=None):
    self.batches += 1


# Limit the training time to 0.5 seconds
callback = LimitTrainingTime(0.5)
counter = CountBatches()
start = time.time()
history = model.fit(
    ds_train,
    epochs=100,
    validation_data=ds_test,
    callbacks=[callback, counter],
    verbose=0,
)
elapsed = time.time() - start
epochs_run = len(history.history['loss'])
print("epochs run with the time limit:", epochs_run, "in", round(elapsed, 2), "s;", counter.batches, "batches")
assert epochs_run < 100 and model.stop_training
# the flag set after a batch ends the epoch there, as in Keras: the batches run are not whole
# epochs unless the limit fell on an epoch's last batch
per_epoch = -(-len(x_train) // 128)
assert (epochs_run - 1) * per_epoch < counter.batches <= epochs_run * per_epoch, (counter.batches, epochs_run)

model = tf.keras.models.Sequential([
  tf.keras.layers.Flatten(input_shape=(28, 28)),
  tf.keras.layers.Dense(128, activation='relu'),
  tf.keras.layers.Dense(10)
])
optimizer = tf.keras.optimizers.Adam(0.005)
loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

train_acc_metric = tf.keras.metrics.SparseCategoricalAccuracy()
train_loss_metric = tf.keras.metrics.SparseCategoricalCrossentropy()
val_acc_metric = tf.keras.metrics.SparseCategoricalAccuracy()
val_loss_metric = tf.keras.metrics.SparseCategoricalCrossentropy()


@tf.function
def train_step(x, y):
  with tf.GradientTape() as tape:
      logits = model(x, training=True)
      loss_value = loss_fn(y, logits)
  grads = tape.gradient(loss_value, model.trainable_weights)
  optimizer.apply_gradients(zip(grads, model.trainable_weights))
  train_acc_metric.update_state(y, logits)
  train_loss_metric.update_state(y, logits)
  return loss_value


@tf.function
def test_step(x, y):
  logits = model(x, training=False)
  val_acc_metric.update_state(y, logits)
  val_loss_metric.update_state(y, logits)


epochs = 15
patience = 5
wait = 0
best = 0

for epoch in range(epochs):
    print("\nStart of epoch %d" % (epoch,))
    start_time = time.time()

    for step, (x_batch_train, y_batch_train) in enumerate(ds_train):
      loss_value = train_step(x_batch_train, y_batch_train)
      if step % 200 == 0:
        print("Training loss at step %d: %.4f" % (step, loss_value.numpy()))
        print("Seen so far: %s samples" % ((step + 1) * 128))
    train_acc = train_acc_metric.result()
    train_loss = train_loss_metric.result()
    train_acc_metric.reset_states()
    train_loss_metric.reset_states()
    print("Training acc over epoch: %.4f" % (train_acc.numpy()))

    for x_batch_val, y_batch_val in ds_test:
      test_step(x_batch_val, y_batch_val)
    val_acc = val_acc_metric.result()
    val_loss = val_loss_metric.result()
    val_acc_metric.reset_states()
    val_loss_metric.reset_states()
    print("Validation acc: %.4f" % (float(val_acc),))
    print("Time taken: %.2fs" % (time.time() - start_time))

    # The early stopping strategy: stop the training if `val_loss` does not
    # decrease for a certain number of epoches.
    wait += 1
    if val_loss > best:
      best = val_loss
      wait = 0
    if wait >= patience:
      break

# the last epoch's validation metrics against NumPy on the model's logits: the accuracy of the
# argmax, and Keras' cross-entropy of non-logits, which the page feeds logits: the rows scaled to
# sum 1, then clipped to [1e-7, 1 - 1e-7], as Keras 3 on torch computes it (TensorFlow clips
# first and then normalizes; the two agree on probabilities, not on logits like these)
logits = np.asarray(model.predict(x_test.astype("float32") / 255., verbose=0), np.float64)
acc = np.mean(np.argmax(logits, -1) == y_test)
probs = np.clip(logits / logits.sum(-1, keepdims=True), 1e-7, 1 - 1e-7)
xent = np.mean(-np.log(probs[np.arange(len(y_test)), y_test]))
print("val acc", float(val_acc), acc, "val loss", float(val_loss), xent)
np.testing.assert_allclose(float(val_acc), acc, rtol=1e-6)
np.testing.assert_allclose(float(val_loss), xent, rtol=1e-4)
assert float(val_acc) > 0.7
assert float(train_acc_metric.result()) == 0.0   # reset_states() emptied it
