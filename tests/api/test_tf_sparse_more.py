"""tf.sparse additions checked against the dense NumPy computations they stand for (to_dense,
then NumPy), TensorFlow's conventions where they differ (reduce_max over the stored values,
split sizes, add's threshold), and gradients through Tensor values and dense operands against
the closed forms of the dense computation."""
import numpy as np
import pytest

import corenn as tf

SP = tf.sparse


def _st(idx, vals, shape):
    return tf.SparseTensor(idx, np.asarray(vals, np.float32), shape)


def _dense(sp):
    d = np.zeros(sp.shape, np.float64)
    if len(sp.indices):
        d[tuple(np.asarray(sp.indices).T)] = np.asarray(sp.values)
    return d


def _canonical(sp):
    idx = np.asarray(sp.indices)
    flat = np.ravel_multi_index(idx.T, sp.shape) if len(idx) else idx
    return len(idx) == 0 or np.all(np.diff(flat) > 0)


ST = _st([[0, 0], [0, 2], [2, 1]], [-1.0, -3.0, 2.0], [3, 3])
B = _st([[0, 0], [1, 1]], [-2.0, 5.0], [3, 3])


def test_reductions():
    d = _dense(ST)
    np.testing.assert_allclose(np.asarray(SP.reduce_sum(ST)), d.sum())
    np.testing.assert_allclose(np.asarray(SP.reduce_sum(ST, 0, keepdims=True)), d.sum(0, keepdims=True))
    s = SP.reduce_sum(ST, 1, output_is_sparse=True)
    assert np.asarray(s.indices).tolist() == [[0], [2]] and np.asarray(s.values).tolist() == [-4.0, 2.0]
    # the maximum of the stored values (implicit zeros do not count); an empty row gives 0
    np.testing.assert_allclose(np.asarray(SP.reduce_max(ST, 1)), [-1.0, 0.0, 2.0])
    assert float(np.asarray(SP.reduce_max(ST))) == 2.0


def test_sparse_dense_matmul_and_gradients():
    rng = np.random.default_rng(0)
    b = rng.standard_normal((3, 2)).astype(np.float32)
    d = _dense(ST)
    np.testing.assert_allclose(np.asarray(SP.sparse_dense_matmul(ST, b)), d @ b, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(SP.sparse_dense_matmul(ST, b.T, adjoint_b=True)), d @ b, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(SP.sparse_dense_matmul(ST, b, adjoint_a=True)), d.T @ b, rtol=1e-6)
    a = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(SP.sparse_dense_matmul(a, ST)), a @ d, rtol=1e-6)
    vals = tf.Variable(np.array([-1.0, -3.0, 2.0], np.float32))
    bv = tf.Variable(b)
    r = rng.standard_normal((3, 2))
    with tf.GradientTape() as tape:
        sp = tf.SparseTensor(ST.indices, vals, ST.shape)
        loss = tf.reduce_sum(SP.sparse_dense_matmul(sp, bv) * r.astype(np.float32))
    gv, gb = (np.asarray(g, np.float64) for g in tape.gradient(loss, [vals, bv]))
    np.testing.assert_allclose(gb, d.T @ r, rtol=1e-5)                          # dL/db = A^T r
    idx = np.asarray(ST.indices)
    np.testing.assert_allclose(gv, [(r @ b.T)[i, j] for i, j in idx], rtol=1e-5)  # dL/dA_ij at the entries
    with pytest.raises(ValueError, match="sparse_dense_matmul"):
        SP.sparse_dense_matmul(ST, np.ones((2, 2), np.float32))


def test_add_maximum_minimum():
    s = SP.add(ST, B)
    assert _canonical(s)
    np.testing.assert_allclose(_dense(s), _dense(ST) + _dense(B))
    thr = SP.add(ST, _st([[0, 0]], [1.0], [3, 3]), threshold=0.5)          # -1 + 1 = 0 is dropped
    assert np.asarray(thr.indices).tolist() == [[0, 2], [2, 1]]
    dense = np.arange(9, dtype=np.float32).reshape(3, 3)
    np.testing.assert_allclose(np.asarray(SP.add(dense, ST)), dense + _dense(ST))
    np.testing.assert_allclose(_dense(SP.maximum(ST, B)), np.maximum(_dense(ST), _dense(B)))
    np.testing.assert_allclose(_dense(SP.minimum(ST, B)), np.minimum(_dense(ST), _dense(B)))
    vals = tf.Variable(np.array([-1.0, -3.0, 2.0], np.float32))
    with tf.GradientTape() as tape:
        out = SP.add(dense, tf.SparseTensor(ST.indices, vals, ST.shape))
        loss = tf.reduce_sum(out * dense)
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, vals)), [dense[0, 0], dense[0, 2], dense[2, 1]])


def test_shape_ops():
    d = _dense(ST)
    np.testing.assert_allclose(_dense(SP.reshape(ST, [9, -1])), d.reshape(9, 1))
    sl = SP.slice(ST, [0, 1], [3, 5])
    assert sl.shape == (3, 2)
    np.testing.assert_allclose(_dense(sl), d[0:3, 1:3])
    t = SP.transpose(ST)
    assert _canonical(t)
    np.testing.assert_allclose(_dense(t), d.T)
    np.testing.assert_allclose(_dense(SP.expand_dims(ST, 1)), d[:, None, :])
    parts = SP.split(sp_input=ST, num_split=2, axis=1)
    assert [p.shape for p in parts] == [(3, 2), (3, 1)]
    np.testing.assert_allclose(np.concatenate([_dense(p) for p in parts], axis=1), d)
    c = SP.concat(1, [ST, B])
    assert _canonical(c)
    np.testing.assert_allclose(_dense(c), np.concatenate([d, _dense(B)], axis=1))
    e = SP.concat(0, [ST, _st([[0, 4]], [1.0], [1, 5])], expand_nonconcat_dims=True)
    assert e.shape == (4, 5)
    with pytest.raises(ValueError, match="concat"):
        SP.concat(0, [ST, _st([[0, 4]], [1.0], [1, 5])])
    np.testing.assert_allclose(_dense(SP.eye(2, 3)), np.eye(2, 3))
    shuffled = _st([[2, 1], [0, 0]], [2.0, -1.0], [3, 3])
    assert np.asarray(SP.reorder(shuffled).indices).tolist() == [[0, 0], [2, 1]]
    assert SP.reset_shape(shuffled).shape == (3, 2)


