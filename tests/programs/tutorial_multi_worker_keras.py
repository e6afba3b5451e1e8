"""TensorFlow tutorial "Multi-worker training with Keras" (distribute/multi_worker_with_keras),
imports changed: the tutorial's `mnist_setup` module (a repeated, shuffled tf.data MNIST pipeline
and a Sequential CNN with InputLayer(input_shape=...) / Reshape / Conv2D), single-worker fit, a
TF_CONFIG dict serialized with json, MultiWorkerMirroredStrategy() and a model built in its
scope, tf.data.Options with AutoShardPolicy.OFF, the chief / temp-directory saving pattern
(`strategy.cluster_resolver.task_type` / `task_id`, tf.io.gfile.makedirs / rmtree, model.save and
tf.keras.models.load_model), a tf.train.CheckpointManager of the model restored with
tf.train.latest_checkpoint, and BackupAndRestore with save_freq='epoch' and save_freq=30.
Not run: the two `python main.py` worker processes the notebook starts with shell magics (a
two-task cluster: corenn's multi-process training is corenn.distributed under mpirun); the
notebook itself runs, as here, without TF_CONFIG, so its strategy is the one local worker.
MNIST is replaced by 2000 synthetic digits; /tmp/... paths by the same names under
tempfile.gettempdir(); steps_per_epoch=70 is cut to 20 (seconds instead of half a minute here).
Checked: the loss falling in the fits, the reloaded model's and the restored
checkpoint's predictions, the backup directory removed after a completed fit."""
import json
import os
import sys
import tempfile

import numpy as np

os.environ.pop('TF_CONFIG', None)

import corenn as tf

if '.' not in sys.path:
  sys.path.insert(0, '.')

# mnist_setup.py, which the notebook writes with %%writefile; MNIST's load_data is replaced by
# synthetic digits (a bright stroke per class, noisy), made in the module
with open("mnist_setup.py", "w") as f:
  f.write('''
import os
import corenn as tf
import numpy as np

def _synthetic_mnist():
  rng = np.random.default_rng(0)
  templates = np.zeros((10, 28, 28))
  for k in range(10):
    templates[k, 2 + 2 * k: 5 + 2 * k, 4:24] = 255
    templates[k, 4:24, 2 + 2 * k: 5 + 2 * k] = 160
  y = rng.integers(0, 10, 2000).astype("uint8")
  x = np.clip(templates[y] + rng.normal(0, 60, (2000, 28, 28)), 0, 255).astype("uint8")
  return (x, y), (None, None)

def mnist_dataset(batch_size):
  (x_train, y_train), _ = _synthetic_mnist()
  # The `x` arrays are in uint8 and have values in the [0, 255] range.
  # You need to convert them to float32 with values in the [0, 1] range.
  x_train = x_train / np.float32(255)
  y_train = y_train.astype(np.int64)
  train_dataset = tf.data.Dataset.from_tensor_slices(
      (x_train, y_train)).shuffle(60000).repeat().batch(batch_size)
  return train_dataset

def build_and_compile_cnn_model():
  model = tf.keras.Sequential([
      tf.keras.layers.InputLayer(input_shape=(28, 28)),
      tf.keras.layers.Reshape(target_shape=(28, 28, 1)),
      tf.keras.layers.Conv2D(32, 3, activation='relu'),
      tf.keras.layers.Flatten(),
      tf.keras.layers.Dense(128, activation='relu'),
      tf.keras.layers.Dense(10)
  ])
  model.compile(
      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      optimizer=tf.keras.optimizers.SGD(learning_rate=0.001),
      metrics=['accuracy'])
  return model
''')

sys.modules.pop("mnist_setup", None)
import mnist_setup  # noqa: E402

tf.keras.utils.set_random_seed(1)
batch_size = 64
single_worker_dataset = mnist_setup.mnist_dataset(batch_size)
single_worker_model = mnist_setup.build_and_compile_cnn_model()
hist = single_worker_model.fit(single_worker_dataset, epochs=3, steps_per_epoch=20)
print("single worker loss", hist.history['loss'])
assert hist.history['loss'][-1] < hist.history['loss'][0], hist.history

tf_config = {
    'cluster': {
        'worker': ['localhost:12345', 'localhost:23456']
    },
    'task': {'type': 'worker', 'index': 0}
}
assert json.loads(json.dumps(tf_config)) == tf_config

strategy = tf.distribute.MultiWorkerMirroredStrategy()

with strategy.scope():
  # Model building/compiling need to be within `strategy.scope()`.
  multi_worker_model = mnist_setup.build_and_compile_cnn_model()

options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF

