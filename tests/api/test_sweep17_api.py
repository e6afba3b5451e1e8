"""Sweep 17: gaps found in the Keras / TensorFlow surface -- RaggedTensor's static shape
(None for each ragged dimension, as TensorFlow), ``ragged_rank=1`` constants with uniform inner
dimensions, SparseTensor's int64 indices and dense_shape. Expected values are TensorFlow 2.21's,
written out by hand from its documented behaviour."""
import numpy as np
import pytest

import corenn as tf


def test_ragged_shape_has_none_for_the_ragged_dimension():
    r = tf.ragged.constant([[1, 2], [3]])
    assert r.shape == (2, None) and r.shape.as_list() == [2, None] and r.shape.rank == 2
    assert r.get_shape() == (2, None) and r.ragged_rank == 1
    # rows of one length are still a ragged dimension
    assert tf.ragged.constant([[1, 2], [3, 4]]).shape == (2, None)
    assert tf.RaggedTensor.from_row_lengths([1, 2, 3, 4], [2, 0, 2]).shape == (3, None)
    assert tf.RaggedTensor.from_uniform_row_length([1, 2, 3, 4], 2).shape == (2, None)
    assert tf.ragged.constant([["a", "b"], ["c"]]).shape == (2, None)
    assert tf.strings.split(["a b", "c"]).shape == (2, None)
    assert r[:1].shape == (1, None) and len(r) == 2
    nested = tf.ragged.constant([[[1, 2], [3]], [[5, 6]]])
    assert nested.shape == (2, None, None) and nested.ragged_rank == 2


def test_ragged_rank_one_keeps_uniform_inner_dimensions():
    r = tf.ragged.constant([[[1, 2], [3, 4]], [[5, 6]]], ragged_rank=1)
    assert r.shape == (2, None, 2) and r.ragged_rank == 1
    assert r.to_list() == [[[1, 2], [3, 4]], [[5, 6]]]
    np.testing.assert_array_equal(np.asarray(r.values), [[1, 2], [3, 4], [5, 6]])
    dense = np.asarray(r.to_tensor())
    np.testing.assert_array_equal(dense, [[[1, 2], [3, 4]], [[5, 6], [0, 0]]])
    np.testing.assert_array_equal(np.asarray(r.to_tensor(shape=[3, 1, 2])), [[[1, 2]], [[5, 6]], [[0, 0]]])
    with pytest.raises(ValueError, match="ragged_rank=1"):
        tf.ragged.constant([[[1, 2], [3]], [[5, 6]]], ragged_rank=1)


def test_nested_ragged_values_flat_values_and_to_tensor():
    nested = tf.ragged.constant([[[1, 2], [3]], [[5, 6]]])
    assert nested.values.to_list() == [[1, 2], [3], [5, 6]]
    np.testing.assert_array_equal(np.asarray(nested.flat_values), [1, 2, 3, 5, 6])
    np.testing.assert_array_equal(np.asarray(nested.to_tensor()), [[[1, 2], [3, 0]], [[5, 6], [0, 0]]])
    np.testing.assert_array_equal(np.asarray(nested.to_tensor(default_value=-1)),
                                  [[[1, 2], [3, -1]], [[5, 6], [-1, -1]]])


def test_sparse_tensor_parts_take_tensorflows_dtypes():
    st = tf.sparse.SparseTensor(indices=[[0, 0]], values=[1.0], dense_shape=[3, 4])
    assert st.indices.dtype == tf.int64 and st.dense_shape.dtype == tf.int64 and st.values.dtype == tf.float32
    assert st.shape == (3, 4) and st.get_shape().as_list() == [3, 4]
    # Python ints are int32 values (as tf.constant), int64 indices whatever they are given as
    ints = tf.sparse.SparseTensor(indices=np.array([[0, 0], [1, 2]], np.int32), values=[1, 2], dense_shape=[3, 4])
    assert ints.values.dtype == tf.int32 and ints.indices.dtype == tf.int64 and ints.dense_shape.dtype == tf.int64
    np.testing.assert_array_equal(np.asarray(tf.sparse.to_dense(ints)), [[1, 0, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0]])
    assert tf.sparse.SparseTensor([[0]], [2 ** 40], [1]).values.dtype == tf.int64   # too big for int32
    assert tf.sparse.SparseTensor([[0]], np.array([3], np.int64), [1]).values.dtype == tf.int64
    with pytest.raises(TypeError, match="indices must be integers"):
        tf.sparse.SparseTensor(indices=[[0.5, 0]], values=[1.0], dense_shape=[3, 4])


def test_matmul_adjoint_and_hints_as_tensorflow():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 4, 3)).astype("float32"), rng.normal(size=(2, 5, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(tf.matmul(a, b, adjoint_b=True)), a @ b.transpose(0, 2, 1), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(tf.linalg.matmul(a, a, adjoint_a=True, b_is_sparse=True)),
                               a.transpose(0, 2, 1) @ a, rtol=1e-5, atol=1e-6)
    c = (rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))).astype("complex64")
    np.testing.assert_allclose(np.asarray(tf.matmul(c, c, adjoint_a=True)), c.conj().T @ c, rtol=1e-5)
    with pytest.raises(ValueError, match="only one of transpose_a and adjoint_a"):
        tf.matmul(a, b, transpose_a=True, adjoint_a=True)
    # the gradient flows through the adjoint as through the transpose
    x = tf.Variable(a[0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.matmul(x, b[0], adjoint_b=True))
    np.testing.assert_allclose(np.asarray(tape.gradient(y, x)), np.tile(b[0].sum(0), (4, 1)), rtol=1e-5)
