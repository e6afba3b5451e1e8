"""keras.ops.image's Keras 3.15 ops: each against a float64 NumPy reference written here from the
math (per-pixel loops, colorsys), gradients against central finite differences, channels_first
against channels_last, errors that name the op."""
import colorsys

import numpy as np
import pytest

import corenn
from corenn import ops
from reference import f64, numerical_grad

I = ops.image


def _grad_check(call, ref, x, rng, rtol=2e-3, atol=2e-4):
    w = rng.normal(size=np.shape(ref(x)))
    t = ops.convert_to_tensor(x.astype(np.float32))
    with corenn.GradientTape() as tape:
        tape.watch(t)
        loss = ops.sum(ops.multiply(call(t), w.astype(np.float32)))
    g = tape.gradient(loss, t)
    want = numerical_grad(lambda v: float((f64(ref(v)) * w).sum()), x)
    np.testing.assert_allclose(np.asarray(g), want, rtol=rtol, atol=atol)


def _img(rng, *shape):
    return rng.uniform(0, 1, size=shape).astype(np.float32).astype(np.float64)


def _correlate(x, k, pad):
    """Each channel of x (N, H, W, C) cross-correlated with k (kh, kw), zero padding pad."""
    xp = np.pad(x, [(0, 0), pad[0], pad[1], (0, 0)])
    kh, kw = k.shape
    oh, ow = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(kh):
        for j in range(kw):
            out += k[i, j] * xp[:, i:i + oh, j:j + ow]
    return out


def _gauss(n, s):
    v = np.exp(-0.5 * ((np.arange(n) - (n - 1) / 2) / s) ** 2)
    return v / v.sum()


def test_hsv_round_trip_and_colorsys(rng):
    x = _img(rng, 2, 3, 4, 3)
    hsv = np.asarray(I.rgb_to_hsv(x))
    want = np.array([colorsys.rgb_to_hsv(*p) for p in x.reshape(-1, 3)]).reshape(x.shape)
    np.testing.assert_allclose(hsv, want, atol=1e-6)
    np.testing.assert_allclose(np.asarray(I.hsv_to_rgb(hsv)), x, atol=1e-5)
    cf = np.asarray(I.rgb_to_hsv(x.transpose(0, 3, 1, 2), data_format="channels_first"))
    np.testing.assert_allclose(cf, want.transpose(0, 3, 1, 2), atol=1e-6)
    with pytest.raises(ValueError, match="image.rgb_to_hsv: expected 3 channels"):
        I.rgb_to_hsv(x[..., :2])
    to_hsv = lambda v: np.array([colorsys.rgb_to_hsv(*p) for p in v.reshape(-1, 3)]).reshape(v.shape)   # noqa: E731
    to_rgb = lambda v: np.array([colorsys.hsv_to_rgb(*p) for p in v.reshape(-1, 3)]).reshape(v.shape)   # noqa: E731
    hsv_in = np.stack([x[..., 0] * 0.98 + 0.01, x[..., 1], x[..., 2]], -1)   # hue away from the wrap at 1
    np.testing.assert_allclose(np.asarray(I.hsv_to_rgb(hsv_in)), to_rgb(hsv_in), atol=1e-6)
    _grad_check(I.rgb_to_hsv, to_hsv, x[:1, :2], rng)
    _grad_check(I.hsv_to_rgb, to_rgb, hsv_in[:1, :2], rng)