global_batch_size = 64
multi_worker_dataset = mnist_setup.mnist_dataset(batch_size=64)
dataset_no_auto_shard = multi_worker_dataset.with_options(options)

model_path = os.path.join(tempfile.gettempdir(), 'keras-model')


def _is_chief(task_type, task_id):
  # Note: there are two possible `TF_CONFIG` configurations.
  #   1) In addition to `worker` tasks, a `chief` task type is use;
  #      in this case, this function should be modified to
  #      `return task_type == 'chief'`.
  #   2) Only `worker` task type is used; in this case, worker 0 is
  #      regarded as the chief. The implementation demonstrated here
  #      is for this case.
  # For the purpose of this Colab section, the `task_type` is `None` case
  # is added because it is effectively run with only a single worker.
  return (task_type == 'worker' and task_id == 0) or task_type is None


def _get_temp_dir(dirpath, task_id):
  base_dirpath = 'workertemp_' + str(task_id)
  temp_dir = os.path.join(dirpath, base_dirpath)
  tf.io.gfile.makedirs(temp_dir)
  return temp_dir


def write_filepath(filepath, task_type, task_id):
  dirpath = os.path.dirname(filepath)
  base = os.path.basename(filepath)
  if not _is_chief(task_type, task_id):
    dirpath = _get_temp_dir(dirpath, task_id)
  return os.path.join(dirpath, base)


task_type, task_id = (strategy.cluster_resolver.task_type,
                      strategy.cluster_resolver.task_id)
write_model_path = write_filepath(model_path, task_type, task_id)
assert _is_chief(task_type, task_id) and write_model_path == model_path

multi_worker_model.save(write_model_path)

if not _is_chief(task_type, task_id):
  tf.io.gfile.rmtree(os.path.dirname(write_model_path))

loaded_model = tf.keras.models.load_model(model_path)
probe = mnist_setup._synthetic_mnist()[0][0][:8] / np.float32(255)
np.testing.assert_allclose(loaded_model.predict(probe, verbose=0), multi_worker_model.predict(probe, verbose=0),
                           rtol=1e-5, atol=1e-6)

# Now that the model is restored, and can continue with the training.
loaded_model.fit(single_worker_dataset, epochs=2, steps_per_epoch=20)

checkpoint_dir = os.path.join(tempfile.gettempdir(), 'ckpt')

checkpoint = tf.train.Checkpoint(model=multi_worker_model)
write_checkpoint_dir = write_filepath(checkpoint_dir, task_type, task_id)
checkpoint_manager = tf.train.CheckpointManager(
    checkpoint, directory=write_checkpoint_dir, max_to_keep=1)

checkpoint_manager.save()
if not _is_chief(task_type, task_id):
  tf.io.gfile.rmtree(write_checkpoint_dir)

saved_pred = multi_worker_model.predict(probe, verbose=0)
multi_worker_model.fit(multi_worker_dataset, epochs=1, steps_per_epoch=5)   # move away from it ...
latest_checkpoint = tf.train.latest_checkpoint(checkpoint_dir)
checkpoint.restore(latest_checkpoint)
# ... and back: the restored weights give the saved predictions
np.testing.assert_allclose(multi_worker_model.predict(probe, verbose=0), saved_pred, rtol=1e-5, atol=1e-6)
multi_worker_model.fit(multi_worker_dataset, epochs=2, steps_per_epoch=20)

# Multi-worker training with `MultiWorkerMirroredStrategy`
# and the `BackupAndRestore` callback. The training state
# is backed up at epoch boundaries by default.
backup_dir = os.path.join(tempfile.gettempdir(), 'backup')

callbacks = [tf.keras.callbacks.BackupAndRestore(backup_dir=backup_dir)]
with strategy.scope():
  multi_worker_model = mnist_setup.build_and_compile_cnn_model()
multi_worker_model.fit(multi_worker_dataset,
                       epochs=3,
                       steps_per_epoch=20,
                       callbacks=callbacks)

# The training state is backed up at every 30 steps because `save_freq` is set
# to an integer value of `30`.

callbacks = [tf.keras.callbacks.BackupAndRestore(backup_dir=backup_dir, save_freq=30)]
with strategy.scope():
  multi_worker_model = mnist_setup.build_and_compile_cnn_model()
hist = multi_worker_model.fit(multi_worker_dataset,
                              epochs=3,
                              steps_per_epoch=20,
                              callbacks=callbacks)

# the check: the last model learned, and a completed fit deleted its backup
assert hist.history['loss'][-1] < hist.history['loss'][0], hist.history
assert not os.path.exists(backup_dir) or not os.listdir(backup_dir), os.listdir(backup_dir)