def test_fill_retain_indicator_softmax_bincount_segments():
    f, empty = SP.fill_empty_rows(ST, 7.0)
    assert np.asarray(f.indices).tolist() == [[0, 0], [0, 2], [1, 0], [2, 1]]
    np.testing.assert_array_equal(empty, [False, True, False])
    r = SP.retain(ST, [True, False, True])
    assert np.asarray(r.values).tolist() == [-1.0, 2.0]
    ind = SP.to_indicator(tf.SparseTensor([[0, 0], [0, 1], [1, 0]], [3, 1, 3], [2, 2]), 5)
    np.testing.assert_array_equal(ind, [[False, True, False, True, False], [False, False, False, True, False]])
    sm = SP.softmax(ST)
    e = np.exp([-1.0, -3.0])
    np.testing.assert_allclose(np.asarray(sm.values), [e[0] / e.sum(), e[1] / e.sum(), 1.0], rtol=1e-6)
    bc = SP.bincount(np.array([[1, 1, 3], [2, 2, 2]]), axis=-1)
    assert np.asarray(bc.indices).tolist() == [[0, 1], [0, 3], [1, 2]] and np.asarray(bc.values).tolist() == [2, 1, 3]
    assert bc.shape == (2, 4)
    bw = SP.bincount(np.array([0, 2, 2]), weights=np.array([0.5, 1.0, 2.0]))
    np.testing.assert_allclose(_dense(bw), [0.5, 0.0, 3.0])
    data = np.array([[1.0, 2], [3, 4], [5, 6]], np.float32)
    np.testing.assert_allclose(np.asarray(SP.segment_sum(data, [0, 2, 1], [0, 0, 1])), [[6, 8], [3, 4]])
    np.testing.assert_allclose(np.asarray(SP.segment_mean(data, [0, 2, 1], [0, 0, 1])), [[3, 4], [3, 4]])
    np.testing.assert_allclose(np.asarray(SP.segment_sqrt_n(data, [0, 2, 1], [0, 0, 2])),
                               [[6 / np.sqrt(2), 8 / np.sqrt(2)], [0, 0], [3, 4]], rtol=1e-6)
    dv = tf.Variable(data)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(SP.segment_mean(dv, [0, 2, 2], [0, 0, 1]))
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, dv)), [[0.5, 0.5], [0, 0], [1.5, 1.5]])
    doubled = SP.map_values(lambda v: v * 2, ST)
    np.testing.assert_allclose(np.asarray(doubled.values), [-2.0, -6.0, 4.0])


def test_softmax_and_reduce_sum_gradients_reach_tensor_values():
    vals = tf.Variable(np.array([-1.0, -3.0, 2.0], np.float32))
    w = np.array([1.0, 2.0, 3.0], np.float32)
    with tf.GradientTape(persistent=True) as tape:
        sp = tf.SparseTensor(ST.indices, vals, ST.shape)
        loss = tf.reduce_sum(SP.softmax(sp).values * w)
        total = SP.reduce_sum(sp)
        dense_loss = tf.reduce_sum(SP.to_dense(sp) * np.arange(9, dtype=np.float32).reshape(3, 3))
    p = np.exp([-1.0, -3.0]) / np.exp([-1.0, -3.0]).sum()
    # d/dz sum_i w_i softmax_i = p_j (w_j - sum_i w_i p_i) within the row; a row of one entry has 0
    want = [p[0] * (1 - (p @ w[:2])), p[1] * (2 - (p @ w[:2])), 0.0]
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, vals)), want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(tape.gradient(total, vals)), [1, 1, 1])
    np.testing.assert_allclose(np.asarray(tape.gradient(dense_loss, vals)), [0, 2, 7])


def test_cast_keeps_a_sparse_tensor_sparse():
    """tf.cast / keras.ops.cast of a SparseTensor cast its values and keep its indices (the
    handwriting example casts tf.sparse.from_dense(labels) to int64 before tf.edit_distance)."""
    from corenn.keras import ops
    dense = np.array([[1.7, 0.0, -2.2], [0.0, 0.0, 3.0]], np.float32)
    st = SP.from_dense(dense)
    for cast in (tf.cast, ops.cast):
        out = cast(st, "int64")
        assert isinstance(out, tf.SparseTensor) and np.asarray(out.values).dtype == np.int64
        np.testing.assert_array_equal(np.asarray(out.indices), np.asarray(st.indices))
        np.testing.assert_array_equal(np.asarray(SP.to_dense(out)), dense.astype(np.int64))


def test_rows_of_a_1d_sparse_tensor_are_scalars():
    """Indexing a 1-D SparseTensor gives rank-0 SparseTensors (as slicing it in tf.data does),
    whose to_dense is the entry or 0."""
    st = SP.from_dense(np.array([5, 0, 7], np.int64))
    rows = [st[i] for i in range(3)]
    assert all(r.shape == () for r in rows)
    assert [np.asarray(SP.to_dense(r)).tolist() for r in rows] == [5, 0, 7]
    assert [len(np.asarray(r.indices)) for r in rows] == [1, 0, 1]
