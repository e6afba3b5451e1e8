"""TensorFlow guide "Better performance with the tf.data API" (guide/data_performance), imports
changed: a tf.data.Dataset subclass whose __new__ returns Dataset.from_generator(args=...), the
benchmark loop over the naive pipeline, prefetch, sequential and parallel interleave, sequential
and parallel map with tf.py_function, cache, and vectorized mapping (batch before map); then the
"Reproducing the figures" section: a TimeMeasuredDataset of (steps, timings, counters) built from
output_types / output_shapes, accumulated with tf.concat on string, float and int tensors
(tf.zeros of dtype string), py_function maps with tuple Tout, flat_map, batch / unbatch and
tf.tile of nested string lists. Sleeps are cut to a tenth; the matplotlib timeline drawing is
left out. The checks count what the timelines recorded. One difference: TensorFlow traces a
flat_map function once, so the guide's next(_INSTANCES_COUNTER) runs once there; corenn runs the
function per element (see the README on tf.function), so instance numbers differ and nothing
here depends on them."""
import itertools
import os
from collections import defaultdict
import time

import numpy as np

import corenn as tf

SCALE = 0.1   # the guide's sleeps, shortened


class ArtificialDataset(tf.data.Dataset):
    def _generator(num_samples):
        # Opening the file
        time.sleep(0.03 * SCALE)

        for sample_idx in range(num_samples):
            # Reading data (line, record) from the file
            time.sleep(0.015 * SCALE)

            yield (sample_idx,)

    def __new__(cls, num_samples=3):
        return tf.data.Dataset.from_generator(
            cls._generator,
            output_signature = tf.TensorSpec(shape = (1,), dtype = tf.int64),
            args=(num_samples,)
        )


def benchmark(dataset, num_epochs=2):
    start_time = time.perf_counter()
    seen = []
    for epoch_num in range(num_epochs):
        for sample in dataset:
            # Performing a training step
            time.sleep(0.01 * SCALE)
            seen.append(int(sample.numpy()[0]) if sample.shape == (1,) else sample.numpy())
    print("Execution time:", time.perf_counter() - start_time)
    return seen


assert benchmark(ArtificialDataset()) == [0, 1, 2] * 2
assert benchmark(ArtificialDataset().prefetch(tf.data.AUTOTUNE)) == [0, 1, 2] * 2
# interleave: cycle_length defaults to the CPU count (with two or more CPUs both generators
# alternate: 0, 0, 1, 1, 2, 2)
interleaved = benchmark(tf.data.Dataset.range(2).interleave(lambda _: ArtificialDataset()))
assert interleaved == ([0, 0, 1, 1, 2, 2] if (os.cpu_count() or 1) > 1 else [0, 1, 2, 0, 1, 2]) * 2
assert sorted(benchmark(tf.data.Dataset.range(2).interleave(lambda _: ArtificialDataset(),
                                                            num_parallel_calls=tf.data.AUTOTUNE))) == \
    sorted([0, 0, 1, 1, 2, 2] * 2)


def mapped_function(s):
    # Do some hard pre-processing
    tf.py_function(lambda: time.sleep(0.03 * SCALE), [], ())
    return s


assert benchmark(ArtificialDataset().map(mapped_function)) == [0, 1, 2] * 2
assert benchmark(ArtificialDataset().map(mapped_function, num_parallel_calls=tf.data.AUTOTUNE)) == [0, 1, 2] * 2
assert benchmark(ArtificialDataset().map(mapped_function).cache(), 5) == [0, 1, 2] * 5

fast_dataset = tf.data.Dataset.range(10000)


def fast_benchmark(dataset, num_epochs=2):
    start_time = time.perf_counter()
    for _ in tf.data.Dataset.range(num_epochs):
        for _ in dataset:
            pass
    tf.print("Execution time:", time.perf_counter() - start_time)


def increment(x):
    return x+1


fast_benchmark(fast_dataset.map(increment).batch(256))
fast_benchmark(fast_dataset.batch(256).map(increment))
scalar_then_batch = np.concatenate(list(fast_dataset.map(increment).batch(256).as_numpy_iterator()))
batch_then_vector = np.concatenate(list(fast_dataset.batch(256).map(increment).as_numpy_iterator()))
np.testing.assert_array_equal(scalar_then_batch, np.arange(1, 10001))
np.testing.assert_array_equal(batch_then_vector, scalar_then_batch)


