"""TensorFlow tutorial "Custom training loop with Keras and MultiWorkerMirroredStrategy"
(distribute/multi_worker_with_ctl), imports changed: the tutorial's `mnist` module (a shuffled
tf.data MNIST, a `dataset_fn(global_batch_size, input_context)` using
input_context.get_per_replica_batch_size / num_input_pipelines / input_pipeline_id with
Dataset.shard, an L2-regularized CNN), MultiWorkerMirroredStrategy(),
strategy.distribute_datasets_from_function, RMSprop and a SparseCategoricalAccuracy made in the
scope, a tf.function train_step running strategy.run over next(iterator) with a Reduction.NONE
loss, tf.nn.compute_average_loss, tf.nn.scale_regularization_loss(tf.add_n(model.losses)) and
strategy.reduce(SUM), then the fault-tolerant loop: int64 tf.Variables `epoch` /
`step_in_epoch` in a tf.train.Checkpoint with the model, tf.train.ClusterSpec(tf_config['cluster'])
in the chief test, a CheckpointManager(max_to_keep=1) under multiprocessing.util.get_temp_dir(),
restore from tf.train.latest_checkpoint, metric reset_states(). Not run: the two `python main.py`
worker processes started with shell magics (a two-task cluster; corenn's multi-process training
is corenn.distributed under mpirun); the notebook itself runs without TF_CONFIG, as here.
MNIST is replaced by 2000 synthetic digits, so an epoch holds 15 global batches of 128:
num_steps_per_epoch=70 becomes 10. Checked: the loss falling, accuracy, one checkpoint kept, and
what restoring it gives back (the model and the epoch / step counters)."""
import json
import os
import sys

import numpy as np

os.environ.pop('TF_CONFIG', None)

if '.' not in sys.path:
  sys.path.insert(0, '.')

import corenn as tf

# mnist.py, which the notebook writes with %%writefile; MNIST's load_data is replaced by
# synthetic digits (a bright stroke per class, noisy), made in the module
with open("mnist.py", "w") as f:
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
  # The `x` arrays are in uint8 and have values in the range [0, 255].
  # You need to convert them to float32 with values in the range [0, 1]
  x_train = x_train / np.float32(255)
  y_train = y_train.astype(np.int64)
  train_dataset = tf.data.Dataset.from_tensor_slices(
      (x_train, y_train)).shuffle(60000)
  return train_dataset

def dataset_fn(global_batch_size, input_context):
  batch_size = input_context.get_per_replica_batch_size(global_batch_size)
  dataset = mnist_dataset(batch_size)
  dataset = dataset.shard(input_context.num_input_pipelines,
                          input_context.input_pipeline_id)
  dataset = dataset.batch(batch_size)
  return dataset

def build_cnn_model():
  regularizer = tf.keras.regularizers.L2(1e-5)
  return tf.keras.Sequential([
      tf.keras.Input(shape=(28, 28)),
      tf.keras.layers.Reshape(target_shape=(28, 28, 1)),
      tf.keras.layers.Conv2D(32, 3,
                             activation='relu',
                             kernel_regularizer=regularizer),
      tf.keras.layers.Flatten(),
      tf.keras.layers.Dense(128,
                            activation='relu',
                            kernel_regularizer=regularizer),
      tf.keras.layers.Dense(10, kernel_regularizer=regularizer)
  ])
