"""tf.signal (windows, inverse_stft, MDCT pair, rfft3d), tf.linalg (LU family, logm,
tridiagonal / banded solves, tensor diagonals) and tf.data (FixedLengthRecordDataset,
NumpyIterator) additions, against NumPy float64 definitions; gradients against closed forms
or central differences."""
import gzip
import math

import numpy as np
import pytest

import corenn as tf


def test_windows():
    n = np.arange(7)
    want = np.i0(3.0 * np.sqrt(1 - (2 * n / 6 - 1) ** 2)) / np.i0(3.0)
    np.testing.assert_allclose(np.asarray(tf.signal.kaiser_window(7, 3.0)), want, rtol=1e-6)
    k = np.asarray(tf.signal.kaiser_window(4, 3.0), np.float64)
    c = np.cumsum(k[:3]) / k.sum()
    np.testing.assert_allclose(np.asarray(tf.signal.kaiser_bessel_derived_window(6, 3.0)),
                               np.sqrt(np.concatenate([c, c[::-1]])), rtol=1e-6)
    v = np.asarray(tf.signal.vorbis_window(8), np.float64)
    np.testing.assert_allclose(v, np.sin(np.pi / 2 * np.sin(np.pi * (np.arange(8) + 0.5) / 8) ** 2), rtol=1e-6)
    # Princen-Bradley: w[n]^2 + w[n + N/2]^2 = 1 for the MDCT windows
    np.testing.assert_allclose(v[:4] ** 2 + v[4:] ** 2, 1.0, rtol=1e-6)
    kbd = np.asarray(tf.signal.kaiser_bessel_derived_window(8), np.float64)
    np.testing.assert_allclose(kbd[:4] ** 2 + kbd[4:] ** 2, 1.0, rtol=1e-6)


def _ref_mdct(x, L, w):
    half = L // 2
    frames = np.stack([x[i:i + L] for i in range(0, len(x) - L + 1, half)])
    n, k = np.arange(L), np.arange(half)
    basis = np.cos(np.pi / half * (n[:, None] + 0.5 + half / 2) * (k[None, :] + 0.5))
    return 2.0 * (frames * w) @ basis


def test_mdct_pair_reconstructs_and_matches_the_definition():
    x = np.random.default_rng(0).standard_normal(32).astype(np.float32)
    w = np.asarray(tf.signal.vorbis_window(8), np.float64)
    m = tf.signal.mdct(x, 8)
    np.testing.assert_allclose(np.asarray(m), _ref_mdct(x.astype(np.float64), 8, w), rtol=1e-5, atol=1e-5)
    back = np.asarray(tf.signal.inverse_mdct(m))
    np.testing.assert_allclose(back[4:-4], x[4:-4], rtol=1e-4, atol=1e-5)        # all but the half frames at the ends
    mo = tf.signal.mdct(x, 8, norm="ortho")
    np.testing.assert_allclose(np.asarray(mo), np.asarray(m) / 2 * math.sqrt(2 / 4), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(tf.signal.inverse_mdct(mo, norm="ortho"))[4:-4], x[4:-4], rtol=1e-4, atol=1e-5)
    xv = tf.Variable(x)
    r = np.random.default_rng(1).standard_normal(tuple(m.shape))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.signal.mdct(xv, 8) * r.astype(np.float32))
    g = np.asarray(tape.gradient(loss, xv), np.float64)
    num = np.array([(np.sum(_ref_mdct(x + e, 8, w) * r) - np.sum(_ref_mdct(x - e, 8, w) * r)) / 2e-3
                    for e in np.eye(32) * 1e-3])
    np.testing.assert_allclose(g, num, rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="mdct"):
        tf.signal.mdct(x, 7)


def test_inverse_stft_reconstructs():
    x = np.random.default_rng(2).standard_normal(64).astype(np.float32)
    s = tf.signal.stft(x, 16, 4, 16)
    back = np.asarray(tf.signal.inverse_stft(s, 16, 4, 16, window_fn=tf.signal.inverse_stft_window_fn(4)))
    np.testing.assert_allclose(back[12:-12], x[12:-12], rtol=1e-4, atol=1e-5)
    w = np.asarray(tf.signal.hann_window(16), np.float64)
    den = sum(np.roll(np.pad(w ** 2, (0, 0)), 4 * k) for k in range(4))      # step 4: four shifts cover the frame
    np.testing.assert_allclose(np.asarray(tf.signal.inverse_stft_window_fn(4)(16)), w / den, rtol=1e-5)
    with pytest.raises(TypeError):
        tf.signal.inverse_stft(x, 16, 4)