# -- Reproducing the figures -------------------------------------------------------------------

class TimeMeasuredDataset(tf.data.Dataset):
    # OUTPUT: (steps, timings, counters)
    OUTPUT_TYPES = (tf.dtypes.string, tf.dtypes.float32, tf.dtypes.int32)
    OUTPUT_SHAPES = ((2, 1), (2, 2), (2, 3))

    _INSTANCES_COUNTER = itertools.count()  # Number of datasets generated
    _EPOCHS_COUNTER = defaultdict(itertools.count)  # Number of epochs done for each dataset

    def _generator(instance_idx, num_samples):
        epoch_idx = next(TimeMeasuredDataset._EPOCHS_COUNTER[instance_idx])

        # Opening the file
        open_enter = time.perf_counter()
        time.sleep(0.03 * SCALE)
        open_elapsed = time.perf_counter() - open_enter

        for sample_idx in range(num_samples):
            # Reading data (line, record) from the file
            read_enter = time.perf_counter()
            time.sleep(0.015 * SCALE)
            read_elapsed = time.perf_counter() - read_enter

            yield (
                [("Open",), ("Read",)],
                [(open_enter, open_elapsed), (read_enter, read_elapsed)],
                [(instance_idx, epoch_idx, -1), (instance_idx, epoch_idx, sample_idx)]
            )
            open_enter, open_elapsed = -1., -1.  # Negative values will be filtered

    def __new__(cls, num_samples=3):
        return tf.data.Dataset.from_generator(
            cls._generator,
            output_types=cls.OUTPUT_TYPES,
            output_shapes=cls.OUTPUT_SHAPES,
            args=(next(cls._INSTANCES_COUNTER), num_samples)
        )


def timelined_benchmark(dataset, num_epochs=2):
    # Initialize accumulators
    steps_acc = tf.zeros([0, 1], dtype=tf.dtypes.string)
    times_acc = tf.zeros([0, 2], dtype=tf.dtypes.float32)
    values_acc = tf.zeros([0, 3], dtype=tf.dtypes.int32)

    start_time = time.perf_counter()
    for epoch_num in range(num_epochs):
        epoch_enter = time.perf_counter()
        for (steps, times, values) in dataset:
            # Record dataset preparation informations
            steps_acc = tf.concat((steps_acc, steps), axis=0)
            times_acc = tf.concat((times_acc, times), axis=0)
            values_acc = tf.concat((values_acc, values), axis=0)

            # Simulate training time
            train_enter = time.perf_counter()
            time.sleep(0.01 * SCALE)
            train_elapsed = time.perf_counter() - train_enter

            # Record training informations
            steps_acc = tf.concat((steps_acc, [["Train"]]), axis=0)
            times_acc = tf.concat((times_acc, [(train_enter, train_elapsed)]), axis=0)
            values_acc = tf.concat((values_acc, [values[-1]]), axis=0)

        epoch_elapsed = time.perf_counter() - epoch_enter
        # Record epoch informations
        steps_acc = tf.concat((steps_acc, [["Epoch"]]), axis=0)
        times_acc = tf.concat((times_acc, [(epoch_enter, epoch_elapsed)]), axis=0)
        values_acc = tf.concat((values_acc, [[-1, epoch_num, -1]]), axis=0)
        time.sleep(0.001)

    tf.print("Execution time:", time.perf_counter() - start_time)
    return {"steps": steps_acc, "times": times_acc, "values": values_acc}


def map_decorator(func):
    def wrapper(steps, times, values):
        # Use a tf.py_function to prevent auto-graph from compiling the method
        return tf.py_function(
            func,
            inp=(steps, times, values),
            Tout=(steps.dtype, times.dtype, values.dtype)
        )
    return wrapper


_batch_map_num_items = 10


def dataset_generator_fun(*args):
    return TimeMeasuredDataset(num_samples=_batch_map_num_items)


@map_decorator
def naive_map(steps, times, values):
    map_enter = time.perf_counter()
    time.sleep(0.001 * SCALE)  # Time consuming step
    time.sleep(0.0001 * SCALE)  # Memory consuming step
    map_elapsed = time.perf_counter() - map_enter

    return (
        tf.concat((steps, [["Map"]]), axis=0),
        tf.concat((times, [[map_enter, map_elapsed]]), axis=0),
        tf.concat((values, [values[-1]]), axis=0)
    )