''')
sys.modules.pop("mnist", None)

tf.keras.utils.set_random_seed(2)

tf_config = {
    'cluster': {
        'worker': ['localhost:12345', 'localhost:23456']
    },
    'task': {'type': 'worker', 'index': 0}
}
json.dumps(tf_config)

strategy = tf.distribute.MultiWorkerMirroredStrategy()

import mnist  # noqa: E402
with strategy.scope():
  # Model building needs to be within `strategy.scope()`.
  multi_worker_model = mnist.build_cnn_model()

per_worker_batch_size = 64
num_workers = len(tf_config['cluster']['worker'])
global_batch_size = per_worker_batch_size * num_workers

with strategy.scope():
  multi_worker_dataset = strategy.distribute_datasets_from_function(
      lambda input_context: mnist.dataset_fn(global_batch_size, input_context))

with strategy.scope():
  # The creation of optimizer and train_accuracy needs to be in
  # `strategy.scope()` as well, since they create variables.
  optimizer = tf.keras.optimizers.RMSprop(learning_rate=0.001)
  train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(
      name='train_accuracy')


@tf.function
def train_step(iterator):
  """Training step function."""

  def step_fn(inputs):
    """Per-Replica step function."""
    x, y = inputs
    with tf.GradientTape() as tape:
      predictions = multi_worker_model(x, training=True)
      per_example_loss = tf.keras.losses.SparseCategoricalCrossentropy(
          from_logits=True,
          reduction=tf.keras.losses.Reduction.NONE)(y, predictions)
      loss = tf.nn.compute_average_loss(per_example_loss)
      model_losses = multi_worker_model.losses
      if model_losses:
        loss += tf.nn.scale_regularization_loss(tf.add_n(model_losses))

    grads = tape.gradient(loss, multi_worker_model.trainable_variables)
    optimizer.apply_gradients(
        zip(grads, multi_worker_model.trainable_variables))
    train_accuracy.update_state(y, predictions)
    return loss

  per_replica_losses = strategy.run(step_fn, args=(next(iterator),))
  return strategy.reduce(
      tf.distribute.ReduceOp.SUM, per_replica_losses, axis=None)


from multiprocessing import util  # noqa: E402
checkpoint_dir = os.path.join(util.get_temp_dir(), 'ckpt')


def _is_chief(task_type, task_id, cluster_spec):
  return (task_type is None
          or task_type == 'chief'
          or (task_type == 'worker'
              and task_id == 0
              and "chief" not in cluster_spec.as_dict()))


def _get_temp_dir(dirpath, task_id):
  base_dirpath = 'workertemp_' + str(task_id)
  temp_dir = os.path.join(dirpath, base_dirpath)
  tf.io.gfile.makedirs(temp_dir)
  return temp_dir


def write_filepath(filepath, task_type, task_id, cluster_spec):
  dirpath = os.path.dirname(filepath)
  base = os.path.basename(filepath)
  if not _is_chief(task_type, task_id, cluster_spec):
    dirpath = _get_temp_dir(dirpath, task_id)
  return os.path.join(dirpath, base)


epoch = tf.Variable(
    initial_value=tf.constant(0, dtype=tf.dtypes.int64), name='epoch')
step_in_epoch = tf.Variable(
    initial_value=tf.constant(0, dtype=tf.dtypes.int64),
    name='step_in_epoch')
task_type, task_id = (strategy.cluster_resolver.task_type,
                      strategy.cluster_resolver.task_id)
# Normally, you don't need to manually instantiate a `ClusterSpec`, but in this
# illustrative example you did not set `'TF_CONFIG'` before initializing the
# strategy. Check out the next section for "real-world" usage.
cluster_spec = tf.train.ClusterSpec(tf_config['cluster'])

checkpoint = tf.train.Checkpoint(
    model=multi_worker_model, epoch=epoch, step_in_epoch=step_in_epoch)

write_checkpoint_dir = write_filepath(checkpoint_dir, task_type, task_id,
                                      cluster_spec)
checkpoint_manager = tf.train.CheckpointManager(
    checkpoint, directory=write_checkpoint_dir, max_to_keep=1)

losses, accuracies = [], []


def run_loop():
  latest_checkpoint = tf.train.latest_checkpoint(checkpoint_dir)
  if latest_checkpoint:
    checkpoint.restore(latest_checkpoint)

  num_epochs = 3
  num_steps_per_epoch = 10

  while epoch.numpy() < num_epochs:
    iterator = iter(multi_worker_dataset)
    total_loss = 0.0
    num_batches = 0

    while step_in_epoch.numpy() < num_steps_per_epoch:
      total_loss += train_step(iterator)
      num_batches += 1
      step_in_epoch.assign_add(1)

    train_loss = total_loss / num_batches
    print('Epoch: %d, accuracy: %f, train_loss: %f.'
                  %(epoch.numpy(), train_accuracy.result(), train_loss))
    losses.append(float(train_loss))
    accuracies.append(float(train_accuracy.result()))

    train_accuracy.reset_states()

    # Once the `CheckpointManager` is set up, you're now ready to save, and remove
    # the checkpoints non-chief workers saved.
    checkpoint_manager.save()
    if not _is_chief(task_type, task_id, cluster_spec):
      tf.io.gfile.rmtree(write_checkpoint_dir)

    epoch.assign_add(1)
    step_in_epoch.assign(0)


run_loop()

# the check: three epochs trained, the loss fell, accuracy rose, one checkpoint is kept
assert len(losses) == 3 and losses[-1] < losses[0], losses
assert accuracies[-1] > 0.8, accuracies
assert _is_chief(task_type, task_id, cluster_spec) and write_checkpoint_dir == checkpoint_dir
assert len(checkpoint_manager.checkpoints) == 1
assert int(optimizer.iterations.numpy()) == 30

# the checkpoint holds the state saved at the end of the last epoch, before the loop's
# increments (epoch 2, step 10), and the weights of that moment
saved = multi_worker_model.get_weights()
epoch.assign(0)
step_in_epoch.assign(0)
multi_worker_model.set_weights([np.zeros_like(w) for w in saved])
checkpoint.restore(tf.train.latest_checkpoint(checkpoint_dir))
assert (int(epoch.numpy()), int(step_in_epoch.numpy())) == (2, 10)
for a, b in zip(multi_worker_model.get_weights(), saved):
  np.testing.assert_array_equal(a, b)
