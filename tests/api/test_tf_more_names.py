"""Smaller TensorFlow names: reverse_sequence, unravel_index, truncatediv / truncatemod,
unique_with_counts, saturate_cast, required_space_to_batch_paddings, fftnd / rfftnd / irfftnd,
and tf.nn's sufficient_statistics, isotonic_regression, ctc_unique_labels,
embedding_lookup_sparse / safe_embedding_lookup_sparse, the depthwise backprop entry points.
References are NumPy definitions (values compared with TensorFlow 2.21 while writing them)."""
import numpy as np
import pytest

import corenn as tf
from tests import reference as ref


def test_reverse_sequence_and_its_gradient():
    x = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    out = np.asarray(tf.reverse_sequence(x, [2, 3], seq_axis=1, batch_axis=0))
    want = x.copy()
    want[0, :2] = x[0, :2][::-1]
    want[1, :3] = x[1, :3][::-1]
    np.testing.assert_array_equal(out, want)
    v = tf.Variable(x)
    r = np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.reverse_sequence(v, [2, 3], seq_axis=1) * r)
    g = r.copy()
    g[0, :2] = r[0, :2][::-1]
    g[1, :3] = r[1, :3][::-1]
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, v)), g)
    with pytest.raises(ValueError, match="reverse_sequence"):
        tf.reverse_sequence(x, [5, 1], seq_axis=1)


def test_integer_and_shape_helpers():
    np.testing.assert_array_equal(np.asarray(tf.unravel_index([5, 7], [3, 4])), [[1, 1], [1, 3]])
    np.testing.assert_array_equal(np.asarray(tf.truncatediv(np.array([-7, 7]), np.array([2, 2]))), [-3, 3])
    np.testing.assert_array_equal(np.asarray(tf.truncatemod(np.array([-7, 7]), np.array([2, -2]))), [-1, 1])
    np.testing.assert_allclose(np.asarray(tf.truncatemod([-7.5], [2.0])), [-1.5])
    y, i, c = tf.unique_with_counts([3, 1, 3, 2, 1, 3])
    np.testing.assert_array_equal(np.asarray(y), [3, 1, 2])
    np.testing.assert_array_equal(np.asarray(i), [0, 1, 0, 2, 1, 0])
    np.testing.assert_array_equal(np.asarray(c), [3, 2, 1])
    np.testing.assert_array_equal(np.asarray(tf.saturate_cast([300.0, -5.0], tf.uint8)), [255, 0])
    pads, crops = tf.required_space_to_batch_paddings([5, 7], [2, 3], [[1, 0], [0, 0]])
    np.testing.assert_array_equal(np.asarray(pads), [[1, 0], [0, 2]])
    np.testing.assert_array_equal(np.asarray(crops), [[0, 0], [0, 2]])
    assert [list(np.asarray(s)) for s in tf.shape_n([np.zeros((2, 3)), np.zeros(4)])] == [[2, 3], [4]]
    assert tf.tuple([1, 2]) == [1, 2] and isinstance(tf.timestamp(), np.floating)
    assert tf.is_symbolic_tensor(tf.keras.Input((3,))) and not tf.is_symbolic_tensor(tf.constant(1.0))
    a = np.asarray(tf.random_index_shuffle(np.arange(10), [1, 2, 3], 9))
    assert sorted(a.tolist()) == list(range(10))


def test_fftnd_family_against_numpy():
    z = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(np.float32)
    f = tf.signal.fftnd(z, axes=[0, 2])
    want = np.fft.fftn(z, axes=(0, 2))
    np.testing.assert_allclose(np.asarray(f[0]) + 1j * np.asarray(f[1]), want, rtol=1e-4, atol=1e-4)
    back = tf.signal.ifftnd(f, axes=[0, 2])
    np.testing.assert_allclose(np.asarray(back[0]), z, atol=1e-5)
    r = tf.signal.rfftnd(z, fft_length=[4, 6], axes=[1, 2])
    np.testing.assert_allclose(np.asarray(r[0]) + 1j * np.asarray(r[1]), np.fft.rfftn(z, s=(4, 6), axes=(1, 2)),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(tf.irfftnd(r, fft_length=[4, 6], axes=[1, 2])),
                               np.fft.irfftn(np.fft.rfftn(z, s=(4, 6), axes=(1, 2)), s=(4, 6), axes=(1, 2)), atol=1e-5)


