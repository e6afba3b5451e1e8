"""tf.nn additions: conv3d / conv3d_transpose / conv_transpose, max_pool3d / avg_pool3d,
max_pool_with_argmax, weighted_moments, CTC in TensorFlow's conventions (time-major logits,
blank_index, SparseTensor labels and results), collapse_repeated, dilation2d / erosion2d.

Checked against tests/reference.py (float64 loops) and small NumPy definitions; gradients
against the reference gradients or central differences of the references.
"""
import numpy as np
import pytest

import corenn as tf
from tests import reference as ref


def _tape(fn, *arrays):
    vs = [tf.Variable(np.asarray(a, np.float32)) for a in arrays]
    with tf.GradientTape() as tape:
        y = fn(*vs)
        r = np.random.default_rng(5).standard_normal(tuple(y.shape)).astype(np.float32)
        loss = tf.reduce_sum(y * r)
    return y, r, [np.asarray(g, np.float64) for g in tape.gradient(loss, vs)]


def test_conv3d_matches_reference_with_gradients():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 6, 7, 3)).astype(np.float32)
    w = rng.standard_normal((2, 3, 2, 3, 4)).astype(np.float32)
    y, r, (gx, gw) = _tape(lambda a, b: tf.nn.conv3d(a, b, [1, 2, 1, 2, 1], "SAME"), x, w)
    np.testing.assert_allclose(np.asarray(y), ref.conv3d(x, w, strides=(2, 1, 2), padding="same"), rtol=1e-4, atol=1e-4)
    dx, dw, _ = ref.conv3d_grads(x, w, r, strides=(2, 1, 2), padding="same")
    np.testing.assert_allclose(gx, dx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gw, dw, rtol=1e-4, atol=1e-3)
    yd = tf.nn.conv3d(x, w, [1, 1, 1, 1, 1], "VALID", dilations=[1, 2, 1, 1, 1])
    np.testing.assert_allclose(np.asarray(yd), ref.conv3d(x, w, dilation=(2, 1, 1)), rtol=1e-4, atol=1e-4)
    # NCDHW and explicit pads
    yc = tf.nn.conv3d(np.moveaxis(x, -1, 1), w, 1, [[0, 0], [0, 0], [1, 0], [0, 1], [1, 1]], data_format="NCDHW")
    xp = np.pad(x, [(0, 0), (1, 0), (0, 1), (1, 1), (0, 0)])
    np.testing.assert_allclose(np.moveaxis(np.asarray(yc), 1, -1), ref.conv3d(xp, w), rtol=1e-4, atol=1e-4)
    assert tuple(tf.nn.convolution(x, w, padding="SAME").shape) == (2, 5, 6, 7, 4)
    with pytest.raises(ValueError, match="conv3d"):
        tf.nn.conv3d(x, w[:, :, :, :2], 1, "SAME")


def test_conv3d_transpose_is_the_conv_input_gradient():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((2, 3, 2, 3, 4)).astype(np.float32)      # (kd, kh, kw, out, in)
    x = rng.standard_normal((2, 3, 3, 4, 4)).astype(np.float32)
    y, r, (gx, gw) = _tape(lambda a, b: tf.nn.conv3d_transpose(a, b, [2, 5, 6, 7, 3], [1, 2, 2, 2, 1], "SAME"), x, w)
    want, _, _ = ref.conv3d_grads(np.zeros((2, 5, 6, 7, 3)), w, x, strides=(2, 2, 2), padding="same")
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-4, atol=1e-4)
    # y = A^T x with A the conv: dL/dx = A r (the conv of r), dL/dw from the conv's weight gradient of (r, x)
    np.testing.assert_allclose(gx, ref.conv3d(r, w, strides=(2, 2, 2), padding="same"), rtol=1e-4, atol=1e-4)
    _, dw, _ = ref.conv3d_grads(r, w, x, strides=(2, 2, 2), padding="same")
    np.testing.assert_allclose(gw, dw, rtol=1e-4, atol=1e-3)
    y2 = tf.nn.conv_transpose(x, w, [2, 5, 6, 7, 3], [1, 2, 2, 2, 1], "SAME")
    np.testing.assert_allclose(np.asarray(y2), np.asarray(y))
    with pytest.raises(ValueError, match="conv3d_transpose"):
        tf.nn.conv3d_transpose(x, w, [2, 9, 6, 7, 3], [1, 2, 2, 2, 1], "SAME")


