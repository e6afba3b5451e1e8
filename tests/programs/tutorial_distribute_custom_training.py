"""TensorFlow tutorial "Custom training with tf.distribute.Strategy"
(tensorflow.org/tutorials/distribute/custom_training), imports changed (`import corenn as tf`):
`MirroredStrategy`, the global batch size from `num_replicas_in_sync`,
`strategy.experimental_distribute_dataset`, a Sequential CNN with `L2` kernel regularizers, the
loss built under the scope with `Reduction.NONE` + `tf.nn.compute_average_loss` +
`tf.nn.scale_regularization_loss(tf.add_n(model.losses))`, Mean / SparseCategoricalAccuracy
metrics, `tf.train.Checkpoint(optimizer=..., model=...)` saved every other epoch, the
`@tf.function` `distributed_train_step` (`strategy.run` + `strategy.reduce(ReduceOp.SUM, ...,
axis=None)`) and `distributed_test_step`, restoring the latest checkpoint into a new model without
a strategy, the `iter(train_dist_dataset)` / `next` loop, and the whole epoch inside one
`tf.function`. Fashion-MNIST is replaced by 640 + 160 synthetic 16x16 uint8 images (one fixed
black-and-white pattern per class plus noise); the network is narrowed and the inner `next` loop takes 5
steps instead of 10."""
# Import TensorFlow
import corenn as tf

# Helper libraries
import numpy as np
import os

print(tf.__version__)
tf.keras.utils.set_random_seed(5)
rng = np.random.default_rng(5)

templates = 255.0 * (rng.uniform(size=(10, 16, 16)) > 0.5)   # high-contrast class patterns


def make_fashion(n):
    labels = rng.integers(0, 10, n).astype("uint8")
    images = np.clip(templates[labels] + rng.normal(0, 30, (n, 16, 16)), 0, 255).astype("uint8")
    return images, labels


(train_images, train_labels), (test_images, test_labels) = make_fashion(640), make_fashion(160)

# Add a dimension to the array -> new shape == (16, 16, 1)
# This is done because the first layer in our model is a convolutional
# layer and it requires a 4D input (batch_size, height, width, channels).
# batch_size dimension will be added later on.
train_images = train_images[..., None]
test_images = test_images[..., None]

# Scale the images to the [0, 1] range.
train_images = train_images / np.float32(255)
test_images = test_images / np.float32(255)

# If the list of devices is not specified in
# `tf.distribute.MirroredStrategy` constructor, they will be auto-detected.
strategy = tf.distribute.MirroredStrategy()

print('Number of devices: {}'.format(strategy.num_replicas_in_sync))

BUFFER_SIZE = len(train_images)

BATCH_SIZE_PER_REPLICA = 64
GLOBAL_BATCH_SIZE = BATCH_SIZE_PER_REPLICA * strategy.num_replicas_in_sync

EPOCHS = 10

train_dataset = tf.data.Dataset.from_tensor_slices((train_images, train_labels)).shuffle(BUFFER_SIZE).batch(GLOBAL_BATCH_SIZE)
test_dataset = tf.data.Dataset.from_tensor_slices((test_images, test_labels)).batch(GLOBAL_BATCH_SIZE)

train_dist_dataset = strategy.experimental_distribute_dataset(train_dataset)
test_dist_dataset = strategy.experimental_distribute_dataset(test_dataset)


def create_model():
  regularizer = tf.keras.regularizers.L2(1e-5)
  model = tf.keras.Sequential([
      tf.keras.layers.Conv2D(8, 3,
                             activation='relu',
                             kernel_regularizer=regularizer),
      tf.keras.layers.MaxPooling2D(),
      tf.keras.layers.Conv2D(16, 3,
                             activation='relu',
                             kernel_regularizer=regularizer),
      tf.keras.layers.MaxPooling2D(),
      tf.keras.layers.Flatten(),
      tf.keras.layers.Dense(32,
                            activation='relu',
                            kernel_regularizer=regularizer),
      tf.keras.layers.Dense(10, kernel_regularizer=regularizer)
    ])

  return model


# Create a checkpoint directory to store the checkpoints.
checkpoint_dir = './training_checkpoints'
checkpoint_prefix = os.path.join(checkpoint_dir, "ckpt")

with strategy.scope():
  # Set reduction to `NONE` so you can do the reduction yourself.
  loss_object = tf.keras.losses.SparseCategoricalCrossentropy(
      from_logits=True,
      reduction=tf.keras.losses.Reduction.NONE)
  def compute_loss(labels, predictions, model_losses):
    per_example_loss = loss_object(labels, predictions)
    loss = tf.nn.compute_average_loss(per_example_loss)
    if model_losses:
      loss += tf.nn.scale_regularization_loss(tf.add_n(model_losses))
    return loss

with strategy.scope():
  test_loss = tf.keras.metrics.Mean(name='test_loss')

  train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(
      name='train_accuracy')
  test_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(
      name='test_accuracy')

# A model, an optimizer, and a checkpoint must be created under `strategy.scope`.
with strategy.scope():
  model = create_model()

  optimizer = tf.keras.optimizers.Adam(learning_rate=0.001)

  checkpoint = tf.train.Checkpoint(optimizer=optimizer, model=model)

