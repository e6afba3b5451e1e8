"""Names the TF tutorials / keras.io examples of sweep 5 use: tf.signal (stft, frame, windows),
tf.math.unsorted_segment_* / segment_*, tf.linalg.normalize, tf.random.log_uniform_candidate_sampler,
keras.preprocessing.sequence.skipgrams / make_sampling_table. Values against float64 NumPy,
gradients against finite differences, bad input named."""
import numpy as np
import pytest

import corenn as tf
from reference import f64, numerical_grad

rng = np.random.default_rng(0)


def _np_stft(x, L, step, n):
    frames = np.stack([x[..., s:s + L] for s in range(0, x.shape[-1] - L + 1, step)], axis=-2)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(L) / L)
    return np.fft.rfft(frames * w, n=n)


def test_stft_matches_numpy_and_its_magnitude_is_differentiable():
    x = rng.normal(size=(2, 40)).astype("float32")
    z = tf.signal.stft(x, frame_length=10, frame_step=6)     # fft_length: next power of 2 = 16
    ref = _np_stft(f64(x), 10, 6, 16)
    assert z.shape == ref.shape == (2, 6, 9) and z.dtype == "complex64"
    np.testing.assert_allclose(z.real.numpy(), ref.real, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tf.math.imag(z).numpy(), ref.imag, rtol=1e-5, atol=1e-5)
    xv = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.abs(tf.signal.stft(xv, 10, 6)) ** 2)
    g = tape.gradient(loss, xv).numpy()
    np.testing.assert_allclose(g, numerical_grad(lambda a: float(np.sum(np.abs(_np_stft(a, 10, 6, 16)) ** 2)), f64(x)),
                               rtol=1e-3, atol=1e-3)


def test_frame_pad_end_and_windows():
    x = np.arange(10, dtype="float32")
    f = tf.signal.frame(x, 4, 3, pad_end=True).numpy()
    assert f.shape == (4, 4) and list(f[-1]) == [9, 0, 0, 0]
    np.testing.assert_allclose(tf.signal.hann_window(8).numpy(), np.hanning(9)[:8], atol=1e-6)
    np.testing.assert_allclose(tf.signal.hann_window(8, periodic=False).numpy(), np.hanning(8), atol=1e-6)
    with pytest.raises(ValueError, match="fft_length 8 is shorter than frame_length 10"):
        tf.signal.stft(x, 10, 2, fft_length=8)


def test_segment_ops_values_and_gradients():
    data = rng.normal(size=(6, 3)).astype("float32")
    ids = np.array([2, 0, 2, 3, 0, 2])
    n = 5
    d64 = f64(data)
    sums = np.zeros((n, 3)); np.add.at(sums, ids, d64)
    counts = np.bincount(ids, minlength=n)[:, None]
    np.testing.assert_allclose(tf.math.unsorted_segment_sum(data, ids, n).numpy(), sums, rtol=1e-6)
    np.testing.assert_allclose(tf.math.unsorted_segment_mean(data, ids, n).numpy(), sums / np.maximum(counts, 1), rtol=1e-6)
    np.testing.assert_allclose(tf.math.unsorted_segment_sqrt_n(data, ids, n).numpy(),
                               sums / np.sqrt(np.maximum(counts, 1)), rtol=1e-6)
    mins = np.full((n, 3), np.inf); np.minimum.at(mins, ids, d64)
    mins[counts[:, 0] == 0] = np.finfo(np.float32).max   # TensorFlow: an empty segment holds the highest float32
    np.testing.assert_allclose(tf.math.unsorted_segment_min(data, ids, n).numpy(), mins, rtol=1e-6)
    for fn, ref in ((tf.math.unsorted_segment_mean, lambda a: (np.add.at(s := np.zeros((n, 3)), ids, a), s / np.maximum(counts, 1))[1]),
                    (tf.math.unsorted_segment_min, None)):
        v = tf.Variable(data)
        with tf.GradientTape() as tape:
            out = fn(v, ids, n)
            loss = tf.reduce_sum(tf.where(tf.math.is_finite(out), out, 0.0) ** 2)
        g = tape.gradient(loss, v).numpy()
        if ref is not None:
            expect = numerical_grad(lambda a: float(np.sum(ref(a) ** 2)), d64)
        else:   # min: each entry holding its segment's min gets 2 * min
            expect = np.where(d64 == mins[ids], 2 * d64, 0.0)
        np.testing.assert_allclose(g, expect, rtol=1e-4, atol=1e-5)
    sorted_ids = np.array([0, 0, 1, 3, 3, 3])
    np.testing.assert_allclose(tf.math.segment_mean(data, sorted_ids).numpy()[3], d64[3:].mean(0), rtol=1e-6)
    with pytest.raises(ValueError, match="must be sorted"):
        tf.math.segment_sum(data, ids)
    with pytest.raises(ValueError, match=r"segment ids must lie in \[0, 3\)"):
        tf.math.unsorted_segment_mean(data, ids, 3)


