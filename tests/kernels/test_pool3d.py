"""3-D pooling kernels (csrc/cpu/pool3d.cpp): max and average forward / backward against the
float64 reference, the reference against finite differences, PyTorch's max_pool3d / avg_pool3d
where installed, and bad calls for clear errors."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref

# (x shape, pool_size, strides, padding)
CASES = [
    ((2, 4, 4, 4, 3), (2, 2, 2), (2, 2, 2), "valid"),
    ((1, 5, 4, 6, 2), (3, 2, 3), (2, 1, 2), "same"),       # overlapping windows, odd padding
    ((2, 3, 5, 4, 5), (2, 3, 2), (1, 2, 3), "valid"),
    ((1, 3, 3, 3, 17), (2, 2, 2), (2, 2, 2), "same"),       # clipped windows
]


def _close(got, want, tol=1e-5):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("case", CASES)
def test_max_pool3d_matches_the_reference(case, rng):
    x_shape, pool, strides, padding = case
    # distinct values: the winner (and its gradient's route) is unambiguous
    x = rng.permutation(np.prod(x_shape)).reshape(x_shape).astype(np.float32) / 7
    y, am = kernels.max_pool3d_forward(x, pool, strides, padding)
    y_want, am_want = ref.max_pool3d(x, pool, strides, padding)
    _close(y, y_want)
    np.testing.assert_array_equal(np.asarray(am), am_want)
    dy = rng.normal(size=y_want.shape).astype(np.float32)
    _close(kernels.max_pool3d_backward(dy, am, x.shape, pool, strides, padding),
           ref.max_pool3d_grad(x, dy, pool, strides, padding))


@pytest.mark.parametrize("case", CASES)
def test_avg_pool3d_matches_the_reference(case, rng):
    x_shape, pool, strides, padding = case
    x = rng.normal(size=x_shape).astype(np.float32)
    y = kernels.avg_pool3d_forward(x, pool, strides, padding)
    _close(y, ref.avg_pool3d(x, pool, strides, padding))
    dy = rng.normal(size=tuple(y.shape)).astype(np.float32)
    _close(kernels.avg_pool3d_backward(dy, x.shape, pool, strides, padding),
           ref.avg_pool3d_grad(x.shape, dy, pool, strides, padding))


def test_max_pool3d_ties_and_nan_follow_max_pool2d(rng):
    """Ties keep the first cell in window order; a NaN wins its window (as max_pool2d)."""
    x = np.zeros((1, 2, 2, 2, 2), np.float32)
    x[0, 1, 0, 1, 1] = np.nan
    y, am = kernels.max_pool3d_forward(x, 2, 2, "valid")
    assert np.asarray(y)[0, 0, 0, 0, 0] == 0 and np.asarray(am)[0, 0, 0, 0, 0] == 0
    assert np.isnan(np.asarray(y)[0, 0, 0, 0, 1]) and np.asarray(am)[0, 0, 0, 0, 1] == (1 * 2 + 0) * 2 + 1


def test_reference_gradients_match_finite_differences(rng):
    x = rng.permutation(60).reshape(1, 3, 4, 5, 1).astype(np.float64) / 10
    args = ((2, 2, 3), (1, 2, 2), "same")
    dy = rng.normal(size=ref.avg_pool3d(x, *args).shape)
    np.testing.assert_allclose(ref.avg_pool3d_grad(x.shape, dy, *args),
                               ref.numerical_grad(lambda v: (ref.avg_pool3d(v, *args) * dy).sum(), x), atol=1e-7)
    np.testing.assert_allclose(ref.max_pool3d_grad(x, dy, *args),
                               ref.numerical_grad(lambda v: (ref.max_pool3d(v, *args)[0] * dy).sum(), x,
                                                  eps=1e-4), atol=1e-6)


@pytest.mark.parametrize("case", [c for c in CASES if c[3] == "valid"])
def test_pool3d_matches_pytorch(case, rng):
    torch = pytest.importorskip("torch")
    x_shape, pool, strides, _ = case
    x = rng.normal(size=x_shape).astype(np.float32)
    for torch_fn, ours, grad in (
            (torch.nn.functional.max_pool3d, lambda v: kernels.max_pool3d_forward(v, pool, strides)[0],
             lambda dy, v: kernels.max_pool3d_backward(dy, kernels.max_pool3d_forward(v, pool, strides)[1],
                                                       v.shape, pool, strides)),
            (torch.nn.functional.avg_pool3d, lambda v: kernels.avg_pool3d_forward(v, pool, strides),
             lambda dy, v: kernels.avg_pool3d_backward(dy, v.shape, pool, strides))):
        tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        ty = torch_fn(tx.permute(0, 4, 1, 2, 3), pool, strides).permute(0, 2, 3, 4, 1)
        _close(ours(x), ty.detach().numpy())
        dy = rng.normal(size=tuple(ty.shape)).astype(np.float32)
        ty.backward(torch.tensor(dy, dtype=torch.float64))
        _close(grad(dy, x), tx.grad.numpy())


def test_bad_calls_raise_clear_errors():
    x = np.zeros((1, 4, 4, 4, 2), np.float32)
    with pytest.raises(ValueError, match=r"max_pool3d_forward.*rank 5"):
        kernels.max_pool3d_forward(x[0], 2, 2)
    with pytest.raises(ValueError, match=r"avg_pool3d_forward.*pool_size \(5, 2, 2\) is larger"):
        kernels.avg_pool3d_forward(x, (5, 2, 2), 1)
    with pytest.raises(ValueError, match=r"max_pool3d_forward.*padding must be 'valid' or 'same'"):
        kernels.max_pool3d_forward(x, 2, 2, "full")
    with pytest.raises(ValueError, match=r"avg_pool3d_forward.*strides must be a positive int"):
        kernels.avg_pool3d_forward(x, 2, (1, 0, 1))
    y, am = kernels.max_pool3d_forward(x, 2, 2)
    with pytest.raises(ValueError, match=r"max_pool3d_backward.*dy"):
        kernels.max_pool3d_backward(np.zeros((1, 3, 2, 2, 2), np.float32), am, x.shape, 2, 2)
    bad = np.asarray(am).copy()
    bad[0, 1, 1, 1, 0] = 0          # a cell outside that output's window
    with pytest.raises(ValueError, match=r"max_pool3d_backward: argmax .* not a cell of that output's"):
        kernels.max_pool3d_backward(np.ones(y.shape, np.float32), bad, x.shape, 2, 2)
    bad[0, 1, 1, 1, 0] = 10 ** 6    # outside the volume: never written
    with pytest.raises(ValueError, match=r"max_pool3d_backward: argmax"):
        kernels.max_pool3d_backward(np.ones(y.shape, np.float32), bad, x.shape, 2, 2)