def test_rfft3d_roundtrip():
    x = np.random.default_rng(3).standard_normal((2, 4, 6, 8)).astype(np.float32)
    z = tf.signal.rfft3d(x)
    want = np.fft.rfftn(x, axes=(-3, -2, -1))
    np.testing.assert_allclose(np.asarray(z[0]) + 1j * np.asarray(z[1]), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(tf.signal.irfft3d(z)), x, rtol=1e-4, atol=1e-5)
    z2 = tf.signal.rfft3d(x, fft_length=[4, 6, 10])
    np.testing.assert_allclose(np.asarray(z2[0]), np.fft.rfftn(x, s=(4, 6, 10), axes=(-3, -2, -1)).real, atol=1e-4)


def test_lu_family():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((2, 4, 4))
    lu, perm = tf.linalg.lu(a)
    lu64, p = np.asarray(lu, np.float64), np.asarray(perm)
    for b in range(2):
        L = np.tril(lu64[b], -1) + np.eye(4)
        U = np.triu(lu64[b])
        np.testing.assert_allclose(L @ U, a[b][p[b]], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(tf.linalg.lu_reconstruct(lu, perm)), a, rtol=1e-5, atol=1e-5)
    rhs = rng.standard_normal((2, 4, 3))
    np.testing.assert_allclose(np.asarray(tf.linalg.lu_solve(lu, perm, rhs)), np.linalg.solve(a, rhs), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(np.asarray(tf.linalg.lu_matrix_inverse(lu, perm)), np.linalg.inv(a), rtol=1e-4,
                               atol=1e-4)
    rv = tf.Variable(rhs.astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.linalg.lu_solve(lu, perm, rv))
    # d sum(A^-1 B) / dB = A^-T 1
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, rv)),
                               np.linalg.solve(np.swapaxes(a, 1, 2), np.ones((2, 4, 3))), rtol=1e-4, atol=1e-4)


def test_logm():
    rng = np.random.default_rng(5)
    m = rng.standard_normal((3, 3))
    s = m @ m.T + 3 * np.eye(3)
    w, v = np.linalg.eigh(s)
    np.testing.assert_allclose(np.asarray(tf.linalg.logm(s)), v @ np.diag(np.log(w)) @ v.T, rtol=1e-5, atol=1e-6)
    ns = np.array([[2.0, 0.5], [0.3, 1.5]])
    w, v = np.linalg.eig(ns)
    np.testing.assert_allclose(np.asarray(tf.linalg.logm(ns)), (v @ np.diag(np.log(w)) @ np.linalg.inv(v)).real,
                               rtol=1e-5, atol=1e-6)
    assert np.isnan(np.asarray(tf.linalg.logm(np.diag([1.0, -2.0])))).all()


def _tri_dense(sup, diag, sub):
    m = len(diag)
    return np.diag(diag) + np.diag(sup[:-1], 1) + np.diag(sub[1:], -1)