def test_linalg_normalize():
    x = rng.normal(size=(4, 3)).astype("float32")
    t, norm = tf.linalg.normalize(x, axis=1)
    expect = np.linalg.norm(f64(x), axis=1, keepdims=True)
    np.testing.assert_allclose(norm.numpy(), expect, rtol=1e-6)
    np.testing.assert_allclose(t.numpy(), f64(x) / expect, rtol=1e-6)
    _, n1 = tf.linalg.normalize(x, ord=1)
    assert n1.shape == (1, 1) and abs(float(n1.numpy()[0, 0]) - np.abs(f64(x)).sum()) < 1e-4
    v = tf.Variable(x)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.linalg.normalize(v, axis=1)[0][:, 0])
    g = tape.gradient(loss, v).numpy()
    f = lambda a: float(np.sum((a / np.linalg.norm(a, axis=1, keepdims=True))[:, 0]))
    np.testing.assert_allclose(g, numerical_grad(f, f64(x)), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="tf.linalg.normalize: ord"):
        tf.linalg.normalize(x, ord=-1)


def test_log_uniform_candidate_sampler():
    true = np.array([[3], [7]])
    s, te, se = tf.random.log_uniform_candidate_sampler(true, 1, 6, True, 50, seed=3)
    s = s.numpy()
    assert s.dtype == np.int64 and len(set(s.tolist())) == 6 and s.min() >= 0 and s.max() < 50
    assert te.shape == (2, 1) and se.shape == (6,)
    p3 = np.log(5 / 4) / np.log(51)
    assert 1 - (1 - p3) ** 6 - 1e-6 <= float(te.numpy()[0, 0]) < 1   # at least num_sampled draws
    s2, te2, _ = tf.random.log_uniform_candidate_sampler(true, 1, 20000, False, 50, seed=4)
    freq = np.bincount(s2.numpy(), minlength=50) / 20000
    probs = np.log((np.arange(50) + 2) / (np.arange(50) + 1)) / np.log(51)
    np.testing.assert_allclose(freq[:5], probs[:5], atol=0.015)
    np.testing.assert_allclose(te2.numpy()[0, 0], probs[3] * 20000, rtol=1e-5)
    with pytest.raises(ValueError, match="true_classes must have shape"):
        tf.random.log_uniform_candidate_sampler(np.array([3, 7]), 1, 2, True, 50)


def test_skipgrams_and_sampling_table():
    seq = [1, 2, 0, 3]
    couples, labels = tf.keras.preprocessing.sequence.skipgrams(seq, 10, window_size=1, negative_samples=1.0,
                                                                shuffle=False, seed=1)
    positives = [tuple(c) for c, l in zip(couples, labels) if l == 1]
    assert positives == [(1, 2), (2, 1)]           # 0 is padding: never paired
    negatives = [c for c, l in zip(couples, labels) if l == 0]
    assert len(negatives) == 2 and all(1 <= c[1] < 10 for c in negatives)
    _, cat = tf.keras.preprocessing.sequence.skipgrams(seq, 10, window_size=1, categorical=True, seed=1)
    assert sorted(map(tuple, cat)) == [(0, 1), (0, 1), (1, 0), (1, 0)]
    table = tf.keras.preprocessing.sequence.make_sampling_table(100)
    assert table.shape == (100,) and np.all(np.diff(table) >= 0) and table[-1] <= 1
