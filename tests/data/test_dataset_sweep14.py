"""tf.data pieces the data guide's windowing / resampling sections use (sweep 14)."""
import numpy as np
import pytest

import corenn as tf


def test_reduce_and_scan_pass_a_tuple_element_as_one_argument():
    ds = tf.data.Dataset.from_tensor_slices((np.array([1, 2]), np.array([3, 4])))
    assert int(ds.reduce(0, lambda s, e: s + e[0] + e[1])) == 10      # TensorFlow's form
    assert int(ds.reduce(0, lambda s, a, b: s + a + b)) == 10         # corenn's older form still works

    def count(counts, batch):
        features, labels = batch
        counts["pos"] += tf.reduce_sum(tf.cast(labels == 4, tf.int32))
        return counts
    assert int(ds.reduce({"pos": 0}, count)["pos"]) == 1
    out = [np.asarray(v).tolist() for v in ds.scan(0, lambda s, e: (s + e[0], s + e[1]))]
    assert out == [3, 5]


def test_rejection_resample_reaches_the_target_distribution():
    rng = np.random.default_rng(0)
    labels = (rng.uniform(size=4000) < 0.1).astype("int64")
    ds = tf.data.Dataset.from_tensor_slices((rng.normal(size=(4000, 2)).astype("float32"), labels))
    for initial in ([0.9, 0.1], None):
        out = list(ds.rejection_resample(lambda x, y: y, target_dist=[0.5, 0.5], initial_dist=initial, seed=1))
        classes = np.array([int(c) for c, _ in out])
        assert all(int(c) == int(e[1]) for c, e in out)   # (class, element) pairs
        # every positive is kept (ratio 1), negatives at 1/9: about 400 of each
        assert abs(classes.mean() - 0.5) < 0.06, classes.mean()
        assert (classes == 1).sum() > 0.9 * labels.sum()
    with pytest.raises(ValueError, match="target_dist"):
        ds.rejection_resample(lambda x, y: y, target_dist=[0.7, 0.7])
    with pytest.raises(ValueError, match="outside"):
        list(ds.rejection_resample(lambda x, y: y + 5, target_dist=[0.5, 0.5]))


def test_ragged_batch():
    ds = tf.data.Dataset.from_tensor_slices(np.arange(5)).map(lambda x: tf.range(x))
    batches = list(ds.ragged_batch(2))
    assert [b.to_list() for b in batches] == [[[], [0]], [[0, 1], [0, 1, 2]], [[0, 1, 2, 3]]]
    assert len(list(ds.ragged_batch(2, drop_remainder=True))) == 2
    pairs = tf.data.Dataset.from_tensor_slices(np.arange(1, 4)).map(lambda x: (tf.range(x), x))
    rows, scalars = next(iter(pairs.ragged_batch(3)))
    assert rows.to_list() == [[0], [0, 1], [0, 1, 2]]
    np.testing.assert_array_equal(np.asarray(scalars), [1, 2, 3])
