"""TensorFlow tutorial "Distributed input" (tutorials/distribute/input), imports changed: a
dataset iterated into a `tf.function`, `MirroredStrategy.experimental_distribute_dataset` and
`next(iter(...))`, `tf.data.Options` with `experimental_distribute.auto_shard_policy =
AutoShardPolicy.DATA` and `with_options`, `distribute_datasets_from_function` with an
`InputContext` (`get_per_replica_batch_size`, `shard(num_input_pipelines, input_pipeline_id)`),
`strategy.run` over a distributed dataset, explicit iterators with `next` and `get_next()`,
`get_next_as_optional()` / `has_value()` / `get_value()` breaking a `tf.range` loop inside a
`tf.function`, `experimental_local_results`, `@tf.function(input_signature=[dist_dataset.
element_spec])`, a StringLookup mapped over a sharded dataset built under `strategy.scope()`,
`enumerate().batch` with indices gathered back from `experimental_local_results`,
`experimental_distribute_values_from_function` with a `ValueContext`, and `from_generator` with
`output_types` / `output_shapes`. One replica here (corenn's MirroredStrategy runs in one
process), as TensorFlow on a CPU-only machine; the checks are what the page prints there."""
import numpy as np
import corenn as tf

global_batch_size = 16
dataset = tf.data.Dataset.from_tensors(([1.], [1.])).repeat(100).batch(global_batch_size)

@tf.function
def train_step(inputs):
  features, labels = inputs
  return labels - 0.3 * features

# Iterate over the dataset using the for..in construct.
for inputs in dataset:
  print(train_step(inputs))

mirrored_strategy = tf.distribute.MirroredStrategy()
# Distribute input using the `experimental_distribute_dataset`.
dist_dataset = mirrored_strategy.experimental_distribute_dataset(dataset)
# 1 global batch of data fed to the model in 1 step.
print(next(iter(dist_dataset)))
first_features, first_labels = next(iter(dist_dataset))
np.testing.assert_array_equal(np.asarray(first_features), np.ones((16, 1), np.float32))

dataset = tf.data.Dataset.from_tensors(([1.], [1.])).repeat(64).batch(16)
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
dataset = dataset.with_options(options)

mirrored_strategy = tf.distribute.MirroredStrategy()

def dataset_fn(input_context):
  batch_size = input_context.get_per_replica_batch_size(global_batch_size)
  dataset = tf.data.Dataset.from_tensors(([1.], [1.])).repeat(64).batch(16)
  dataset = dataset.shard(
      input_context.num_input_pipelines, input_context.input_pipeline_id)
  dataset = dataset.batch(batch_size)
  dataset = dataset.prefetch(2)  # This prefetches 2 batches per device.
  return dataset

dist_dataset = mirrored_strategy.distribute_datasets_from_function(dataset_fn)
# the page's dataset_fn batches its 16-row batches again by the per-replica batch size (16)
assert tuple(np.shape(next(iter(dist_dataset))[0])) == (4, 16, 1)

global_batch_size = 16
mirrored_strategy = tf.distribute.MirroredStrategy()
dataset = tf.data.Dataset.from_tensors(([1.], [1.])).repeat(100).batch(global_batch_size)
dist_dataset = mirrored_strategy.experimental_distribute_dataset(dataset)

for x in dist_dataset:
  # train_step trains the model using the dataset elements
  loss = mirrored_strategy.run(train_step, args=(x,))
  print("Loss is ", loss)
np.testing.assert_allclose(np.asarray(loss), np.full((4, 1), 0.7), rtol=1e-6)   # the last batch: 100 = 6 * 16 + 4

num_epochs = 10
steps_per_epoch = 5
for epoch in range(num_epochs):
  dist_iterator = iter(dist_dataset)
  for step in range(steps_per_epoch):
    # train_step trains the model using the dataset elements
    loss = mirrored_strategy.run(train_step, args=(next(dist_iterator),))
    # which is the same as
    # loss = mirrored_strategy.run(train_step, args=(dist_iterator.get_next(),))
    print("Loss is ", loss)
print("Loss is ", loss)

global_batch_size = 4
steps_per_loop = 5
strategy = tf.distribute.MirroredStrategy()

dataset = tf.data.Dataset.range(9).batch(global_batch_size)
distributed_iterator = iter(strategy.experimental_distribute_dataset(dataset))

@tf.function
def train_fn(distributed_iterator):
  for _ in tf.range(steps_per_loop):
    optional_data = distributed_iterator.get_next_as_optional()
    if not optional_data.has_value():
      break
    per_replica_results = strategy.run(lambda x: x, args=(optional_data.get_value(),))
    tf.print(strategy.experimental_local_results(per_replica_results))