def test_gaussian_blur_sobel_and_ssim(rng):
    x = _img(rng, 2, 6, 7, 2)
    k = np.outer(_gauss(5, 1.5), _gauss(3, 0.7))
    ref = lambda v: _correlate(v, k, [(2, 2), (1, 1)])   # noqa: E731
    np.testing.assert_allclose(np.asarray(I.gaussian_blur(x, (5, 3), (1.5, 0.7))), ref(x), rtol=1e-5, atol=1e-6)
    _grad_check(lambda t: I.gaussian_blur(t, (5, 3), (1.5, 0.7)), ref, x[:1, :4, :5], rng)
    sob = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], float)
    edges = np.asarray(I.sobel_edges(x))
    assert edges.shape == (2, 6, 7, 2, 2)
    np.testing.assert_allclose(edges[..., 0], _correlate(x, sob, [(1, 1), (1, 1)]), atol=1e-5)
    np.testing.assert_allclose(edges[..., 1], _correlate(x, sob.T, [(1, 1), (1, 1)]), atol=1e-5)
    np.testing.assert_allclose(np.asarray(I.sobel_edges(x.transpose(0, 3, 1, 2), data_format="channels_first")),
                               edges.transpose(0, 3, 1, 2, 4), atol=1e-6)

    def ssim_ref(a, b, size=3, sigma=1.5, c1=1e-4, c2=9e-4):
        g = np.outer(_gauss(size, sigma), _gauss(size, sigma))
        blur = lambda v: _correlate(v, g, [(0, 0), (0, 0)])   # noqa: E731
        m1, m2 = blur(a), blur(b)
        s11, s22, s12 = blur(a * a) - m1 * m1, blur(b * b) - m2 * m2, blur(a * b) - m1 * m2
        m = (2 * m1 * m2 + c1) * (2 * s12 + c2) / ((m1 ** 2 + m2 ** 2 + c1) * (s11 + s22 + c2))
        return m.mean(axis=(1, 2, 3))
    y = np.clip(x + rng.normal(size=x.shape) * 0.1, 0, 1)
    np.testing.assert_allclose(np.asarray(I.ssim(x, y, filter_size=3)), ssim_ref(x, y), rtol=1e-5)
    assert abs(float(np.asarray(I.ssim(x[0], x[0], filter_size=3))) - 1.0) < 1e-6
    _grad_check(lambda t: I.ssim(t, y[:1, :5, :5], filter_size=3), lambda v: ssim_ref(v, y[:1, :5, :5]), x[:1, :5, :5], rng)


def _fold(i, n, mode):
    """An index outside [0, n) folded back in, per fill mode."""
    if mode in ("constant", "nearest"):
        return min(max(i, 0), n - 1)
    if mode == "wrap":
        return i % n
    if mode == "reflect":                    # d c b a | a b c d | d c b a: period 2n
        i %= 2 * n
        return i if i < n else 2 * n - 1 - i
    if n == 1:                               # mirror: d c b | a b c d | c b a: period 2n - 2
        return 0
    i %= 2 * n - 2
    return i if i < n else 2 * n - 2 - i


def _map_ref(a, coords, order, mode, cval):
    """scipy-style sampling, one point at a time."""
    out = np.zeros(coords[0].shape)
    for p in np.ndindex(coords[0].shape):
        pt = [c[p] for c in coords]
        taps = [[(int(np.round(v)), 1.0)] if order == 0 else
                [(int(np.floor(v)), 1 - (v - np.floor(v))), (int(np.floor(v)) + 1, v - np.floor(v))] for v in pt]
        total = 0.0
        for combo in np.ndindex(*[len(t) for t in taps]):
            idx = [taps[d][k][0] for d, k in enumerate(combo)]
            wt = np.prod([taps[d][k][1] for d, k in enumerate(combo)])
            inside = all(0 <= i < n for i, n in zip(idx, a.shape))
            if mode == "constant" and not inside:
                total += wt * cval
            else:
                total += wt * a[tuple(_fold(i, n, mode) for i, n in zip(idx, a.shape))]
        out[p] = total
    return out


@pytest.mark.parametrize("mode", ["constant", "nearest", "wrap", "mirror", "reflect"])
@pytest.mark.parametrize("order", [0, 1])
def test_map_coordinates(mode, order, rng):
    a = _img(rng, 4, 5)
    coords = [rng.uniform(-6, 10, size=(3, 4)) + 0.013, rng.uniform(-7, 11, size=(3, 4)) + 0.013]
    got = np.asarray(I.map_coordinates(a, coords, order, fill_mode=mode, fill_value=0.4))
    np.testing.assert_allclose(got, _map_ref(a, coords, order, mode, 0.4), rtol=1e-5, atol=1e-6)
    if order == 1:
        _grad_check(lambda t: I.map_coordinates(t, coords, 1, fill_mode=mode),
                    lambda v: _map_ref(v, coords, 1, mode, 0.0), a, rng)


def _affine_ref(x, t, mode, cval, order=1):
    n, h, w, c = x.shape
    out = np.zeros(x.shape)
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    for b in range(n):
        a0, a1, a2, b0, b1, b2, c0, c1 = t[b]
        k = c0 * cols + c1 * rows + 1
        xs, ys = (a0 * cols + a1 * rows + a2) / k, (b0 * cols + b1 * rows + b2) / k
        for ch in range(c):
            out[b, :, :, ch] = _map_ref(x[b, :, :, ch], [ys, xs], order, mode, cval)
    return out


