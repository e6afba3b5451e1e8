"""TensorFlow guide "tf.data: Build TensorFlow input pipelines", the sections the other data
programs leave out, imports changed only: time-series windowing with Dataset.window / flat_map
(dense_1_step, label_next_5_steps, make_window_dataset with shift and stride), class-imbalance
resampling with sample_from_datasets and rejection_resample (class_func / target_dist), the
counts checked with Dataset.reduce, and ragged_batch. The guide's iterator checkpointing
(tf.train.Checkpoint(iterator=...)) is left out: corenn's checkpoints do not save an iterator's
position."""
import numpy as np

import corenn as tf

# -- Time series windowing ------------------------------------------------------------------------
range_ds = tf.data.Dataset.range(100000)

batches = range_ds.batch(10, drop_remainder=True)
for batch in batches.take(5):
    print(batch.numpy())


def dense_1_step(batch):
    # Shift features and labels one step relative to each other.
    return batch[:-1], batch[1:]


predict_dense_1_step = batches.map(dense_1_step)
for features, label in predict_dense_1_step.take(3):
    print(features.numpy(), " => ", label.numpy())
f, l = next(iter(predict_dense_1_step))
np.testing.assert_array_equal(np.asarray(f), np.arange(9))
np.testing.assert_array_equal(np.asarray(l), np.arange(1, 10))

batches = range_ds.batch(15, drop_remainder=True)


def label_next_5_steps(batch):
    return (batch[:-5],   # Inputs: All except the last 5 steps
            batch[-5:])   # Labels: The last 5 steps


predict_5_steps = batches.map(label_next_5_steps)
for features, label in predict_5_steps.take(3):
    print(features.numpy(), " => ", label.numpy())
f, l = next(iter(predict_5_steps.skip(1)))
np.testing.assert_array_equal(np.asarray(f), np.arange(15, 25))
np.testing.assert_array_equal(np.asarray(l), np.arange(25, 30))

feature_length = 10
label_length = 3

features = range_ds.batch(feature_length, drop_remainder=True)
labels = range_ds.batch(feature_length).skip(1).map(lambda labels: labels[:label_length])

predicted_steps = tf.data.Dataset.zip((features, labels))

for features, label in predicted_steps.take(5):
    print(features.numpy(), " => ", label.numpy())
f, l = next(iter(predicted_steps.skip(2)))
np.testing.assert_array_equal(np.asarray(l), [30, 31, 32])

# Using window
window_size = 5

windows = range_ds.window(window_size, shift=1)
for sub_ds in windows.take(5):
    print(sub_ds)

for x in windows.flat_map(lambda x: x).take(30):
    print(x.numpy(), end=' ')
print()


def sub_to_batch(sub):
    return sub.batch(window_size, drop_remainder=True)


for example in windows.flat_map(sub_to_batch).take(5):
    print(example.numpy())
got = [np.asarray(e).tolist() for e in windows.flat_map(sub_to_batch).take(3)]
assert got == [[0, 1, 2, 3, 4], [1, 2, 3, 4, 5], [2, 3, 4, 5, 6]], got


def make_window_dataset(ds, window_size=5, shift=1, stride=1):
    windows = ds.window(window_size, shift=shift, stride=stride)

    def sub_to_batch(sub):
        return sub.batch(window_size, drop_remainder=True)

    windows = windows.flat_map(sub_to_batch)
    return windows


ds = make_window_dataset(range_ds, window_size=10, shift=5, stride=3)

for example in ds.take(10):
    print(example.numpy())
got = [np.asarray(e).tolist() for e in ds.take(2)]
assert got == [list(range(0, 30, 3)), list(range(5, 35, 3))], got

dense_labels_ds = ds.map(dense_1_step)

for inputs, labels in dense_labels_ds.take(3):
    print(inputs.numpy(), "=>", labels.numpy())

# -- Resampling -----------------------------------------------------------------------------------
rng = np.random.default_rng(0)
n = 4000
labels_all = (rng.uniform(size=n) < 0.05).astype("int64")         # about 5% positives (fraud)
features_all = rng.normal(size=(n, 4)).astype("float32") + labels_all[:, None]
creditcard_ds = tf.data.Dataset.from_tensor_slices((features_all, labels_all)).batch(1024)


def count(counts, batch):
    features, labels = batch
    class_1 = labels == 1
    class_1 = tf.cast(class_1, tf.int32)

    class_0 = labels == 0
    class_0 = tf.cast(class_0, tf.int32)

    counts['class_0'] += tf.reduce_sum(class_0)
    counts['class_1'] += tf.reduce_sum(class_1)

    return counts


counts = creditcard_ds.take(10).reduce(
    initial_state={'class_0': 0, 'class_1': 0},
    reduce_func=count)

counts = np.array([counts['class_0'].numpy(),
                   counts['class_1'].numpy()]).astype(np.float32)

fractions = counts / counts.sum()
print(fractions)
assert counts.sum() == n and abs(fractions[1] - labels_all.mean()) < 1e-6

# Datasets sampling
negative_ds = (
    creditcard_ds
    .unbatch()
    .filter(lambda features, label: label == 0)
    .repeat())
positive_ds = (
    creditcard_ds
    .unbatch()
    .filter(lambda features, label: label == 1)
    .repeat())

for features, label in positive_ds.batch(10).take(1):
    print(label.numpy())
    assert np.all(label.numpy() == 1)

balanced_ds = tf.data.Dataset.sample_from_datasets(
    [negative_ds, positive_ds], [0.5, 0.5]).batch(10)

seen = []
for features, labels in balanced_ds.take(40):
    seen.append(labels.numpy())
print(seen[:3])
mean_pos = float(np.mean(np.concatenate(seen)))
assert 0.35 < mean_pos < 0.65, mean_pos

# Rejection resampling


def class_func(features, label):
    return label


resample_ds = (
    creditcard_ds
    .unbatch()
    .rejection_resample(class_func, target_dist=[0.5, 0.5],
                        initial_dist=fractions)
    .batch(10))

balanced_ds = resample_ds.map(lambda extra_label, features_and_label: features_and_label)

seen = []
for features, labels in balanced_ds.take(20):
    seen.append(labels.numpy())
print(seen[:3])
mean_pos = float(np.mean(np.concatenate(seen)))
assert 0.3 < mean_pos < 0.7, mean_pos

# -- ragged_batch ---------------------------------------------------------------------------------
dataset = tf.data.Dataset.from_tensor_slices(np.arange(6))
dataset = dataset.map(lambda x: tf.range(x))
rb = next(iter(dataset.ragged_batch(3)))
print(rb)
assert rb.to_list() == [[], [0], [0, 1]]