# compute_loss against NumPy: the mean per-example cross entropy plus the L2 penalties
probe_logits = rng.normal(size=(4, 10)).astype("float32")
probe_labels = np.array([1, 0, 9, 3])
model(train_images[:1])   # build, so model.losses holds the four kernels' penalties
assert len(model.losses) == 4
ce = -np.log(np.exp(probe_logits) / np.exp(probe_logits).sum(-1, keepdims=True))[np.arange(4), probe_labels]
l2 = sum(1e-5 * np.sum(np.square(np.array(l.kernel))) for l in model.layers if hasattr(l, "kernel"))
np.testing.assert_allclose(float(compute_loss(probe_labels, tf.constant(probe_logits), model.losses)),
                           ce.mean() + l2 / strategy.num_replicas_in_sync, rtol=1e-5)


def train_step(inputs):
  images, labels = inputs

  with tf.GradientTape() as tape:
    predictions = model(images, training=True)
    loss = compute_loss(labels, predictions, model.losses)

  gradients = tape.gradient(loss, model.trainable_variables)
  optimizer.apply_gradients(zip(gradients, model.trainable_variables))

  train_accuracy.update_state(labels, predictions)
  return loss

def test_step(inputs):
  images, labels = inputs

  predictions = model(images, training=False)
  t_loss = loss_object(labels, predictions)

  test_loss.update_state(t_loss)
  test_accuracy.update_state(labels, predictions)


# `run` replicates the provided computation and runs it
# with the distributed input.
@tf.function
def distributed_train_step(dataset_inputs):
  per_replica_losses = strategy.run(train_step, args=(dataset_inputs,))
  return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica_losses,
                         axis=None)

@tf.function
def distributed_test_step(dataset_inputs):
  return strategy.run(test_step, args=(dataset_inputs,))

history = []
for epoch in range(EPOCHS):
  # TRAIN LOOP
  total_loss = 0.0
  num_batches = 0
  for x in train_dist_dataset:
    total_loss += distributed_train_step(x)
    num_batches += 1
  train_loss = total_loss / num_batches

  # TEST LOOP
  for x in test_dist_dataset:
    distributed_test_step(x)

  if epoch % 2 == 0:
    checkpoint.save(checkpoint_prefix)

  template = ("Epoch {}, Loss: {}, Accuracy: {}, Test Loss: {}, "
              "Test Accuracy: {}")
  print(template.format(epoch + 1, train_loss,
                         train_accuracy.result() * 100, test_loss.result(),
                         test_accuracy.result() * 100))
  history.append((float(train_loss), float(test_loss.result()), float(test_accuracy.result())))

  test_loss.reset_states()
  train_accuracy.reset_states()
  test_accuracy.reset_states()

assert num_batches == 10
# the check: the loss fell and the test accuracy is far above chance (10 classes)
assert history[-1][0] < 0.5 * history[0][0], history
assert history[-1][2] > 0.8, history

eval_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(
      name='eval_accuracy')

new_model = create_model()
new_optimizer = tf.keras.optimizers.Adam()

test_dataset = tf.data.Dataset.from_tensor_slices((test_images, test_labels)).batch(GLOBAL_BATCH_SIZE)


@tf.function
def eval_step(images, labels):
  predictions = new_model(images, training=False)
  eval_accuracy(labels, predictions)


checkpoint = tf.train.Checkpoint(optimizer=new_optimizer, model=new_model)
latest = tf.train.latest_checkpoint(checkpoint_dir)
checkpoint.restore(latest)

for images, labels in test_dataset:
  eval_step(images, labels)

print('Accuracy after restoring the saved model without strategy: {}'.format(
    eval_accuracy.result() * 100))
# saved after epochs 1, 3, 5, 7, 9: the latest is ckpt-5, holding the optimizer's step count then
assert latest.endswith("ckpt-5"), latest
assert int(new_optimizer.iterations) == 9 * num_batches
assert float(eval_accuracy.result()) > 0.6

for _ in range(EPOCHS):
  total_loss = 0.0
  num_batches = 0
  train_iter = iter(train_dist_dataset)

  for _ in range(5):
    total_loss += distributed_train_step(next(train_iter))
    num_batches += 1
  average_train_loss = total_loss / num_batches

  template = ("Epoch {}, Loss: {}, Accuracy: {}")
  print(template.format(epoch + 1, average_train_loss, train_accuracy.result() * 100))
  train_accuracy.reset_states()
assert int(optimizer.iterations) == EPOCHS * 10 + EPOCHS * 5


@tf.function
def distributed_train_epoch(dataset):
  total_loss = 0.0
  num_batches = 0
  for x in dataset:
    per_replica_losses = strategy.run(train_step, args=(x,))
    total_loss += strategy.reduce(
      tf.distribute.ReduceOp.SUM, per_replica_losses, axis=None)
    num_batches += 1
  return total_loss / tf.cast(num_batches, dtype=tf.float32)

for epoch in range(EPOCHS):
  train_loss = distributed_train_epoch(train_dist_dataset)

  template = ("Epoch {}, Loss: {}, Accuracy: {}")
  print(template.format(epoch + 1, train_loss, train_accuracy.result() * 100))
  final_accuracy = float(train_accuracy.result())

  train_accuracy.reset_states()
assert int(optimizer.iterations) == EPOCHS * 10 + EPOCHS * 5 + EPOCHS * 10
assert float(train_loss) < history[0][0] * 0.3 and final_accuracy > 0.9, (float(train_loss), final_accuracy)