@pytest.mark.parametrize("mode", ["constant", "nearest", "wrap", "mirror", "reflect"])
def test_affine_transform(mode, rng):
    x = _img(rng, 2, 5, 6, 2)
    t = np.array([[1.1, 0.2, 0.37, -0.1, 0.9, -1.21, 0, 0], [0.8, -0.3, 2.13, 0.25, 1.2, 0.71, 0, 0]])
    got = np.asarray(I.affine_transform(x, t, fill_mode=mode, fill_value=0.3))
    np.testing.assert_allclose(got, _affine_ref(x, t, mode, 0.3), rtol=1e-5, atol=1e-5)
    cf = np.asarray(I.affine_transform(x.transpose(0, 3, 1, 2), t, fill_mode=mode, fill_value=0.3,
                                       data_format="channels_first"))
    np.testing.assert_allclose(cf, got.transpose(0, 3, 1, 2), atol=1e-6)
    _grad_check(lambda v: I.affine_transform(v, t[:1], fill_mode=mode), lambda v: _affine_ref(v, t[:1], mode, 0.0),
                x[:1], rng)


def test_perspective_transform_is_the_homography(rng):
    x = _img(rng, 1, 6, 7, 1)
    start = np.array([[0, 0], [6, 0], [0, 5], [6, 5]], float)
    np.testing.assert_allclose(np.asarray(I.perspective_transform(x, start, start)), x, atol=1e-5)
    # end points an affine image of the start points: the transform maps end -> start
    m = np.array([[0.9, 0.1, 0.4], [-0.05, 1.1, -0.3]])
    end = start @ m[:, :2].T + m[:, 2]
    inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))
    t = np.concatenate([inv[0], inv[1], [0, 0]])[None]
    got = np.asarray(I.perspective_transform(x, start, end, fill_value=0.25))
    np.testing.assert_allclose(got, _affine_ref(x, t, "constant", 0.25), atol=1e-4)
    with pytest.raises(ValueError, match=r"image.perspective_transform: start_points and end_points must"):
        I.perspective_transform(x, start[:3], end[:3])


def test_elastic_transform():
    x = np.random.default_rng(0).uniform(size=(2, 8, 9, 3)).astype(np.float32)
    a = np.asarray(I.elastic_transform(x, alpha=3.0, sigma=1.0, seed=5))
    assert a.shape == x.shape and not np.allclose(a, x)
    np.testing.assert_array_equal(a, np.asarray(I.elastic_transform(x, alpha=3.0, sigma=1.0, seed=5)))
    np.testing.assert_allclose(np.asarray(I.elastic_transform(x, alpha=0.0, sigma=1.0, seed=5)), x, atol=1e-6)


def _weights_ref(n_in, n_out, scale, trans, kernel, antialias):
    """The sampling weights, one output pixel at a time, from the definition."""
    ks = max(1 / scale, 1) if antialias else 1
    w = np.zeros((n_in, n_out))
    for j in range(n_out):
        p = (j + 0.5 - trans) / scale - 0.5
        if not -0.5 <= p <= n_in - 0.5:
            continue
        col = np.array([kernel(abs(p - i) / ks) for i in range(n_in)])
        w[:, j] = col / col.sum() if abs(col.sum()) > 1e-4 else 0
    return w


def _tri(t):
    return max(0.0, 1 - t)


def _keys(t):
    return 1.5 * t ** 3 - 2.5 * t ** 2 + 1 if t < 1 else (-0.5 * t ** 3 + 2.5 * t ** 2 - 4 * t + 2 if t < 2 else 0.0)


def test_scale_and_translate(rng):
    img = np.arange(9, dtype=np.float32).reshape(3, 3)     # Keras' docstring example
    s = np.array([2.0, 2.0])
    got = np.asarray(I.scale_and_translate(img, (5, 5), s, -(s / 2 - 0.5), (0, 1), "linear"))
    np.testing.assert_allclose(got, np.arange(5)[:, None] * 1.5 + np.arange(5) * 0.5, atol=1e-6)
    x = _img(rng, 2, 6, 7, 2)
    for kernel, k, scale, trans, aa in [("linear", _tri, (0.6, 1.7), (0.3, -0.5), True),
                                        ("cubic", _keys, (1.4, 0.5), (-0.2, 0.8), False),
                                        ("cubic", _keys, (0.7, 0.5), (0.0, 0.3), True)]:
        wh = _weights_ref(6, 4, scale[0], trans[0], k, aa)
        ww = _weights_ref(7, 5, scale[1], trans[1], k, aa)
        ref = lambda v: np.einsum("nhwc,hi,wj->nijc", v, wh, ww)   # noqa: E731
        call = lambda t: I.scale_and_translate(t, (t.shape[0], 4, 5, 2), np.array(scale), np.array(trans), (1, 2),  # noqa: E731
                                               kernel, antialias=aa)
        np.testing.assert_allclose(np.asarray(call(x)), ref(x), rtol=1e-5, atol=1e-6, err_msg=kernel)
    _grad_check(call, ref, x[:1], rng)
    with pytest.raises(ValueError, match="image.scale_and_translate: method must be one of"):
        I.scale_and_translate(x, x.shape, s, s, (1, 2), "gaussian")


