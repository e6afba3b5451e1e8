"""TensorFlow guide "Distributed training with TensorFlow" (guide/distributed_training), imports
changed: the strategies it constructs (MirroredStrategy, with devices= and with
cross_device_ops=tf.distribute.HierarchicalCopyAllReduce(); MultiWorkerMirroredStrategy, also with
tf.distribute.experimental.CommunicationOptions(NCCL); experimental.CentralStorageStrategy;
tf.distribute.get_strategy() and its reduce("SUM", 1., axis=None)), a Variable made in a scope,
Keras compile / fit / evaluate of an L2-regularized Dense under MirroredStrategy.scope() on a
Dataset and on arrays, the global batch size from num_replicas_in_sync, and the custom loop:
experimental_distribute_dataset, BinaryCrossentropy(from_logits=True,
reduction=tf.keras.losses.Reduction.NONE), tf.nn.compute_average_loss,
tf.nn.scale_regularization_loss(tf.add_n(model.losses)), strategy.run inside a tf.function and
strategy.reduce(ReduceOp.SUM). On this one-device machine every strategy has one replica, so
MirroredStrategy(devices=["/gpu:0", "/gpu:1"]) names devices that are not here; the page's cell
is kept but run only where two GPUs are visible, as the page assumes them. Checked: the reduce
value, evaluate's loss by hand, the fit losses falling on the constant data, and the custom loop's loss
against the loss recomputed by hand (BCE on logits, averaged over the global batch, plus the
L2 term)."""
import numpy as np
import corenn as tf

mirrored_strategy = tf.distribute.MirroredStrategy()

if len(tf.config.list_physical_devices('GPU')) >= 2:
  mirrored_strategy = tf.distribute.MirroredStrategy(devices=["/gpu:0", "/gpu:1"])

mirrored_strategy = tf.distribute.MirroredStrategy(
    cross_device_ops=tf.distribute.HierarchicalCopyAllReduce())

strategy = tf.distribute.MultiWorkerMirroredStrategy()

communication_options = tf.distribute.experimental.CommunicationOptions(
    implementation=tf.distribute.experimental.CommunicationImplementation.NCCL)
strategy = tf.distribute.MultiWorkerMirroredStrategy(
    communication_options=communication_options)

central_storage_strategy = tf.distribute.experimental.CentralStorageStrategy()

default_strategy = tf.distribute.get_strategy()

# In optimizer or other library code
# Get currently active strategy
strategy = tf.distribute.get_strategy()
reduced = strategy.reduce("SUM", 1., axis=None)  # reduce some values
assert float(reduced) == 1.0

if tf.config.list_physical_devices('GPU'):
  strategy = tf.distribute.MirroredStrategy()
else:  # Use the Default Strategy
  strategy = tf.distribute.get_strategy()

with strategy.scope():
  # Do something interesting
  print(tf.Variable(1.))

mirrored_strategy = tf.distribute.MirroredStrategy()

with mirrored_strategy.scope():
  model = tf.keras.Sequential([
      tf.keras.layers.Dense(1, input_shape=(1,),
                            kernel_regularizer=tf.keras.regularizers.L2(1e-4))])
  model.compile(loss='mse', optimizer='sgd')

dataset = tf.data.Dataset.from_tensors(([1.], [1.])).repeat(100).batch(10)
first_history = model.fit(dataset, epochs=2)
evaluated = model.evaluate(dataset)
# evaluate's loss: the MSE at x = 1 plus the L2 term
w, b = [np.asarray(v, np.float64) for v in model.get_weights()]
np.testing.assert_allclose(evaluated, (w[0, 0] + b[0] - 1) ** 2 + 1e-4 * w[0, 0] ** 2, rtol=1e-5)

inputs, targets = np.ones((100, 1)), np.ones((100, 1))
history = model.fit(inputs, targets, epochs=2, batch_size=10)
losses = first_history.history['loss'] + history.history['loss']
assert all(b < a for a, b in zip(losses, losses[1:])), losses   # SGD on y = x at x = 1

print(mirrored_strategy.num_replicas_in_sync)

# Compute a global batch size using a number of replicas.
BATCH_SIZE_PER_REPLICA = 5
global_batch_size = (BATCH_SIZE_PER_REPLICA *
                     mirrored_strategy.num_replicas_in_sync)
dataset = tf.data.Dataset.from_tensors(([1.], [1.])).repeat(100)
dataset = dataset.batch(global_batch_size)

LEARNING_RATES_BY_BATCH_SIZE = {5: 0.1, 10: 0.15, 20:0.175}
learning_rate = LEARNING_RATES_BY_BATCH_SIZE[global_batch_size]

with mirrored_strategy.scope():
  model = tf.keras.Sequential([
      tf.keras.layers.Dense(1, input_shape=(1,),
                            kernel_regularizer=tf.keras.regularizers.L2(1e-4))])
  optimizer = tf.keras.optimizers.SGD()

dataset = tf.data.Dataset.from_tensors(([1.], [1.])).repeat(1000).batch(
    global_batch_size)
dist_dataset = mirrored_strategy.experimental_distribute_dataset(dataset)

# Sets `reduction=NONE` to leave it to tf.nn.compute_average_loss() below.
loss_object = tf.keras.losses.BinaryCrossentropy(
  from_logits=True,
  reduction=tf.keras.losses.Reduction.NONE)

def train_step(inputs):
  features, labels = inputs

  with tf.GradientTape() as tape:
    predictions = model(features, training=True)
    per_example_loss = loss_object(labels, predictions)
    loss = tf.nn.compute_average_loss(per_example_loss)
    model_losses = model.losses
    if model_losses:
      loss += tf.nn.scale_regularization_loss(tf.add_n(model_losses))

  gradients = tape.gradient(loss, model.trainable_variables)
  optimizer.apply_gradients(zip(gradients, model.trainable_variables))
  return loss

@tf.function
def distributed_train_step(dist_inputs):
  per_replica_losses = mirrored_strategy.run(train_step, args=(dist_inputs,))
  return mirrored_strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica_losses,
                         axis=None)

model.build((None, 1))
first = True
for dist_inputs in dist_dataset:
  if first:
    # the loss of the first step by hand: BCE of the logit w x + b against 1, averaged over
    # the global batch, plus the L2 term 1e-4 * w^2 (one replica: scaled by 1)
    w, b = [np.asarray(v, np.float64) for v in model.get_weights()]
    logit = w[0, 0] + b[0]
    expected = np.log1p(np.exp(-logit)) + 1e-4 * w[0, 0] ** 2
  loss = distributed_train_step(dist_inputs)
  if first:
    np.testing.assert_allclose(float(loss), expected, rtol=1e-5)
    first = False
print(loss)

iterator = iter(dist_dataset)
for _ in range(10):
  print(distributed_train_step(next(iterator)))
assert float(loss) < expected   # 200 SGD steps pushed the logit of the positive label up
