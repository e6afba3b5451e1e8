"""resize2d (Resizing / CenterCrop kernel): forward and backward vs the float64 reference, the
adjoint identity, finite differences of the reference, torch parity, bad calls."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref

# (input shape, output size, window or None)
CASES = [((1, 1, 1, 1), (1, 1), None), ((2, 4, 6, 3), (8, 9), None),
         ((1, 7, 5, 2), (3, 2), None), ((2, 5, 5, 1), (5, 5), None),
         ((1, 9, 4, 3), (4, 11), None), ((2, 6, 8, 2), (3, 3), (1, 2, 4, 5)),
         ((1, 5, 6, 2), (2, 3), (1, 2, 2, 3))]


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("shape,size,window", CASES)
def test_forward_backward_vs_reference(shape, size, window, mode, rng):
    x = rng.normal(size=shape).astype(np.float32)
    y = kernels.resize2d_forward(x, size, mode, window=window)
    assert y.shape == (shape[0],) + size + (shape[3],)
    np.testing.assert_allclose(np.asarray(y), ref.resize2d(x, size, mode, window), rtol=1e-5, atol=1e-5)
    dy = rng.normal(size=y.shape).astype(np.float32)
    dx = kernels.resize2d_backward(dy, shape, mode, window=window)
    np.testing.assert_allclose(np.asarray(dx), ref.resize2d_grad(dy, shape, mode, window),
                               rtol=1e-5, atol=1e-5)
    # adjoint: <R x, dy> == <x, R^T dy>
    np.testing.assert_allclose((ref.f64(y) * dy).sum(), (ref.f64(x) * np.asarray(dx)).sum(),
                               rtol=1e-4, atol=1e-4)


def test_a_window_of_the_output_size_is_an_exact_crop(rng):
    x = rng.normal(size=(2, 7, 6, 3)).astype(np.float32)
    for mode in ("bilinear", "nearest"):
        y = kernels.resize2d_forward(x, (3, 4), mode, window=(2, 1, 3, 4))
        np.testing.assert_array_equal(np.asarray(y), x[:, 2:5, 1:5])


def test_reference_gradient_is_the_finite_difference(rng):
    x = rng.normal(size=(1, 3, 4, 2))
    dy = rng.normal(size=(1, 5, 3, 2))
    f = lambda v: float((ref.resize2d(v, (5, 3)) * dy).sum())
    np.testing.assert_allclose(ref.resize2d_grad(dy, x.shape), ref.numerical_grad(f, x),
                               rtol=1e-6, atol=1e-6)


def test_kernel_gradient_is_the_finite_difference(rng):
    x = rng.normal(size=(1, 4, 3, 2))
    dy = rng.normal(size=(1, 6, 5, 2)).astype(np.float32)
    f = lambda v: float((ref.f64(kernels.resize2d_forward(v.astype(np.float32), (6, 5))) * dy).sum())
    dx = kernels.resize2d_backward(dy, x.shape)
    np.testing.assert_allclose(np.asarray(dx), ref.numerical_grad(f, x, eps=1e-2), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_matches_torch(mode, rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(2, 5, 7, 3)).astype(np.float32)
    for size in ((9, 4), (3, 11), (5, 7)):
        y = kernels.resize2d_forward(x, size, mode)
        xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
        yt = torch.nn.functional.interpolate(
            xt, size=size, mode="bilinear" if mode == "bilinear" else "nearest-exact",
            **({"align_corners": False, "antialias": False} if mode == "bilinear" else {}))
        np.testing.assert_allclose(np.asarray(y), yt.detach().numpy().transpose(0, 2, 3, 1),
                                   rtol=1e-5, atol=1e-5)
        dy = rng.normal(size=y.shape).astype(np.float32)
        yt.backward(torch.tensor(dy.transpose(0, 3, 1, 2)))
        dx = kernels.resize2d_backward(dy, x.shape, mode)
        np.testing.assert_allclose(np.asarray(dx), xt.grad.numpy().transpose(0, 2, 3, 1),
                                   rtol=1e-4, atol=1e-5)


def test_bad_calls_name_the_op():
    x = np.zeros((1, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match="resize2d_forward: unknown interpolation"):
        kernels.resize2d_forward(x, (2, 2), "bicubic")
    with pytest.raises(ValueError, match=r"resize2d_forward: x must be \(N, H, W, C\)"):
        kernels.resize2d_forward(np.zeros((4, 4), np.float32), (2, 2))
    with pytest.raises(ValueError, match="resize2d_forward.*window.*inside"):
        kernels.resize2d_forward(x, (2, 2), window=(3, 0, 2, 2))
    with pytest.raises(ValueError, match="resize2d_forward.*window.*inside"):
        kernels.resize2d_forward(x, (2, 2), window=(0, 0, 0, 2))
    with pytest.raises(ValueError, match="resize2d_forward: size must not be negative"):
        kernels.resize2d_forward(x, (-1, 2))
    with pytest.raises(TypeError, match="resize2d_forward"):
        kernels.resize2d_forward(x.astype(np.int32), (2, 2))
    with pytest.raises(ValueError, match="resize2d_forward: out has shape"):
        kernels.resize2d_forward(x, (2, 2), out=np.zeros((1, 2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="resize2d_backward"):
        kernels.resize2d_backward(np.zeros((1, 2, 2, 2), np.float32), (1, 4, 4))
    with pytest.raises(ValueError, match="resize2d_backward.*out has shape"):
        kernels.resize2d_backward(np.zeros((1, 2, 2, 2), np.float32), (1, 4, 4, 2),
                                  out=np.zeros((1, 4, 5, 2), np.float32))


def test_read_only_output_is_refused():
    out = np.zeros((1, 2, 2, 1), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="resize2d_forward"):
        kernels.resize2d_forward(np.ones((1, 4, 4, 1), np.float32), (2, 2), out=out)
    assert not out.any()


def test_empty_outputs_and_zero_gradient_outside_the_window():
    y = kernels.resize2d_forward(np.ones((0, 3, 3, 2), np.float32), (2, 2))
    assert y.shape == (0, 2, 2, 2)
    dx = kernels.resize2d_backward(np.ones((1, 0, 2, 1), np.float32), (1, 3, 3, 1))
    np.testing.assert_array_equal(np.asarray(dx), 0.0)


def test_same_bits_for_any_thread_count(rng):
    import corenn
    x = rng.normal(size=(2, 13, 11, 5)).astype(np.float32)
    dy = rng.normal(size=(2, 7, 17, 5)).astype(np.float32)
    before = corenn.get_num_threads()
    try:
        runs = []
        for threads in (1, 2, 3):
            corenn.set_num_threads(threads)
            runs.append((np.asarray(kernels.resize2d_forward(x, (7, 17))),
                         np.asarray(kernels.resize2d_backward(dy, x.shape))))
    finally:
        corenn.set_num_threads(before)
    for y, dx in runs[1:]:
        np.testing.assert_array_equal(y, runs[0][0])
        np.testing.assert_array_equal(dx, runs[0][1])
