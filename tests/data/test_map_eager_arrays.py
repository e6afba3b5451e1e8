"""Dataset.map hands its function the arrays iteration gives (``.numpy()``, ``.set_shape()``),
as tf.data hands eager tensors; Tensor.set_shape checks as TensorFlow's does."""
import numpy as np
import pytest

import corenn as tf


def test_map_function_sees_set_shape_and_numpy():
    seen = []

    def split(window):
        inputs, labels = window[:, :3], window[:, 3:]
        inputs.set_shape([None, 3])
        labels.set_shape([None, None])
        seen.append(type(window.numpy()))
        return inputs, labels

    data = np.arange(40, dtype=np.float32).reshape(8, 5)
    ds = tf.data.Dataset.from_tensor_slices(data).batch(4).map(split)
    got = list(ds)
    assert seen and seen[0] is np.ndarray
    np.testing.assert_array_equal(np.concatenate([np.asarray(x) for x, _ in got]), data[:, :3])
    np.testing.assert_array_equal(np.concatenate([np.asarray(y) for _, y in got]), data[:, 3:])

    def wrong(window):
        window.set_shape([None, 4])
        return window
    with pytest.raises(ValueError, match=r"set_shape: shape \(None, 4\) is not compatible"):
        list(tf.data.Dataset.from_tensor_slices(data).batch(4).map(wrong))


def test_tensor_set_shape():
    t = tf.constant(np.zeros((2, 3), np.float32))
    t.set_shape([None, 3])
    t.set_shape((2, None))
    assert t.get_shape() == (2, 3)
    with pytest.raises(ValueError, match=r"Tensor.set_shape: shape \(2, 4\) is not compatible"):
        t.set_shape([2, 4])
    with pytest.raises(ValueError, match="not compatible"):
        t.set_shape([None])


def test_numpy_of_a_scalar_tensor_is_a_size_dense_takes():
    # numpy() stays a zero-copy view (a 0-d array for a scalar; TensorFlow gives a NumPy
    # scalar), and Dense takes such a 0-d integer array as its units (the autoencoder tutorial)
    n = tf.math.reduce_prod((28, 28)).numpy()
    assert n.shape == () and n == 784
    assert tf.keras.layers.Dense(n).units == 784
    assert f"{tf.reduce_sum(tf.constant([1.0, 2.5])).numpy():1.2f}" == "3.50"
    with pytest.raises(ValueError, match="units must be a positive integer"):
        tf.keras.layers.Dense(np.array(2.5))


def test_an_item_of_a_batch_is_a_tensor_too():
    # tf.data (TensorFlow 2.21): text_batch[0] and label_batch[0] are scalar tensors with numpy();
    # iterating a batch gives the same
    ds = tf.data.Dataset.from_tensor_slices((["ab", "cd", "ef"], np.array([1, 2, 3], np.int32))).batch(3)
    text_batch, label_batch = next(iter(ds))
    assert text_batch[0].numpy() == b"ab" and text_batch[1] == b"cd"
    assert label_batch[2].numpy() == 3 and int(label_batch[0]) + 1 == 2
    assert [t.numpy() for t in text_batch] == [b"ab", b"cd", b"ef"]
    assert [int(v.numpy()) for v in label_batch] == [1, 2, 3]
    assert text_batch[1:].numpy().tolist() == [b"cd", b"ef"]   # a slice is still a batch


def test_map_reads_the_loop_variable_of_when_it_was_made():
    # tf.data traces map functions when the dataset is made (the "Load text" tutorial labels
    # each file's lines with `lines.map(lambda ex: labeler(ex, i))` in a loop): TensorFlow 2.21
    # gives labels 0, 0, 1, 2 here; a global defined after the map is still read when it runs
    global LATER
    parts = [[10, 11], [12], [13]]
    sets = []
    for i, part in enumerate(parts):
        sets.append(tf.data.Dataset.from_tensor_slices(np.array(part)).map(lambda x: (x, i + OFFSET)))
    LATER = 0
    def make(k):
        return tf.data.Dataset.from_tensor_slices(np.array([1])).map(lambda x: x * k + LATER)
    scaled = [make(k) for k in (2, 3)]
    everything = sets[0].concatenate(sets[1]).concatenate(sets[2])
    assert [(int(x), int(y)) for x, y in everything] == [(10, 100), (11, 100), (12, 101), (13, 102)]
    assert [int(next(iter(d))) for d in scaled] == [2, 3]
    kept = tf.data.Dataset.range(6).filter(lambda x: x % i == 0)   # i is 2 now, as at trace time
    i = 3
    assert [int(x) for x in kept] == [0, 2, 4]


OFFSET = 100