def test_tridiagonal_and_banded():
    rng = np.random.default_rng(6)
    sup, diag, sub = rng.standard_normal(5), rng.standard_normal(5) + 4, rng.standard_normal(5)
    a = _tri_dense(sup, diag, sub)
    rhs = rng.standard_normal((5, 2))
    compact = np.stack([sup, diag, sub])
    np.testing.assert_allclose(np.asarray(tf.linalg.tridiagonal_solve(compact, rhs)), np.linalg.solve(a, rhs),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(tf.linalg.tridiagonal_solve((sup, diag, sub), rhs, diagonals_format="sequence")),
                               np.linalg.solve(a, rhs), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(tf.linalg.tridiagonal_solve(compact, rhs.T, transpose_rhs=True)),
                               np.linalg.solve(a, rhs).T, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(tf.linalg.tridiagonal_matmul(compact, rhs)), a @ rhs, rtol=1e-5, atol=1e-6)
    cv = tf.Variable(compact.astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.linalg.tridiagonal_matmul(cv, rhs.astype(np.float32)))
    g = np.asarray(tape.gradient(loss, cv))
    rs = rhs.sum(axis=1)      # d sum(A R) / dA_ij = sum_k R_jk
    np.testing.assert_allclose(g[1], rs, rtol=1e-5)
    np.testing.assert_allclose(g[0], np.append(rs[1:], 0.0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g[2], np.insert(rs[:-1], 0, 0.0), rtol=1e-5, atol=1e-7)
    # banded: lower, 2 bands (diagonal, then the subdiagonal left-padded)
    bands = np.array([[2.0, 3, 4], [9, 5, 1]])
    low = np.diag([2.0, 3, 4]) + np.diag([5.0, 1], -1)
    np.testing.assert_allclose(np.asarray(tf.linalg.banded_triangular_solve(bands, np.ones((3, 1)))),
                               np.linalg.solve(low, np.ones((3, 1))), rtol=1e-5)
    up_bands = np.array([[2.0, 3, 9], [1, 5, 6]])      # top: superdiagonal right-padded, bottom: diagonal
    up = np.diag([1.0, 5, 6]) + np.diag([2.0, 3], 1)
    np.testing.assert_allclose(np.asarray(tf.linalg.banded_triangular_solve(up_bands, np.ones((3, 1)), lower=False)),
                               np.linalg.solve(up, np.ones((3, 1))), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(tf.linalg.banded_triangular_solve(bands, np.ones((3, 1)), adjoint=True)),
                               np.linalg.solve(low.T, np.ones((3, 1))), rtol=1e-5)


def test_tensor_diag():
    d = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = np.asarray(tf.linalg.tensor_diag(d))
    assert t.shape == (2, 3, 2, 3)
    want = np.zeros((2, 3, 2, 3))
    for i in range(2):
        for j in range(3):
            want[i, j, i, j] = d[i, j]
    np.testing.assert_array_equal(t, want)
    np.testing.assert_array_equal(np.asarray(tf.linalg.tensor_diag_part(want)), d)
    with pytest.raises(ValueError, match="tensor_diag_part"):
        tf.linalg.tensor_diag_part(np.zeros((2, 3)))


def test_fixed_length_records_and_numpy_iterator(tmp_path):
    p = tmp_path / "a.bin"
    p.write_bytes(b"HH" + bytes(range(12)) + b"F")
    ds = tf.data.FixedLengthRecordDataset(str(p), 4, header_bytes=2, footer_bytes=1)
    assert list(ds.as_numpy_iterator()) == [bytes(range(0, 4)), bytes(range(4, 8)), bytes(range(8, 12))]
    g = tmp_path / "b.gz"
    g.write_bytes(gzip.compress(bytes(range(8))))
    assert list(tf.data.FixedLengthRecordDataset([str(g)], 4, compression_type="GZIP").as_numpy_iterator()) == \
        [bytes(range(4)), bytes(range(4, 8))]
    bad = tmp_path / "c.bin"
    bad.write_bytes(bytes(7))
    with pytest.raises(tf.errors.DataLossError, match="multiple"):
        list(tf.data.FixedLengthRecordDataset(str(bad), 4).as_numpy_iterator())
    it = tf.data.Dataset.range(3).as_numpy_iterator()
    assert isinstance(it, tf.data.NumpyIterator)
    assert it.next() == 0 and list(it) == [1, 2]
    assert list(tf.data.NumpyIterator(tf.data.Dataset.range(2))) == [0, 1]


def test_dataset_spec_and_threading_options():
    ds = tf.data.Dataset.from_tensor_slices(np.zeros((4, 3), np.float32))
    spec = tf.data.DatasetSpec.from_value(ds)
    assert spec.is_compatible_with(ds) and spec == tf.data.DatasetSpec(ds.element_spec)
    assert not spec.is_compatible_with(tf.data.Dataset.range(3))
    t = tf.data.ThreadingOptions()
    t.private_threadpool_size = 4
    assert t.private_threadpool_size == 4


def test_iterator_type():
    it = iter(tf.data.Dataset.range(3))
    assert isinstance(it, tf.data.Iterator) and isinstance(tf.data.Dataset.range(2).as_numpy_iterator(), tf.data.Iterator)
    assert not isinstance([1, 2], tf.data.Iterator)
    assert repr(tf.data.IteratorSpec(tf.data.Dataset.range(2).element_spec)).startswith("IteratorSpec(")