def test_statistics_and_isotonic_regression():
    z = np.random.default_rng(1).standard_normal((3, 4, 5)).astype(np.float32)
    cnt, m, v, _ = tf.nn.sufficient_statistics(z, [0, 1])
    assert float(np.asarray(cnt)) == 12.0
    np.testing.assert_allclose(np.asarray(m), z.sum((0, 1)), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(v), (z ** 2).sum((0, 1)), rtol=1e-5)
    out, seg = tf.nn.isotonic_regression(np.array([[1.0, 3, 2, 4], [5, 1, 2, 0]], np.float32))
    np.testing.assert_allclose(np.asarray(out), [[2.5, 2.5, 2.5, 2.5], [5, 1.5, 1.5, 0]])
    np.testing.assert_array_equal(np.asarray(seg), [[0, 0, 0, 0], [0, 1, 1, 2]])
    out, seg = tf.nn.isotonic_regression(np.array([[1.0, 3, 2, 4]], np.float32), decreasing=False)
    np.testing.assert_allclose(np.asarray(out), [[1, 2.5, 2.5, 4]])
    xv = tf.Variable(np.array([[1.0, 3, 2, 4]], np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.nn.isotonic_regression(xv, decreasing=False)[0] * np.array([[1.0, 2, 4, 8]], np.float32))
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, xv)), [[1, 3, 3, 8]])   # dy averaged per block
    u, ix = tf.nn.ctc_unique_labels([[3, 4, 3, 0], [1, 1, 2, 2]])
    np.testing.assert_array_equal(np.asarray(u), [[3, 4, 0, 0], [1, 2, 0, 0]])
    np.testing.assert_array_equal(np.asarray(ix), [[0, 1, 0, 2], [0, 0, 1, 1]])


def test_embedding_lookup_sparse():
    p = np.arange(20, dtype=np.float32).reshape(5, 4)
    ids = tf.SparseTensor([[0, 0], [0, 1], [2, 0]], np.array([1, 3, 4]), [3, 2])
    w = tf.SparseTensor([[0, 0], [0, 1], [2, 0]], np.array([1.0, 2.0, 3.0], np.float32), [3, 2])
    s = 1 * p[1] + 2 * p[3]
    np.testing.assert_allclose(np.asarray(tf.nn.embedding_lookup_sparse(p, ids, w, combiner="sum")),
                               [s, np.zeros(4), 3 * p[4]])
    np.testing.assert_allclose(np.asarray(tf.nn.embedding_lookup_sparse(p, ids, w)), [s / 3, np.zeros(4), p[4]], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(tf.nn.embedding_lookup_sparse(p, ids, w, combiner="sqrtn")),
                               [s / np.sqrt(5), np.zeros(4), p[4]], rtol=1e-6)
    safe = np.asarray(tf.nn.safe_embedding_lookup_sparse(p, ids, w, default_id=4))
    np.testing.assert_allclose(safe[1], p[4])
    pv = tf.Variable(p)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.nn.embedding_lookup_sparse(pv, ids, w, combiner="sum"))
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, pv))[:, 0], [0, 1, 0, 2, 3])


def test_depthwise_backprop_entry_points():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 5, 5, 2)).astype(np.float32)
    w = rng.standard_normal((3, 3, 2, 2)).astype(np.float32)
    dy = rng.standard_normal((1, 3, 3, 4)).astype(np.float32)
    dx_ref, dw_ref, _ = ref.depthwise_conv2d_grads(x, w, dy, strides=(2, 2), padding="same")
    np.testing.assert_allclose(np.asarray(tf.nn.depthwise_conv2d_backprop_input([1, 5, 5, 2], w, dy, [1, 2, 2, 1],
                                                                                "SAME")), dx_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(tf.nn.depthwise_conv2d_backprop_filter(x, [3, 3, 2, 2], dy, [1, 2, 2, 1],
                                                                                 "SAME")), dw_ref, rtol=1e-4, atol=1e-4)


