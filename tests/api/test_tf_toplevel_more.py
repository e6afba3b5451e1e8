"""TensorFlow 2 top-level names added for scripts that use them (``import corenn as tf``):
assertions, space_to_batch / batch_to_space, dynamic_partition / dynamic_stitch, edit_distance,
IndexedSlices, bitcast, fingerprint, tensor protos, matrix_square_root ...

References are plain NumPy (loops over the definitions); gradients are checked against
central differences of those references. Fixed values (fingerprints, edit distances) were read
from TensorFlow 2.21.
"""
import numpy as np
import pytest

import corenn as tf


def _grad(fn, x, seed=3):
    v = tf.Variable(np.asarray(x, np.float32))
    with tf.GradientTape() as tape:
        out = fn(v)
        outs = out if isinstance(out, list) else [out]
        loss = 0.0
        for k, o in enumerate(outs):
            r = np.random.default_rng(seed + k).standard_normal(tuple(o.shape)).astype(np.float32)
            loss = loss + tf.reduce_sum(o * r)
    return np.asarray(tape.gradient(loss, v), np.float64)


def _ref_space_to_batch(x, block, pads):
    x = np.pad(x, [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)] * (x.ndim - 1 - len(block)))
    b = x.shape[0]
    out_sp = [x.shape[1 + i] // block[i] for i in range(len(block))]
    out = np.zeros((b * int(np.prod(block)),) + tuple(out_sp) + x.shape[1 + len(block):], x.dtype)
    for off in np.ndindex(*block):
        k = int(np.ravel_multi_index(off, block))
        for n in range(b):
            sl = tuple(slice(o, None, bs) for o, bs in zip(off, block))
            out[k * b + n] = x[(n,) + sl]
    return out


def test_space_to_batch_and_back_match_the_definition():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 6, 3)).astype(np.float32)
    pads = [[0, 0], [1, 1]]
    y = tf.space_to_batch(x, [2, 2], pads)
    want = _ref_space_to_batch(x, [2, 2], pads)
    np.testing.assert_array_equal(np.asarray(y), want)
    np.testing.assert_array_equal(np.asarray(tf.space_to_batch_nd(x, [2, 2], pads)), want)
    back = tf.batch_to_space(y, [2, 2], pads)
    np.testing.assert_array_equal(np.asarray(back), x)
    # a 1-D block over (B, S, C), and its gradient (a permutation: dy routed back)
    x1 = rng.standard_normal((3, 6, 2)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(tf.space_to_batch(x1, [3], [[0, 0]])), _ref_space_to_batch(x1, [3], [[0, 0]]))
    g = _grad(lambda v: tf.space_to_batch(v, [2, 2], pads), x)
    r = np.random.default_rng(3).standard_normal(want.shape)
    np.testing.assert_allclose(g, _ref_batch_grad(x, r, [2, 2], pads), rtol=1e-6)
    with pytest.raises(ValueError, match="space_to_batch"):
        tf.space_to_batch(x, [4, 4], [[0, 0], [0, 0]])


def _ref_batch_grad(x, r, block, pads):
    # d/dx sum(space_to_batch(x) * r): apply the same map to indices
    idx = np.arange(x.size, dtype=np.float64).reshape(x.shape)
    mapped = _ref_space_to_batch(idx + 1, block, pads)      # 0 marks padding
    g = np.zeros(x.size)
    keep = mapped > 0
    np.add.at(g, (mapped[keep] - 1).astype(int), r[keep])
    return g.reshape(x.shape)