def test_resize_bicubic_lanczos_antialias_and_aspect_ratio(rng):
    x = _img(rng, 2, 6, 8, 3)
    # antialiased shrink by 2: the triangle stretched to radius 2, weights 1/8 3/8 3/8 1/8
    want_w = _weights_ref(8, 4, 0.5, 0.0, _tri, True)
    assert np.allclose(want_w[1:5, 1], [1 / 8, 3 / 8, 3 / 8, 1 / 8])
    got = np.asarray(I.resize(x, (3, 4), antialias=True))
    np.testing.assert_allclose(got, np.einsum("nhwc,hi,wj->nijc", x, _weights_ref(6, 3, 0.5, 0, _tri, True), want_w),
                               rtol=1e-5, atol=1e-6)
    # bicubic reproduces a linear ramp away from the borders
    ramp = np.tile(np.arange(8, dtype=float)[None, None, :, None], (1, 6, 1, 1))
    up = np.asarray(I.resize(ramp, (6, 16), interpolation="bicubic"))
    np.testing.assert_allclose(up[0, 2, 4:12, 0], (np.arange(4, 12) + 0.5) / 2 - 0.5, atol=1e-5)
    lz = np.asarray(I.resize(x, (9, 5), interpolation="lanczos3"))
    lanczos = lambda t: 1.0 if t < 1e-3 else (0.0 if t > 3 else 3 * np.sin(np.pi * t) * np.sin(np.pi * t / 3) / (np.pi * t) ** 2)  # noqa: E731
    np.testing.assert_allclose(lz, np.einsum("nhwc,hi,wj->nijc", x, _weights_ref(6, 9, 1.5, 0, lanczos, False),
                                             _weights_ref(8, 5, 5 / 8, 0, lanczos, False)), rtol=1e-5, atol=1e-5)
    _grad_check(lambda t: I.resize(t, (3, 5), interpolation="bicubic"),
                lambda v: np.einsum("nhwc,hi,wj->nijc", v, _weights_ref(6, 3, 0.5, 0, _keys, False),
                                    _weights_ref(8, 5, 5 / 8, 0, _keys, False)), x[:1], rng)
    # crop_to_aspect_ratio: the centred 4 x 8 box of (6, 8) for a 1:2 target, then resized
    crop = np.asarray(I.resize(x, (2, 4), crop_to_aspect_ratio=True))
    np.testing.assert_allclose(crop, np.asarray(I.resize(x[:, 1:5], (2, 4))), atol=1e-6)
    # pad_to_aspect_ratio: (6, 8) to 1:1 pads one row top and bottom with the fill value
    pad = np.asarray(I.resize(x, (8, 8), pad_to_aspect_ratio=True, fill_value=0.5))
    np.testing.assert_allclose(pad, np.pad(x, [(0, 0), (1, 1), (0, 0), (0, 0)], constant_values=0.5), atol=1e-6)
    with pytest.raises(ValueError, match="image.resize: interpolation must be"):
        I.resize(x, (3, 3), interpolation="gaussian")


def test_extract_patches_3d(rng):
    v = rng.normal(size=(2, 4, 5, 6, 2))

    def ref(a, k=(2, 2, 3), s=(1, 2, 3)):
        n, d, h, w, c = a.shape
        od, oh, ow = [(m - kk) // ss + 1 for m, kk, ss in zip((d, h, w), k, s)]
        out = np.zeros((n, od, oh, ow, k[0] * k[1] * k[2] * c))
        for i in range(od):
            for j in range(oh):
                for l_ in range(ow):
                    out[:, i, j, l_] = a[:, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1],
                                         l_ * s[2]:l_ * s[2] + k[2]].reshape(n, -1)
        return out
    got = I.extract_patches_3d(v, (2, 2, 3), strides=(1, 2, 3))
    np.testing.assert_allclose(np.asarray(got), ref(v), rtol=1e-6)
    _grad_check(lambda t: I.extract_patches_3d(t, (2, 2, 3), strides=(1, 2, 3)), ref, v[:1], rng)
    one = np.asarray(I.extract_patches_3d(v[0], 2))
    np.testing.assert_allclose(one, ref(v[:1], (2, 2, 2), (2, 2, 2))[0], rtol=1e-6)
    with pytest.raises(ValueError, match="image.extract_patches_3d: expected volumes of rank 4 or 5"):
        I.extract_patches_3d(v[0, 0, 0], 2)