def test_fractional_pools():
    x = np.random.default_rng(3).standard_normal((2, 7, 9, 2)).astype(np.float32)
    for pseudo in (False, True):
        for overlapping in (False, True):
            y, rows, cols = tf.nn.fractional_max_pool(x, [1, 1.5, 1.5, 1], pseudo_random=pseudo,
                                                      overlapping=overlapping, seed=5)
            rows, cols = np.asarray(rows), np.asarray(cols)
            assert tuple(y.shape) == (2, 4, 6, 2) and rows[0] == 0 and rows[-1] == 7 and cols[-1] == 9
            assert set(np.diff(rows)) <= {1, 2} and set(np.diff(cols)) <= {1, 2}
            extra = 1 if overlapping else 0
            want = np.stack([np.stack([x[:, rows[i]:min(rows[i + 1] + extra, 7), cols[j]:min(cols[j + 1] + extra, 9)]
                                       .max(axis=(1, 2)) for j in range(6)], 1) for i in range(4)], 1)
            np.testing.assert_allclose(np.asarray(y), want, rtol=1e-6)
    y, rows, cols = tf.nn.fractional_avg_pool(x, [1, 2.0, 1.44, 1], seed=2)
    rows, cols = np.asarray(rows), np.asarray(cols)
    np.testing.assert_allclose(np.asarray(y)[:, 0, 0], x[:, rows[0]:rows[1], cols[0]:cols[1]].mean(axis=(1, 2)), rtol=1e-5)
    v = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.nn.fractional_avg_pool(v, [1, 2.0, 1.44, 1], seed=2)[0])
    g = np.asarray(tape.gradient(loss, v))
    covered = np.zeros((7, 9), bool)
    covered[:rows[-1], :cols[-1]] = True
    np.testing.assert_allclose(g[0, :, :, 0].sum(), (rows.size - 1) * (cols.size - 1), rtol=1e-5)   # each window's dy=1
    assert (g[0, :, :, 0][covered] > 0).all()
    with pytest.raises(ValueError, match="pooling_ratio"):
        tf.nn.fractional_max_pool(x, [2, 1.5, 1.5, 1])


def test_sparse_cross_sampled_addmm_and_eigh_tridiagonal():
    sp = tf.SparseTensor([[0, 0], [0, 1], [1, 0]], np.array(["a", "b", "c"], object), [2, 2])
    d = tf.constant([["d"], ["e"]])
    c = tf.sparse.cross([sp, d])
    assert np.asarray(c.indices).tolist() == [[0, 0], [0, 1], [1, 0]] and list(c.values) == ["a_X_d", "b_X_d", "c_X_e"]
    # TensorFlow 2.21's buckets for the same crosses (the recipe HashedCrossing uses)
    np.testing.assert_array_equal(np.asarray(tf.sparse.cross_hashed([sp, d], num_buckets=100).values), [82, 54, 41])
    np.testing.assert_array_equal(np.asarray(tf.sparse.cross_hashed([sp, d]).values),
                                  [1584069791037555375, 2292520902626215647, 1746051686049959641])
    np.testing.assert_array_equal(np.asarray(tf.sparse.cross_hashed([np.array([[1], [2]]), d], num_buckets=1000,
                                                                    hash_key=7).values), [192, 738])
    m1 = np.arange(4.0, dtype=np.float32).reshape(2, 2)
    m2 = np.random.default_rng(0).standard_normal((2, 2)).astype(np.float32)
    _, vals, _ = tf.sparse.sampled_addmm(np.array([[0, 1], [1, 0]]), np.array([1.0, 2.0], np.float32), [2, 2], m1, m2,
                                         beta=0.5, alpha=2.0)
    prod = m1 @ m2
    np.testing.assert_allclose(np.asarray(vals), [0.5 + 2 * prod[0, 1], 1.0 + 2 * prod[1, 0]], rtol=1e-6)
    a, b = np.array([1.0, 2, 3]), np.array([0.5, 0.5])
    w = np.linalg.eigvalsh(np.diag(a) + np.diag(b, 1) + np.diag(b, -1))
    np.testing.assert_allclose(np.asarray(tf.linalg.eigh_tridiagonal(a, b)), w, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(tf.linalg.eigh_tridiagonal(a, b, select="i", select_range=[1, 2])), w[1:],
                               rtol=1e-6)
    vals, vecs = tf.linalg.eigh_tridiagonal(a, b, eigvals_only=False)
    t = np.diag(a) + np.diag(b, 1) + np.diag(b, -1)
    np.testing.assert_allclose(t @ np.asarray(vecs), np.asarray(vecs) * np.asarray(vals), atol=1e-5)


