"""TensorFlow guide "Migrate the fault tolerance mechanism" (guide/migrate/fault_tolerance), imports
changed: its TensorFlow 2 parts (the TF1 part needs tf.compat.v1.estimator, which corenn does not
have): `tf.keras.callbacks.BackupAndRestore(backup_dir=tempfile.mkdtemp())` with a callback that
raises in epoch 4, the exception caught, and a new model's `fit` resuming from the backup
(compiled with `steps_per_execution=10`); then a custom loop with `tf.train.Checkpoint(model=...,
optimizer=...)`, `tf.train.CheckpointManager(checkpoint, log_dir, max_to_keep=2)`,
`checkpoint_manager.save()` every step and `tf.train.load_checkpoint(save_path)` each epoch. A
1000 / 200 image Fashion-MNIST subset (guide_data) stands in for MNIST. Checked: the resumed fit
runs only the epochs left, the manager keeps two checkpoints and numbers them, and the reader
(`tf.train.load_checkpoint`, under corenn's names for the values) holds the model's weights."""
import os
import tempfile
import numpy as np
import corenn as tf

from guide_data import fashion

(x_train, y_train), (x_test, y_test) = fashion(1000, 200)
x_train, x_test = x_train / 255.0, x_test / 255.0


class InterruptingCallback(tf.keras.callbacks.Callback):
  # A callback for artificially interrupting training.
  def on_epoch_end(self, epoch, log=None):
    if epoch == 4:
      raise RuntimeError('Interruption')


def create_model():
  return tf.keras.models.Sequential([
    tf.keras.layers.Flatten(input_shape=(28, 28)),
    tf.keras.layers.Dense(512, activation='relu'),
    tf.keras.layers.Dropout(0.2),
    tf.keras.layers.Dense(10)
  ])


loss = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

model = create_model()
model.compile(optimizer='adam',
              loss=loss,
              metrics=['accuracy'],
              steps_per_execution=10)

log_dir = tempfile.mkdtemp()

backup_restore_callback = tf.keras.callbacks.BackupAndRestore(
    backup_dir = log_dir
)

interrupted = None
try:
  model.fit(x=x_train,
            y=y_train,
            epochs=10,
            validation_data=(x_test, y_test),
            callbacks=[backup_restore_callback, InterruptingCallback()],
            verbose=0)
except Exception as e:
  print(f'{type(e).__name__}:{e}')
  interrupted = e
assert isinstance(interrupted, RuntimeError) and str(interrupted) == "Interruption"

model = create_model()
model.compile(optimizer='adam',
              loss=loss,
              metrics=['accuracy'],
              steps_per_execution=10)
history = model.fit(x=x_train,
                    y=y_train,
                    epochs=10,
                    validation_data=(x_test, y_test),
                    callbacks=[backup_restore_callback],
                    verbose=0)
# the backup was written at the end of epoch 4 (its on_epoch_end runs before the interruption's),
# so the new fit runs epochs 5..9 only
print("epochs run after resuming:", len(history.history["loss"]), history.epoch)
assert history.epoch == [5, 6, 7, 8, 9], history.epoch
assert history.history["val_accuracy"][-1] > 0.6

model = create_model()
optimizer = tf.keras.optimizers.SGD(learning_rate=0.001)
loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
log_dir = tempfile.mkdtemp()
epochs = 5
steps_per_epoch = 5

checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
checkpoint_manager = tf.train.CheckpointManager(
            checkpoint, log_dir, max_to_keep=2)

for epoch in range(epochs):
  if epoch > 0:
      tf.train.load_checkpoint(save_path)
  print(f"\nStart of epoch {epoch}")

  for step in range(steps_per_epoch):
    with tf.GradientTape() as tape:

      logits = model(x_train, training=True)
      loss_value = loss_fn(y_train, logits)

      grads = tape.gradient(loss_value, model.trainable_weights)
      optimizer.apply_gradients(zip(grads, model.trainable_weights))

    save_path = checkpoint_manager.save()
    print(f"Checkpoint saved to {save_path}")
    print(f"Training loss at step {step}: {loss_value}")

# 25 saves, numbered from 1; the manager keeps the last two
assert save_path == checkpoint_manager.latest_checkpoint and save_path.endswith("ckpt-25"), save_path
assert len(checkpoint_manager.checkpoints) == 2 and checkpoint_manager.checkpoints[0].endswith("ckpt-24")
reader = tf.train.load_checkpoint(save_path)
shapes = reader.get_variable_to_shape_map()
# corenn names the values by the Checkpoint's keywords (model.w0, ...; TensorFlow by object paths):
# the model's weights as they are after the last step, which the last save wrote
saved = [reader.get_tensor(f"model.w{i}") for i in range(len(model.weights))]
for a, w in zip(saved, model.get_weights()):
    np.testing.assert_array_equal(a, w)
assert int(reader.get_tensor("save_counter")) == 25 and reader.has_tensor("optimizer.iterations")
assert int(reader.get_tensor("optimizer.iterations")) == 25
assert dict(tf.train.list_variables(log_dir))["model.w0"] == list(model.weights[0].shape)
