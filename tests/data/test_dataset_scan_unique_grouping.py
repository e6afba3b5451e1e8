"""tf.data's scan, unique, group_by_window and bucket_by_sequence_length, with expectations
worked out by hand from tf.data's documented semantics (and seen identical with TensorFlow
2.21 when written), plus tf.range's dtype rule for tensor arguments."""
import numpy as np
import pytest

import corenn as tf


def test_scan_carries_a_state_and_emits_outputs():
    ds = tf.data.Dataset.range(5).scan(np.int64(0), lambda s, x: (s + x, s * 10))
    assert [int(v) for v in ds.as_numpy_iterator()] == [0, 0, 10, 30, 60]   # states 0, 0, 1, 3, 6
    with pytest.raises(ValueError, match="new_state, output"):
        list(tf.data.Dataset.range(2).scan(np.int64(0), lambda s, x: s))


def test_unique_keeps_first_seen_order_and_refuses_non_scalars():
    ds = tf.data.Dataset.from_tensor_slices([3, 1, 3, 2, 1, 5]).unique()
    assert [int(v) for v in ds.as_numpy_iterator()] == [3, 1, 2, 5]
    words = tf.data.Dataset.from_tensor_slices(["b", "a", "b"]).unique()
    assert list(words.as_numpy_iterator()) == [b"b", b"a"]
    with pytest.raises(TypeError, match="integer or string scalar"):
        list(tf.data.Dataset.from_tensor_slices(np.zeros((3, 2))).unique())


def test_group_by_window_reduces_full_windows_then_the_rest_in_key_order():
    ds = tf.data.Dataset.range(10).group_by_window(key_func=lambda x: x % 2,
                                                   reduce_func=lambda k, w: w.batch(3), window_size=3)
    assert [b.tolist() for b in ds.as_numpy_iterator()] == [[0, 2, 4], [1, 3, 5], [6, 8], [7, 9]]
    sized = tf.data.Dataset.range(6).group_by_window(lambda x: x % 2, lambda k, w: w.batch(10),
                                                     window_size_func=lambda k: k + 1)
    # key 0 windows of 1, key 1 windows of 2
    assert [b.tolist() for b in sized.as_numpy_iterator()] == [[0], [2], [1, 3], [4], [5]]   # emitted as each fills
    with pytest.raises(ValueError, match="exactly one of window_size"):
        tf.data.Dataset.range(3).group_by_window(lambda x: x, lambda k, w: w)


def test_bucket_by_sequence_length_pads_each_bucket_batch():
    ds = tf.data.Dataset.range(1, 8).map(lambda n: tf.fill([n], n))
    buckets = ds.bucket_by_sequence_length(lambda x: tf.shape(x)[0], bucket_boundaries=[3, 5],
                                           bucket_batch_sizes=[2, 2, 2])
    got = [b.tolist() for b in buckets.as_numpy_iterator()]
    assert got == [[[1, 0], [2, 2]], [[3, 3, 3, 0], [4, 4, 4, 4]],
                   [[5, 5, 5, 5, 5, 0], [6, 6, 6, 6, 6, 6]], [[7, 7, 7, 7, 7, 7, 7]]]
    to_edge = ds.take(4).bucket_by_sequence_length(lambda x: tf.shape(x)[0], [3, 5], [2, 2, 2],
                                                   pad_to_bucket_boundary=True)
    assert [np.shape(b) for b in to_edge.as_numpy_iterator()] == [(2, 2), (2, 4)]
    with pytest.raises(ValueError, match="len\\(bucket_boundaries\\) \\+ 1"):
        ds.bucket_by_sequence_length(lambda x: tf.shape(x)[0], [3, 5], [2, 2])


def test_padded_batch_of_ranges_keeps_the_integer_dtype():
    """tf.range of an int32 tensor is int32 (it was float32), so padding with an int32 value works."""
    lens = tf.data.Dataset.from_tensor_slices(np.array([1, 3, 2], np.int32))
    batches = list(lens.map(lambda n: tf.range(n)).padded_batch(2, padded_shapes=[None],
                                                                padding_values=tf.constant(-1, tf.int32))
                   .as_numpy_iterator())
    assert batches[0].dtype == np.int32 and batches[0].tolist() == [[0, -1, -1], [0, 1, 2]]
    assert tf.range(tf.constant(np.int64(4))).dtype == "int64"
    assert tf.range(3).dtype == "int32" and tf.range(1, 2.5, 0.5).dtype == "float32"