def test_with_space_to_batch_is_a_dilated_op():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 9, 10, 3)).astype(np.float32)
    w = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    for pad in ("SAME", "VALID"):
        y = tf.nn.with_space_to_batch(x, [2, 3], pad, lambda inp, n, p: tf.nn.conv2d(inp, w, 1, p), filter_shape=[3, 3])
        want = ref.conv2d_forward(x, w, padding=pad.lower(), dilation=(2, 3))
        np.testing.assert_allclose(np.asarray(y), want, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="filter_shape"):
        tf.nn.with_space_to_batch(x, [2, 2], "SAME", lambda inp, n, p: inp)


def test_ragged_tensor_constructors():
    R = tf.RaggedTensor
    r = R.from_row_lengths([1, 2, 3, 4, 5], [2, 0, 3])
    assert r.to_list() == [[1, 2], [], [3, 4, 5]]
    assert np.asarray(r.row_splits).tolist() == [0, 2, 2, 5] and np.asarray(r.values).tolist() == [1, 2, 3, 4, 5]
    assert int(np.asarray(r.nrows())) == 3 and np.asarray(r.value_rowids()).tolist() == [0, 0, 2, 2, 2]
    assert R.from_row_splits([1.0, 2, 3], [0, 1, 3]).to_list() == [[1.0], [2.0, 3.0]]
    assert R.from_value_rowids([7, 8, 9], [0, 0, 2], nrows=4).to_list() == [[7, 8], [], [9], []]
    assert R.from_tensor([[1, 2, 0], [3, 0, 0]], padding=0).to_list() == [[1, 2], [3]]
    assert R.from_tensor([[1, 2, 0], [3, 0, 0]], lengths=[1, 3]).to_list() == [[1], [3, 0, 0]]
    assert R.from_row_lengths(["a", "b", "c"], [1, 2]).to_list() == [[b"a"], [b"b", b"c"]]
    np.testing.assert_array_equal(np.asarray(r.to_tensor()), [[1, 2, 0], [0, 0, 0], [3, 4, 5]])
    with pytest.raises(ValueError, match="row_splits"):
        R.from_row_splits([1, 2], [0, 3])


def _ref_volume_patches(x, k, s, same):
    n, d, h, w, c = x.shape
    if same:
        out = [-(-v // st) for v, st in zip((d, h, w), s)]
        pads = [max((o - 1) * st + kk - v, 0) for o, st, kk, v in zip(out, s, k, (d, h, w))]
        x = np.pad(x, [(0, 0)] + [(p // 2, p - p // 2) for p in pads] + [(0, 0)])
    else:
        out = [(v - kk) // st + 1 for v, kk, st in zip((d, h, w), k, s)]
    res = np.zeros((n, *out, k[0] * k[1] * k[2] * c))
    for i, j, l in np.ndindex(*out):
        res[:, i, j, l] = x[:, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1], l * s[2]:l * s[2] + k[2]].reshape(n, -1)
    return res


def test_extract_volume_patches_approx_top_k_and_specs():
    x = np.random.default_rng(4).standard_normal((2, 5, 4, 6, 3)).astype(np.float32)
    for k, s, pad in (([2, 2, 2], [2, 2, 2], "VALID"), ([3, 2, 3], [2, 1, 2], "SAME")):
        got = tf.extract_volume_patches(x, [1, *k, 1], [1, *s, 1], pad)
        np.testing.assert_allclose(np.asarray(got), _ref_volume_patches(x, k, s, pad == "SAME"), rtol=1e-6)
    v = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.extract_volume_patches(v, [1, 2, 2, 2, 1], [1, 1, 1, 1, 1], "VALID"))
    g = np.asarray(tape.gradient(loss, v))
    assert g[0, 0, 0, 0, 0] == 1 and g[0, 1, 1, 1, 0] == 8            # a corner in one patch, an inner cell in 8
    vals, idx = tf.approx_top_k(tf.constant([[1.0, 5, 3]]), 2)
    assert np.asarray(vals).tolist() == [[5, 3]] and np.asarray(idx).tolist() == [[1, 2]]
    spec = tf.type_spec_from_value(tf.constant([1.0, 2.0]))
    assert tuple(spec.shape) == (2,) and str(spec.dtype) == "float32"
    sp = tf.type_spec_from_value(tf.SparseTensor([[0, 0]], [1.0], [2, 3]))
    assert sp == tf.SparseTensorSpec([2, 3], "float32") and sp.is_compatible_with(tf.SparseTensor([[0, 1]], [2.0], [2, 3]))
