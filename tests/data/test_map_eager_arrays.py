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