train_fn(distributed_iterator)
# the loop stopped on the empty Optional after the 3 batches of range(9) (no OutOfRangeError)
assert not distributed_iterator.get_next_as_optional().has_value()
try:
  distributed_iterator.get_next()
  raise AssertionError("get_next past the end must raise")
except tf.errors.OutOfRangeError:
  pass
values = strategy.experimental_local_results(strategy.run(lambda x: x, args=(
    iter(strategy.experimental_distribute_dataset(dataset)).get_next_as_optional().get_value(),)))
np.testing.assert_array_equal(np.asarray(values[0]), [0, 1, 2, 3])

global_batch_size = 16
epochs = 5
steps_per_epoch = 5
mirrored_strategy = tf.distribute.MirroredStrategy()

dataset = tf.data.Dataset.from_tensors(([1.], [1.])).repeat(100).batch(global_batch_size)
dist_dataset = mirrored_strategy.experimental_distribute_dataset(dataset)

@tf.function(input_signature=[dist_dataset.element_spec])
def train_step(per_replica_inputs):
  def step_fn(inputs):
    return 2 * inputs

  return mirrored_strategy.run(step_fn, args=(per_replica_inputs,))

for _ in range(epochs):
  iterator = iter(dist_dataset)
  for _ in range(steps_per_epoch):
    output = train_step(next(iterator))
    tf.print(output)
# `2 * inputs` repeats the (features, labels) tuple, as Python does in TensorFlow too
assert len(output) == 4
np.testing.assert_array_equal(np.asarray(output[2]), np.ones((16, 1), np.float32))
assert repr(dist_dataset.element_spec) == repr(iter(dist_dataset).element_spec)

strategy = tf.distribute.MirroredStrategy()
vocab = ["a", "b", "c", "d", "f"]

with strategy.scope():
  layer = tf.keras.layers.StringLookup(vocabulary=vocab)

def dataset_fn(input_context):
  dataset = tf.data.Dataset.from_tensor_slices(["a", "c", "e"]).repeat()
  global_batch_size = 4
  batch_size = input_context.get_per_replica_batch_size(global_batch_size)
  dataset = dataset.batch(batch_size)
  dataset = dataset.shard(
      input_context.num_input_pipelines,
      input_context.input_pipeline_id)
  def preprocess_with_kpl(input):
    return layer(input)
  processed_ds = dataset.map(preprocess_with_kpl)
  return processed_ds

distributed_dataset = strategy.distribute_datasets_from_function(dataset_fn)
distributed_dataset_iterator = iter(distributed_dataset)
batches = []
for _ in range(3):
  batches.append(next(distributed_dataset_iterator))
  print(batches[-1])
# "a" -> 1, "c" -> 3, "e" (not in the vocabulary) -> 0, in batches of 4 of the repeated three
np.testing.assert_array_equal(np.concatenate([np.asarray(b) for b in batches]), [1, 3, 0] * 4)

mirrored_strategy = tf.distribute.MirroredStrategy()
dataset_size = 24
batch_size = 6
dataset = tf.data.Dataset.range(dataset_size).enumerate().batch(batch_size)
dist_dataset = mirrored_strategy.experimental_distribute_dataset(dataset)

def predict(index, inputs):
  outputs = 2 * inputs
  return index, outputs

result = {}
for index, inputs in dist_dataset:
  output_index, outputs = mirrored_strategy.run(predict, args=(index, inputs))
  indices = list(mirrored_strategy.experimental_local_results(output_index))
  rindices = []
  for a in indices:
    rindices.extend(a.numpy())
  outputs = list(mirrored_strategy.experimental_local_results(outputs))
  routputs = []
  for a in outputs:
    routputs.extend(a.numpy())
  for i, value in zip(rindices, routputs):
    result[i] = value

print(result)
assert {int(k): int(v) for k, v in result.items()} == {i: 2 * i for i in range(24)}

mirrored_strategy = tf.distribute.MirroredStrategy()

def value_fn(ctx):
  return tf.constant(ctx.replica_id_in_sync_group)

distributed_values = mirrored_strategy.experimental_distribute_values_from_function(value_fn)
for _ in range(4):
  result = mirrored_strategy.run(lambda x: x, args=(distributed_values,))
  print(result)
assert int(result) == 0   # the one replica's id

mirrored_strategy = tf.distribute.MirroredStrategy()
def input_gen():
  while True:
    yield np.random.rand(4)

dataset = tf.data.Dataset.from_generator(
    input_gen, output_types=(tf.float32), output_shapes=tf.TensorShape([4]))
dist_dataset = mirrored_strategy.experimental_distribute_dataset(dataset)
iterator = iter(dist_dataset)
for _ in range(4):
  result = mirrored_strategy.run(lambda x: x, args=(next(iterator),))
  print(result)
assert tuple(np.shape(result)) == (4,) and np.asarray(result).dtype == np.float32
