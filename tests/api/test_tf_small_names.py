"""Small TensorFlow names the tutorials use: stop_gradient, ensure_shape, sequence_mask, unique,
gather_nd, searchsorted, py_function / numpy_function, tf.nest; against NumPy."""
import collections

import numpy as np
import pytest

import corenn as tf


def test_stop_gradient_and_ensure_shape():
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(x * tf.stop_gradient(x))
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1.0, 2.0])   # only the left factor
    assert tf.ensure_shape(np.zeros((2, 3)), [None, 3]).shape == (2, 3)
    with pytest.raises(ValueError, match="tf.ensure_shape"):
        tf.ensure_shape(np.zeros((2, 3)), [2, 4])


def test_sequence_mask_unique_gather_nd_searchsorted():
    np.testing.assert_array_equal(np.asarray(tf.sequence_mask([1, 3], 4)),
                                  np.arange(4) < np.array([1, 3])[:, None])
    assert tuple(tf.sequence_mask(np.array([2, 0])).shape) == (2, 2)
    y, idx = tf.unique([3, 1, 3, 2, 1])
    assert np.asarray(y).tolist() == [3, 1, 2] and np.asarray(idx).tolist() == [0, 1, 0, 2, 1]
    params = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(np.asarray(tf.gather_nd(params, [[1, 2], [0, 0]])), params[[1, 0], [2, 0]])
    np.testing.assert_array_equal(np.asarray(tf.gather_nd(params, [[1, 2, 3]])), [params[1, 2, 3]])
    with pytest.raises(ValueError, match="outside"):
        tf.gather_nd(params, [[2, 0]])
    np.testing.assert_array_equal(np.asarray(tf.searchsorted([[1, 3, 5], [0, 2, 4]], [[2, 5], [4, 9]])),
                                  [[1, 2], [2, 3]])


def test_py_function_and_nest():
    assert np.asarray(tf.py_function(lambda a, b: a + b, [tf.constant(1.0), 2.0], tf.float32)) == 3.0
    assert tf.numpy_function(lambda a: type(a).__name__, [tf.constant(1.0)], tf.string) == "ndarray"
    Pair = collections.namedtuple("Pair", "x y")
    s = {"b": [1, Pair(2, 3)], "a": 0}
    assert tf.nest.flatten(s) == [0, 1, 2, 3]
    doubled = tf.nest.map_structure(lambda v: v * 2, s)
    assert doubled == {"a": 0, "b": [2, Pair(4, 6)]} and isinstance(doubled["b"][1], Pair)
    assert tf.nest.pack_sequence_as([0, (0, 0)], [7, 8, 9]) == [7, (8, 9)]
    with pytest.raises(ValueError, match="same number of leaves"):
        tf.nest.map_structure(lambda a, b: a, [1, 2], [1])
