"""TensorFlow tutorial distribute/keras ("Distributed training with Keras"), imports changed:
MirroredStrategy, strategy.scope() around building and compiling, the global batch size from
num_replicas_in_sync, a tf.data pipeline, ModelCheckpoint / LearningRateScheduler / a callback
printing the learning rate, then reloading the last checkpoint and evaluating. TFDS MNIST is
replaced by a Fashion-MNIST subset; the checkpoints are Keras 3 weight files (.weights.h5 names:
corenn writes no TensorFlow-format checkpoints, and tf.train.latest_checkpoint is not used).
corenn runs one replica per process, whose kernels use every core (corenn.distributed is the
multi-process path), so num_replicas_in_sync is 1 and the script trains as without a strategy."""
import os

import numpy as np

import corenn as tf
from guide_data import fashion

tf.keras.utils.set_random_seed(0)
(x_train, y_train), (x_test, y_test) = fashion(3000, 500)
mnist_train = tf.data.Dataset.from_tensor_slices((x_train[..., None], y_train))
mnist_test = tf.data.Dataset.from_tensor_slices((x_test[..., None], y_test))

strategy = tf.distribute.MirroredStrategy()
print('Number of devices: {}'.format(strategy.num_replicas_in_sync))
assert strategy.num_replicas_in_sync == 1

BUFFER_SIZE = 3000
BATCH_SIZE_PER_REPLICA = 64
BATCH_SIZE = BATCH_SIZE_PER_REPLICA * strategy.num_replicas_in_sync


def scale(image, label):
  image = tf.cast(image, tf.float32)
  image /= 255
  return image, label


train_dataset = mnist_train.map(scale).cache().shuffle(BUFFER_SIZE).batch(BATCH_SIZE)
eval_dataset = mnist_test.map(scale).batch(BATCH_SIZE)

with strategy.scope():
  assert tf.distribute.get_strategy() is strategy and tf.distribute.has_strategy()
  model = tf.keras.Sequential([
      tf.keras.layers.Conv2D(32, 3, activation='relu', input_shape=(28, 28, 1)),
      tf.keras.layers.MaxPooling2D(),
      tf.keras.layers.Flatten(),
      tf.keras.layers.Dense(64, activation='relu'),
      tf.keras.layers.Dense(10)
  ])

  model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                optimizer=tf.keras.optimizers.Adam(),
                metrics=['accuracy'])
assert not tf.distribute.has_strategy()

# Define the checkpoint directory to store the checkpoints.
checkpoint_dir = './training_checkpoints'
# Define the name of the checkpoint files.
checkpoint_prefix = os.path.join(checkpoint_dir, "ckpt_{epoch}.weights.h5")


# Define a function for decaying the learning rate.
def decay(epoch):
  if epoch < 1:
    return 1e-3
  elif epoch >= 1 and epoch < 2:
    return 1e-4
  else:
    return 1e-5


seen_rates = []


# Define a callback for printing the learning rate at the end of each epoch.
class PrintLR(tf.keras.callbacks.Callback):
  def on_epoch_end(self, epoch, logs=None):
    print('\nLearning rate for epoch {} is {}'.format(epoch + 1, model.optimizer.learning_rate.numpy()))
    seen_rates.append(float(model.optimizer.learning_rate.numpy()))


callbacks = [
    tf.keras.callbacks.ModelCheckpoint(filepath=checkpoint_prefix,
                                       save_weights_only=True),
    tf.keras.callbacks.LearningRateScheduler(decay),
    PrintLR()
]

EPOCHS = 3
history = model.fit(train_dataset, epochs=EPOCHS, callbacks=callbacks, verbose=0)
np.testing.assert_allclose(seen_rates, [1e-3, 1e-4, 1e-5], rtol=1e-6)
print(sorted(os.listdir(checkpoint_dir)))
assert sorted(os.listdir(checkpoint_dir)) == [f"ckpt_{e}.weights.h5" for e in (1, 2, 3)]

eval_loss, eval_acc = model.evaluate(eval_dataset, verbose=0)
model.load_weights(os.path.join(checkpoint_dir, "ckpt_3.weights.h5"))
reloaded_loss, reloaded_acc = model.evaluate(eval_dataset, verbose=0)
print('Eval loss: {}, Eval accuracy: {}'.format(eval_loss, eval_acc))
assert abs(reloaded_loss - eval_loss) < 1e-5 and reloaded_acc == eval_acc
assert eval_acc > 0.7, eval_acc

# the per-replica step of a custom loop, as the custom-training distribution tutorial writes it
with strategy.scope():
  loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

  def compute_loss(labels, predictions):
    per_example_loss = loss_object(labels, predictions)
    return tf.reduce_sum(per_example_loss) / BATCH_SIZE


def train_step(inputs):
  images, labels = inputs
  with tf.GradientTape() as tape:
    predictions = model(images, training=True)
    loss = compute_loss(labels, predictions)
  gradients = tape.gradient(loss, model.trainable_variables)
  model.optimizer.apply_gradients(zip(gradients, model.trainable_variables))
  return loss


dist_dataset = strategy.experimental_distribute_dataset(train_dataset)
total_loss, num_batches = 0.0, 0
for x in dist_dataset:
  per_replica_losses = strategy.run(train_step, args=(x,))
  total_loss += float(strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica_losses, axis=None))
  num_batches += 1
assert num_batches == 47 and np.isfinite(total_loss)
per_sample = strategy.reduce("MEAN", tf.constant([[1.0, 3.0], [5.0, 7.0]]), axis=0)
np.testing.assert_allclose(per_sample.numpy(), [3.0, 5.0])

try:
  tf.distribute.MirroredStrategy(["/gpu:0", "/gpu:1"])
  raise AssertionError("two devices in one process should be refused")
except NotImplementedError as exc:
  assert "corenn.distributed" in str(exc)
