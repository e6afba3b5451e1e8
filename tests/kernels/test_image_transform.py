"""image_transform (the random affine layers' kernel): forward and backward vs the float64
reference for every interpolation and fill mode, known transforms (identity, flips, integer
shifts), finite differences, bad calls."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref

MODES = ["reflect", "wrap", "nearest", "constant"]


def random_transforms(rng, n, h, w):
    """Rotations, zooms, shears and shifts large enough to reach every fill region, plus one
    projective transform."""
    t = np.zeros((n, 8))
    angle = rng.uniform(-np.pi, np.pi, n)
    zoom = rng.uniform(0.6, 1.6, n)
    t[:, 0], t[:, 1] = zoom * np.cos(angle), -zoom * np.sin(angle) + rng.uniform(-0.2, 0.2, n)
    t[:, 3], t[:, 4] = zoom * np.sin(angle), zoom * np.cos(angle)
    t[:, 2], t[:, 5] = rng.uniform(-w, w, n), rng.uniform(-h, h, n)
    t[-1, 6:] = rng.uniform(-0.05, 0.05, 2)
    return t.astype(np.float32)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("fill_mode", MODES)
def test_forward_backward_vs_reference(interpolation, fill_mode, rng):
    x = rng.normal(size=(3, 5, 6, 2)).astype(np.float32)
    t = random_transforms(rng, 3, 5, 6)
    y = kernels.image_transform_forward(x, t, (4, 7), interpolation, fill_mode, fill_value=0.5)
    want = ref.image_transform(x, t, (4, 7), interpolation, fill_mode, 0.5)
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-4, atol=1e-4)
    dy = rng.normal(size=y.shape).astype(np.float32)
    dx = kernels.image_transform_backward(dy, t, x.shape, interpolation, fill_mode)
    np.testing.assert_allclose(np.asarray(dx), ref.image_transform_grad(dy, t, x.shape, interpolation, fill_mode),
                               rtol=1e-4, atol=1e-4)


def test_known_transforms_move_pixels_exactly(rng):
    x = rng.normal(size=(1, 4, 5, 3)).astype(np.float32)
    def warp(t, mode="nearest", size=None):
        return np.asarray(kernels.image_transform_forward(x, np.array([t], np.float32), size,
                                                          "bilinear", mode))
    np.testing.assert_array_equal(warp([1, 0, 0, 0, 1, 0, 0, 0]), x)
    np.testing.assert_array_equal(warp([-1, 0, 4, 0, 1, 0, 0, 0]), x[:, :, ::-1])   # left-right
    np.testing.assert_array_equal(warp([1, 0, 0, 0, -1, 3, 0, 0]), x[:, ::-1])      # up-down
    np.testing.assert_array_equal(warp([1, 0, 1, 0, 1, 2, 0, 0], size=(2, 3)), x[:, 2:4, 1:4])  # crop
    shifted = warp([1, 0, -2, 0, 1, 0, 0, 0], "constant")  # content moves right by 2
    np.testing.assert_array_equal(shifted[:, :, 2:], x[:, :, :3])
    np.testing.assert_array_equal(shifted[:, :, :2], 0.0)
    np.testing.assert_array_equal(warp([1, 0, -2, 0, 1, 0, 0, 0], "wrap"), np.roll(x, 2, axis=2))
    np.testing.assert_array_equal(warp([1, 0, -2, 0, 1, 0, 0, 0], "reflect")[:, :, :2], x[:, :, 1::-1])
    np.testing.assert_array_equal(warp([1, 0, -2, 0, 1, 0, 0, 0], "nearest")[:, :, :2],
                                  np.repeat(x[:, :, :1], 2, axis=2))


def test_reference_gradient_is_the_finite_difference(rng):
    x = rng.normal(size=(1, 3, 4, 2))
    t = random_transforms(rng, 1, 3, 4)
    dy = rng.normal(size=(1, 3, 4, 2))
    f = lambda v: float((ref.image_transform(v, t, None, "bilinear", "reflect") * dy).sum())
    np.testing.assert_allclose(ref.image_transform_grad(dy, t, x.shape, "bilinear", "reflect"),
                               ref.numerical_grad(f, x), rtol=1e-6, atol=1e-6)


def test_kernel_gradient_is_the_finite_difference(rng):
    x = rng.normal(size=(2, 4, 3, 2))
    t = random_transforms(rng, 2, 4, 3)
    dy = rng.normal(size=(2, 4, 3, 2)).astype(np.float32)
    f = lambda v: float((ref.f64(kernels.image_transform_forward(v.astype(np.float32), t, None,
                                                                 "bilinear", "wrap")) * dy).sum())
    dx = kernels.image_transform_backward(dy, t, x.shape, "bilinear", "wrap")
    np.testing.assert_allclose(np.asarray(dx), ref.numerical_grad(f, x, eps=1e-2), rtol=1e-3, atol=1e-3)


def test_degenerate_transforms_read_the_fill_value():
    x = np.ones((3, 2, 2, 1), np.float32)
    t = np.zeros((3, 8), np.float32)
    t[0] = [1, 0, 0, 0, 1, 0, -1, 0]          # k = 0 at column 1: the fill value there
    t[1] = [np.nan, 0, 0, 0, 1, 0, 0, 0]      # NaN coordinate
    t[2] = [1e30, 0, 0, 0, 1, 0, 0, 0]        # huge but finite: clamped, no overflow
    y = np.asarray(kernels.image_transform_forward(x, t, None, "bilinear", "constant", 7.0))
    assert y[0, 0, 1, 0] == 7.0 and y[1, 0, 0, 0] == 7.0
    assert np.isfinite(y[2]).all()
    dx = np.asarray(kernels.image_transform_backward(np.ones_like(x), t, x.shape, "bilinear", "constant"))
    assert np.isfinite(dx).all()


def test_one_transform_for_the_whole_batch(rng):
    x = rng.normal(size=(2, 3, 3, 1)).astype(np.float32)
    y = kernels.image_transform_forward(x, [-1, 0, 2, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(np.asarray(y), x[:, :, ::-1])


def test_bad_calls_name_the_op():
    x = np.zeros((2, 4, 4, 1), np.float32)
    t = np.tile(np.array([1, 0, 0, 0, 1, 0, 0, 0], np.float32), (2, 1))
    with pytest.raises(ValueError, match="image_transform_forward: unknown fill_mode"):
        kernels.image_transform_forward(x, t, fill_mode="mirror")
    with pytest.raises(ValueError, match="image_transform_forward: unknown interpolation"):
        kernels.image_transform_forward(x, t, interpolation="bicubic")
    with pytest.raises(ValueError, match="image_transform_forward.*transforms"):
        kernels.image_transform_forward(x, t[:1])
    with pytest.raises(ValueError, match="image_transform_forward.*transforms"):
        kernels.image_transform_forward(x, np.zeros((2, 6), np.float32))
    with pytest.raises(ValueError, match="image_transform_forward.*no pixels"):
        kernels.image_transform_forward(np.zeros((2, 0, 4, 1), np.float32), t, (2, 2))
    with pytest.raises(ValueError, match=r"image_transform_backward: input_shape must be \(N, H, W, C\)"):
        kernels.image_transform_backward(np.zeros((2, 4, 4, 1), np.float32), t, (2, 4, 4))
    out = np.zeros((2, 4, 4, 1), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="image_transform_forward"):
        kernels.image_transform_forward(np.ones_like(x), t, out=out)
    assert not out.any()


def test_same_bits_for_any_thread_count(rng):
    import corenn
    x = rng.normal(size=(3, 9, 8, 4)).astype(np.float32)
    t = random_transforms(rng, 3, 9, 8)
    dy = rng.normal(size=x.shape).astype(np.float32)
    before = corenn.get_num_threads()
    try:
        runs = []
        for threads in (1, 2, 3):
            corenn.set_num_threads(threads)
            runs.append((np.asarray(kernels.image_transform_forward(x, t, None, "bilinear", "reflect")),
                         np.asarray(kernels.image_transform_backward(dy, t, x.shape, "bilinear", "reflect"))))
    finally:
        corenn.set_num_threads(before)
    for y, dx in runs[1:]:
        np.testing.assert_array_equal(y, runs[0][0])
        np.testing.assert_array_equal(dx, runs[0][1])