def test_dynamic_partition_and_stitch():
    data = np.arange(12, dtype=np.float32).reshape(6, 2)
    parts = [1, 0, 1, 2, 0, 1]
    out = tf.dynamic_partition(data, parts, 3)
    for i in range(3):
        np.testing.assert_array_equal(np.asarray(out[i]), data[np.array(parts) == i])
    stitched = tf.dynamic_stitch([np.flatnonzero(np.array(parts) == i) for i in range(3)], out)
    np.testing.assert_array_equal(np.asarray(stitched), data)
    # repeated index: the later piece wins; an index never written gives zeros
    st = tf.dynamic_stitch([[0, 2], [2, 4]], [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(np.asarray(st), [1, 0, 3, 0, 4])
    g = _grad(lambda v: tf.dynamic_stitch([[0, 2], [2, 4]], [v, v * 2.0]), [1.0, 2.0])
    r = np.random.default_rng(3).standard_normal(5)
    np.testing.assert_allclose(g, [r[0] + 2 * r[2], 2 * r[4]], rtol=1e-6)   # out = [v0, 0, 2 v0, 0, 2 v1]
    g = _grad(lambda v: tf.dynamic_partition(v, parts, 3), data)
    assert g.shape == data.shape and np.all(g != 0)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.dynamic_partition(data, [0, 0, 0, 0, 0, 5], 3)


def test_edit_distance_as_tensorflow():
    h = tf.SparseTensor([[0, 0], [0, 1], [1, 0]], np.array(["a", "b", "c"], object), [3, 2])
    t = tf.SparseTensor([[0, 0], [1, 0], [1, 1]], np.array(["a", "c", "d"], object), [2, 3])
    np.testing.assert_allclose(np.asarray(tf.edit_distance(h, t)), [1.0, 0.5, 0.0])
    np.testing.assert_allclose(np.asarray(tf.edit_distance(h, t, normalize=False)), [1.0, 1.0, 0.0])
    empty_truth = tf.SparseTensor(np.zeros((0, 2), np.int64), np.zeros(0, np.float32), [1, 1])
    hyp = tf.SparseTensor([[0, 0]], np.array([1.0], np.float32), [1, 1])
    assert np.isinf(np.asarray(tf.edit_distance(hyp, empty_truth))[0])


def test_assertions_and_graph_names():
    tf.Assert(tf.constant([1.0, 2.0]) > 0, ["positive"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="assertion failed"):
        tf.Assert(False, ["x is", tf.constant([1.0])])
    tf.assert_greater([2.0, 3.0], 1.0)
    tf.assert_less([2.0], [3.0])
    tf.assert_rank(np.zeros((2, 3)), 2)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.assert_greater([2.0, 0.0], 1.0)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.debugging.assert_less_equal([4.0], [3.0])
    assert tf.no_op() is None and tf.group(tf.constant(1.0)) is None
    assert tf.inside_function() is False
    with tf.name_scope("outer"):
        with tf.name_scope("inner"):
            assert tf.get_current_name_scope() == "outer/inner"
    assert tf.get_current_name_scope() == ""
    with pytest.raises(RuntimeError, match="GradientTape"):
        tf.gradients(tf.constant(1.0), tf.constant(2.0))
    with pytest.raises(RuntimeError, match="jacobian"):
        tf.hessians(tf.constant(1.0), tf.constant(2.0))
    assert int(tf.VariableAggregation.MEAN) == 2 and int(tf.VariableSynchronization.ON_READ) == 3
    a, b = tf.identity_n([tf.constant([1.0]), tf.constant([2.0])])
    assert float(np.asarray(b)[0]) == 2.0


def test_shapes_bins_bitcast_fingerprint_protos():
    np.testing.assert_array_equal(np.asarray(tf.broadcast_dynamic_shape([2, 1, 3], [4, 1])), [2, 4, 3])
    assert tf.broadcast_static_shape(tf.TensorShape([None, 1, 3]), tf.TensorShape([4, 1])).as_list() == [None, 4, 3]
    with pytest.raises(ValueError):
        tf.broadcast_static_shape(tf.TensorShape([2]), tf.TensorShape([3]))
    np.testing.assert_array_equal(np.asarray(tf.histogram_fixed_width_bins([-1.0, 0, 0.5, 1, 2], [0.0, 1.0], nbins=4)),
                                  [0, 0, 2, 3, 3])
    np.testing.assert_array_equal(np.asarray(tf.bitcast(tf.constant([1.0, 2.0]), tf.uint8)),
                                  np.array([1.0, 2.0], np.float32).view(np.uint8).reshape(2, 4))
    np.testing.assert_array_equal(np.asarray(tf.bitcast(tf.constant([[1, 2]], tf.int32), tf.int64)), [(2 << 32) + 1])
    np.testing.assert_array_equal(np.asarray(tf.fingerprint(["abc", "hello"])),
                                  [[105, 243, 231, 116, 160, 179, 165, 36], [232, 12, 56, 49, 169, 229, 139, 180]])
    np.testing.assert_array_equal(np.asarray(tf.fingerprint(tf.constant([[1, 2], [3, 4]], tf.int32))),
                                  [[76, 18, 253, 133, 168, 204, 240, 10], [254, 162, 60, 240, 103, 244, 53, 255]])
    proto = tf.make_tensor_proto([[1, 2], [3, 4]], dtype=tf.float32)
    assert proto.tensor_shape == [2, 2] and proto.dtype == "float32"
    np.testing.assert_array_equal(tf.make_ndarray(proto), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(tf.make_ndarray(tf.make_tensor_proto(7, shape=[2])), [7, 7])
    assert list(np.asarray(tf.as_string([3.5]))) == ["3.500000"]
    assert list(tf.strings.as_string([3.5, 1e20], shortest=True)) == ["3.5", "1e+20"]
    assert list(tf.strings.as_string([3], width=5, fill="0")) == ["00003"]
    assert list(tf.strings.as_string([True])) == ["true"]


def test_indexed_slices_densify_and_reach_optimizers():
    s = tf.IndexedSlices(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32), [0, 2, 0], dense_shape=[3, 2])
    np.testing.assert_array_equal(np.asarray(s), [[6, 8], [0, 0], [3, 4]])
    np.testing.assert_array_equal(np.asarray(s.to_dense()), np.asarray(s))
    assert tuple(s.shape) == (3, 2)
    v = tf.Variable(np.zeros((3, 2), np.float32))
    opt = tf.keras.optimizers.SGD(learning_rate=1.0)
    opt.apply_gradients([(s, v)])
    np.testing.assert_allclose(np.asarray(v), -np.asarray(s))


def test_grad_pass_through_and_matrix_square_root():
    x = np.array([0.3, 1.7, -2.2], np.float32)
    f = tf.grad_pass_through(tf.round)
    np.testing.assert_array_equal(np.asarray(f(x)), np.round(x))
    g = _grad(f, x)
    np.testing.assert_allclose(g, np.random.default_rng(3).standard_normal(3), rtol=1e-6)
    rng = np.random.default_rng(1)
    m = rng.standard_normal((2, 3, 3))
    a = m @ np.swapaxes(m, -1, -2) + 3 * np.eye(3)           # symmetric positive definite
    s = np.asarray(tf.matrix_square_root(a), np.float64)
    np.testing.assert_allclose(s @ s, a, rtol=1e-5, atol=1e-5)
    w, v = np.linalg.eigh(a)
    np.testing.assert_allclose(s, v @ (np.sqrt(w)[..., None] * np.swapaxes(v, -1, -2)), rtol=1e-5, atol=1e-6)
    nonsym = np.array([[4.0, 1.0], [0.5, 9.0]])
    g = _grad(tf.linalg.sqrtm, nonsym)
    r = np.random.default_rng(3).standard_normal((2, 2))

    def ref(aa):
        ww, vv = np.linalg.eig(aa)
        return np.real(vv @ np.diag(np.sqrt(ww)) @ np.linalg.inv(vv))
    num = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            e = np.zeros((2, 2))
            e[i, j] = 1e-6
            num[i, j] = np.sum((ref(nonsym + e) - ref(nonsym - e)) * r) / 2e-6
    np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-6)
    w, _ = tf.eig(np.array([[2.0, 0.0], [0.0, 3.0]]))
    np.testing.assert_allclose(np.sort(np.asarray(w[0])), [2.0, 3.0])
    np.testing.assert_allclose(np.sort(np.asarray(tf.eigvals(np.diag([1.0, 5.0]))[0])), [1.0, 5.0])
