"""upsample2d (nearest, bilinear) forward / backward vs the float64 reference, the adjoint
identity, torch parity, bad calls."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref

CASES = [((1, 1, 1, 1), (1, 1)), ((2, 3, 4, 5), (2, 2)), ((1, 5, 3, 7), (3, 1)),
         ((3, 2, 7, 2), (1, 4)), ((2, 9, 11, 3), (2, 3))]


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("shape,size", CASES)
def test_forward_backward_vs_reference(shape, size, mode, rng):
    x = rng.normal(size=shape).astype(np.float32)
    y = kernels.upsample2d_forward(x, size, mode)
    np.testing.assert_allclose(np.asarray(y), ref.upsample2d(x, *size, mode), rtol=1e-5, atol=1e-6)
    dy = rng.normal(size=y.shape).astype(np.float32)
    dx = kernels.upsample2d_backward(dy, size, mode)
    np.testing.assert_allclose(np.asarray(dx), ref.upsample2d_grad(dy, *size, mode), rtol=1e-5, atol=1e-5)
    # adjoint: <up(x), dy> == <x, up^T(dy)>
    np.testing.assert_allclose((ref.f64(y) * dy).sum(), (ref.f64(x) * np.asarray(dx)).sum(), rtol=1e-4)


def test_reference_gradient_is_the_finite_difference(rng):
    x = rng.normal(size=(1, 3, 2, 2))
    dy = rng.normal(size=(1, 6, 6, 2))
    f = lambda v: float((ref.upsample2d(v, 2, 3, "bilinear") * dy).sum())
    np.testing.assert_allclose(ref.upsample2d_grad(dy, 2, 3, "bilinear"), ref.numerical_grad(f, x),
                               rtol=1e-6, atol=1e-8)


def test_int_size_and_out(rng):
    x = rng.normal(size=(1, 2, 2, 1)).astype(np.float32)
    out = kernels.empty((1, 6, 6, 1))
    assert kernels.upsample2d_forward(x, 3, out=out) is out
    np.testing.assert_array_equal(np.asarray(out), x.repeat(3, 1).repeat(3, 2))


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_torch_parity(mode, rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(2, 5, 4, 3)).astype(np.float32)
    tx = torch.tensor(x).permute(0, 3, 1, 2).requires_grad_()
    kw = {} if mode == "nearest" else {"align_corners": False}
    ty = torch.nn.functional.interpolate(tx, scale_factor=(2, 3), mode=mode, **kw)
    dy = rng.normal(size=(2, 10, 12, 3)).astype(np.float32)
    ty.backward(torch.tensor(dy).permute(0, 3, 1, 2))
    np.testing.assert_allclose(np.asarray(kernels.upsample2d_forward(x, (2, 3), mode)),
                               ty.detach().permute(0, 2, 3, 1).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(kernels.upsample2d_backward(dy, (2, 3), mode)),
                               tx.grad.permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-4)


def test_bad_calls_name_the_op():
    x = np.zeros((1, 2, 2, 1), np.float32)
    with pytest.raises(ValueError, match="upsample2d_forward.*interpolation"):
        kernels.upsample2d_forward(x, 2, "bicubic")
    with pytest.raises(ValueError, match="upsample2d_forward.*positive"):
        kernels.upsample2d_forward(x, (0, 2))
    with pytest.raises(ValueError, match="upsample2d_forward.*size"):
        kernels.upsample2d_forward(x, (1, 2, 3))
    with pytest.raises(ValueError, match="upsample2d_forward.*rank 4"):
        kernels.upsample2d_forward(np.zeros((2, 2, 1), np.float32), 2)
    with pytest.raises(ValueError, match="upsample2d_forward.*y must have shape"):
        kernels.upsample2d_forward(x, 2, out=kernels.empty((1, 4, 3, 1)))
    with pytest.raises(ValueError, match="upsample2d_backward.*multiple"):
        kernels.upsample2d_backward(np.zeros((1, 3, 4, 1), np.float32), 2)
    with pytest.raises(ValueError, match="upsample2d_backward.*dx must have shape|upsample2d_backward.*dy must have shape"):
        kernels.upsample2d_backward(np.zeros((1, 4, 4, 1), np.float32), 2, out=kernels.empty((1, 3, 2, 1)))