naive_timeline = timelined_benchmark(
    tf.data.Dataset.range(2)
    .flat_map(dataset_generator_fun)
    .map(naive_map)
    .batch(_batch_map_num_items, drop_remainder=True)
    .unbatch(),
    5
)


def names(timeline):
    return [s.decode() if isinstance(s, bytes) else s for s in np.asarray(timeline["steps"].numpy()).reshape(-1)]


steps = names(naive_timeline)
per_epoch = 2 * _batch_map_num_items
assert steps.count("Train") == 5 * per_epoch and steps.count("Map") == 5 * per_epoch
assert steps.count("Read") == 5 * per_epoch and steps.count("Epoch") == 5
assert steps[:4] == ["Open", "Read", "Map", "Train"]
assert naive_timeline["times"].shape == (len(steps), 2) and naive_timeline["values"].shape == (len(steps), 3)
values = np.asarray(naive_timeline["values"])
reads = values[[k for k, s in enumerate(steps) if s == "Read"]]
np.testing.assert_array_equal(np.sort(reads[:, 2]), np.repeat(np.arange(_batch_map_num_items), 10))
# the file is "opened" once per generator run: two generators per epoch
opened = np.asarray(naive_timeline["times"])[[k for k, s in enumerate(steps) if s == "Open"]]
assert (opened[:, 1] >= 0).sum() == 10 and (opened[:, 1] < 0).sum() == 5 * per_epoch - 10


@map_decorator
def time_consuming_map(steps, times, values):
    map_enter = time.perf_counter()
    time.sleep(0.001 * values.shape[0] * SCALE)  # Time consuming step
    map_elapsed = time.perf_counter() - map_enter

    return (
        tf.concat((steps, tf.tile([[["1st map"]]], [steps.shape[0], 1, 1])), axis=1),
        tf.concat((times, tf.tile([[[map_enter, map_elapsed]]], [times.shape[0], 1, 1])), axis=1),
        tf.concat((values, tf.tile([[values[:][-1][0]]], [values.shape[0], 1, 1])), axis=1)
    )


@map_decorator
def memory_consuming_map(steps, times, values):
    map_enter = time.perf_counter()
    time.sleep(0.0001 * values.shape[0] * SCALE)  # Memory consuming step
    map_elapsed = time.perf_counter() - map_enter

    # Use tf.tile to handle batch dimension
    return (
        tf.concat((steps, tf.tile([[["2nd map"]]], [steps.shape[0], 1, 1])), axis=1),
        tf.concat((times, tf.tile([[[map_enter, map_elapsed]]], [times.shape[0], 1, 1])), axis=1),
        tf.concat((values, tf.tile([[values[:][-1][0]]], [values.shape[0], 1, 1])), axis=1)
    )


optimized_timeline = timelined_benchmark(
    tf.data.Dataset.range(2)
    .interleave(  # Parallelize data reading
        dataset_generator_fun,
        num_parallel_calls=tf.data.AUTOTUNE
    )
    .batch(  # Vectorize your mapped function
        _batch_map_num_items,
        drop_remainder=True)
    .map(  # Parallelize map transformation
        time_consuming_map,
        num_parallel_calls=tf.data.AUTOTUNE
    )
    .cache()  # Cache data
    .map(  # Reduce memory usage
        memory_consuming_map,
        num_parallel_calls=tf.data.AUTOTUNE
    )
    .prefetch(  # Overlap producer and consumer works
        tf.data.AUTOTUNE
    )
    .unbatch(),
    5
)

steps = names(optimized_timeline)
assert steps.count("Train") == 5 * per_epoch and steps.count("2nd map") == 5 * per_epoch
assert steps.count("1st map") == 5 * per_epoch and steps.count("Epoch") == 5
assert steps[:5] == ["Open", "Read", "1st map", "2nd map", "Train"]
# cache(): the generators ran in the first epoch only; later epochs replay the cached batches,
# read timings included
read_times = np.asarray(optimized_timeline["times"])[[k for k, s in enumerate(steps) if s == "Read"]]
read_times = read_times.reshape(5, per_epoch, 2)
for epoch in range(1, 5):
  np.testing.assert_array_equal(read_times[epoch], read_times[0])