def test_pool3d_and_max_pool_with_argmax():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 5, 6, 7, 3)).astype(np.float32)
    y, r, (g,) = _tape(lambda a: tf.nn.max_pool3d(a, [1, 2, 2, 2, 1], [1, 2, 2, 2, 1], "SAME"), x)
    np.testing.assert_allclose(np.asarray(y), ref.max_pool3d(x, (2, 2, 2), (2, 2, 2), "same")[0], rtol=1e-6)
    np.testing.assert_allclose(g, ref.max_pool3d_grad(x, r, (2, 2, 2), (2, 2, 2), "same"), rtol=1e-5, atol=1e-6)
    y, r, (g,) = _tape(lambda a: tf.nn.avg_pool3d(a, 2, 2, "SAME"), x)
    np.testing.assert_allclose(np.asarray(y), ref.avg_pool3d(x, (2, 2, 2), (2, 2, 2), "same"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g, ref.avg_pool3d_grad(x.shape, r, (2, 2, 2), (2, 2, 2), "same"), rtol=1e-5, atol=1e-6)
    assert tuple(tf.nn.max_pool(x, 3, 1, "VALID").shape) == (2, 3, 4, 5, 3)
    x2 = rng.standard_normal((2, 5, 5, 3)).astype(np.float32)
    for pad, inc in (("SAME", False), ("VALID", True)):
        v, am = tf.nn.max_pool_with_argmax(x2, [1, 2, 2, 1], [1, 2, 2, 1], pad, include_batch_in_index=inc)
        am = np.asarray(am)
        flat = x2.reshape(-1) if inc else x2.reshape(2, -1)
        picked = flat[am] if inc else np.stack([flat[b][am[b]] for b in range(2)])
        np.testing.assert_array_equal(picked, np.asarray(v))
        np.testing.assert_array_equal(np.asarray(v), ref.max_pool2d(x2, (2, 2), (2, 2), pad.lower())[0])
        assert am.dtype == np.int64


def test_weighted_moments_and_collapse_repeated():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    w = rng.uniform(0.5, 2, (4, 1)).astype(np.float32)
    m, v = tf.nn.weighted_moments(x, [0], w)
    mw = (w * x).sum(0) / w.sum()
    np.testing.assert_allclose(np.asarray(m), mw, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(v), (w * (x - mw) ** 2).sum(0) / w.sum(), rtol=1e-5)
    m, v = tf.nn.weighted_moments(x, [0, 1], w, keepdims=True)
    assert tuple(m.shape) == (1, 1)
    lab, lens = tf.nn.collapse_repeated([[1, 1, 2, 2, 3], [4, 4, 4, 0, 0]], [5, 3])
    np.testing.assert_array_equal(np.asarray(lab), [[1, 2, 3], [4, 0, 0]])
    np.testing.assert_array_equal(np.asarray(lens), [3, 1])


def test_ctc_in_tensorflow_conventions():
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((6, 2, 5)).astype(np.float32)          # time-major
    labels = np.array([[1, 2, 0], [3, 3, 1]])
    loss, r, (g,) = _tape(lambda lg: tf.nn.ctc_loss(labels, lg, [2, 3], [6, 5]), logits)
    want, grad = ref.ctc_loss(np.swapaxes(logits, 0, 1), labels, [2, 3], [6, 5], blank=0)
    np.testing.assert_allclose(np.asarray(loss), want, rtol=1e-5)
    np.testing.assert_allclose(g, np.swapaxes(grad * r[:, None, None], 0, 1), rtol=1e-4, atol=1e-5)
    # blank_index=-1 is the last class; a SparseTensor of labels needs no label_length
    want_last, _ = ref.ctc_loss(np.swapaxes(logits, 0, 1), labels, [2, 3], [6, 5], blank=4)
    np.testing.assert_allclose(np.asarray(tf.nn.ctc_loss(labels, logits, [2, 3], [6, 5], blank_index=-1)), want_last,
                               rtol=1e-5)
    sp = tf.SparseTensor([[0, 0], [0, 1], [1, 0], [1, 1], [1, 2]], [1, 2, 3, 3, 1], [2, 3])
    np.testing.assert_allclose(np.asarray(tf.nn.ctc_loss(sp, logits, None, [6, 5])), want, rtol=1e-5)
    # greedy decoding: best class per step, repeats merged, the last class (blank) dropped
    decoded, neg = tf.nn.ctc_greedy_decoder(logits, [6, 5])
    best = logits.argmax(-1)
    for b, n in enumerate([6, 5]):
        path = [int(c) for i, c in enumerate(best[:n, b]) if (i == 0 or c != best[i - 1, b]) and c != 4]
        got = [int(v) for (bb, _), v in zip(decoded[0].indices.tolist(), decoded[0].values.tolist()) if bb == b]
        assert got == path
        np.testing.assert_allclose(np.asarray(neg)[b, 0], -logits[:n, b].max(-1).sum(), rtol=1e-5)
    paths, logp = tf.nn.ctc_beam_search_decoder(logits, [6, 5], beam_width=5, top_paths=2)
    assert len(paths) == 2 and tuple(logp.shape) == (2, 2)
    assert np.all(np.asarray(logp)[:, 0] >= np.asarray(logp)[:, 1])


def _ref_dilation(x, f, s, r, pad):
    n, h, w, c = x.shape
    kh, kw = (f.shape[0] - 1) * r[0] + 1, (f.shape[1] - 1) * r[1] + 1
    if pad == "SAME":
        oh, ow = -(-h // s[0]), -(-w // s[1])
        ph, pw = max((oh - 1) * s[0] + kh - h, 0) // 2, max((ow - 1) * s[1] + kw - w, 0) // 2
    else:
        oh, ow, ph, pw = (h - kh) // s[0] + 1, (w - kw) // s[1] + 1, 0, 0
    out = np.full((n, oh, ow, c), -np.inf)
    for i in range(oh):
        for j in range(ow):
            for di in range(f.shape[0]):
                for dj in range(f.shape[1]):
                    y, xx = i * s[0] - ph + di * r[0], j * s[1] - pw + dj * r[1]
                    if 0 <= y < h and 0 <= xx < w:
                        out[:, i, j] = np.maximum(out[:, i, j], x[:, y, xx] + f[di, dj])
    return out


def test_dilation_and_erosion():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 5, 6, 3))
    f = rng.standard_normal((2, 3, 3))
    for s, r, pad in (((1, 1), (1, 1), "SAME"), ((2, 2), (1, 2), "VALID")):
        y, rr, (gx, gf) = _tape(lambda a, b: tf.nn.dilation2d(a, b, [1, *s, 1], pad, "NHWC", [1, *r, 1]), x, f)
        np.testing.assert_allclose(np.asarray(y), _ref_dilation(x.astype(np.float32), f.astype(np.float32), s, r, pad),
                                   rtol=1e-6, atol=1e-6)
        eps = 1e-4
        e = np.zeros_like(f)
        e[1, 2, 0] = eps
        num = np.sum((_ref_dilation(x, f + e, s, r, pad) - _ref_dilation(x, f - e, s, r, pad)) * rr) / (2 * eps)
        np.testing.assert_allclose(gf[1, 2, 0], num, rtol=1e-4, atol=1e-5)
        assert np.isclose(gx.sum(), rr.sum(), rtol=1e-5)            # every output picks one input cell
    # erosion(x, f) = -dilation(-x, f mirrored)
    ero = tf.nn.erosion2d(x, f, [1, 1, 1, 1], "SAME", "NHWC", [1, 1, 1, 1])
    np.testing.assert_allclose(np.asarray(ero), -_ref_dilation(-x, f[::-1, ::-1], (1, 1), (1, 1), "SAME"),
                               rtol=1e-5, atol=1e-6)
