"""unit_norm forward / backward vs the float64 reference (itself checked by finite differences),
the 1e-12 floor, torch parity, in-place use, bad calls."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref

CASES = [((5, 7), -1), ((3, 4, 6), 1), ((3, 4, 6), [1, 2]), ((2, 3, 4, 5), [-3, -2]),
         ((2, 3, 4, 5), 0), ((4, 1031), 1), ((1, 1), -1)]


@pytest.mark.parametrize("shape,axis", CASES)
def test_forward_and_backward_vs_reference(shape, axis, rng):
    x = rng.normal(size=shape).astype(np.float32)
    y = kernels.unit_norm_forward(x, axis=axis)
    np.testing.assert_allclose(np.asarray(y), ref.unit_norm(x, axis), rtol=1e-5, atol=1e-6)
    dy = rng.normal(size=shape).astype(np.float32)
    dx = kernels.unit_norm_backward(dy, x, axis=axis)
    np.testing.assert_allclose(np.asarray(dx), ref.unit_norm_grad(dy, x, axis), rtol=1e-4, atol=1e-5)


def test_reference_gradient_matches_finite_differences(rng):
    x, dy = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2))
    for axis in (1, [1, 2], -1):
        want = ref.numerical_grad(lambda v: float((ref.unit_norm(v, axis) * dy).sum()), x)
        np.testing.assert_allclose(ref.unit_norm_grad(dy, x, axis), want, rtol=1e-5, atol=1e-7)


def test_rows_under_the_floor_are_scaled_not_divided_by_zero(rng):
    x = np.zeros((3, 4), np.float32)
    x[1] = [1e-8, -2e-8, 0.0, 3e-8]  # squared norm 1.4e-15 < 1e-12: y = x * 1e6
    x[2] = rng.normal(size=4)
    y = np.asarray(kernels.unit_norm_forward(x))
    assert np.all(np.isfinite(y)) and not y[0].any()
    np.testing.assert_allclose(y, ref.unit_norm(x), rtol=1e-5, atol=1e-7)
    dy = rng.normal(size=x.shape).astype(np.float32)
    dx = np.asarray(kernels.unit_norm_backward(dy, x))
    np.testing.assert_allclose(dx, ref.unit_norm_grad(dy, x), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx[:2], dy[:2] * 1e6, rtol=1e-5)  # the floor is a constant


def test_in_place(rng):
    x = rng.normal(size=(6, 9)).astype(np.float32)
    dy = rng.normal(size=x.shape).astype(np.float32)
    xt = kernels.as_tensor(x.copy())
    kernels.unit_norm_forward(xt, out=xt)
    np.testing.assert_allclose(np.asarray(xt), ref.unit_norm(x), rtol=1e-5, atol=1e-6)
    dyt = kernels.as_tensor(dy.copy())
    kernels.unit_norm_backward(dyt, x, out=dyt)
    np.testing.assert_allclose(np.asarray(dyt), ref.unit_norm_grad(dy, x), rtol=1e-4, atol=1e-5)


def test_torch_parity(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(4, 3, 6)).astype(np.float32)
    dy = rng.normal(size=x.shape).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    ty = tx * torch.rsqrt(torch.clamp((tx * tx).sum(dim=1, keepdim=True), min=1e-12))
    ty.backward(torch.tensor(dy))
    y = kernels.unit_norm_forward(x, axis=1)
    dx = kernels.unit_norm_backward(dy, x, axis=1)
    np.testing.assert_allclose(np.asarray(y), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(dx), tx.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_bad_calls_name_the_op():
    x = np.ones((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="unit_norm_forward.*adjacent"):
        kernels.unit_norm_forward(x, axis=[0, 2])
    with pytest.raises(ValueError, match="unit_norm_forward.*out of range"):
        kernels.unit_norm_forward(x, axis=3)
    with pytest.raises(TypeError, match="unit_norm_forward.*axis"):
        kernels.unit_norm_forward(x, axis=1.0)
    with pytest.raises(TypeError, match="unit_norm_forward.*float32"):
        kernels.unit_norm_forward(np.ones((2, 3), np.int32))
    with pytest.raises(ValueError, match="unit_norm_forward.*same shape"):
        kernels.unit_norm_forward(x, out=kernels.empty((2, 3)))
    ro = np.ones((2, 3, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="unit_norm_forward.*read-only"):
        kernels.unit_norm_forward(x, out=ro)
    with pytest.raises(ValueError, match="unit_norm_backward.*same shape"):
        kernels.unit_norm_backward(np.ones((2, 3), np.float32), x)
    with pytest.raises(ValueError, match="unit_norm_backward.*share memory"):
        xt = kernels.as_tensor(x.copy())
        kernels.unit_norm_backward(x, xt, out=xt)
