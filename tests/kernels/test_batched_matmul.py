"""batched_matmul vs NumPy's matmul: transposes, broadcast batch dims, K == 0, bad calls."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref


@pytest.mark.parametrize("sa,sb", [
    ((3, 4, 5), (3, 5, 2)), ((2, 3, 4, 5), (2, 3, 5, 6)), ((4, 5), (5, 3)), ((3, 4, 5), (5, 2)),
    ((4, 5), (2, 5, 3)), ((2, 1, 4, 5), (3, 5, 2)), ((0, 4, 5), (0, 5, 2)), ((2, 4, 0), (2, 0, 3)),
    ((2, 40, 70), (2, 70, 50)),
])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_batched_matmul_matches_numpy(sa, sb, ta, tb, rng):
    a = rng.normal(size=sa).astype(np.float32)
    b = rng.normal(size=sb).astype(np.float32)
    a = np.ascontiguousarray(np.swapaxes(a, -1, -2)) if ta else a
    b = np.ascontiguousarray(np.swapaxes(b, -1, -2)) if tb else b
    y = kernels.batched_matmul(a, b, trans_a=ta, trans_b=tb)
    want = ref.batched_matmul(a, b, ta, tb)
    assert tuple(y.shape) == want.shape
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-4, atol=1e-4)


def test_gradients_are_batched_matmuls_with_transposes(rng):
    # y = a @ b: da = dy @ b^T, db = a^T @ dy; checked against finite differences in float64
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4, 5))
    r = rng.normal(size=(2, 3, 5))
    f32 = lambda v: v.astype(np.float32)
    da = kernels.batched_matmul(f32(r), f32(b), trans_b=True)
    db = kernels.batched_matmul(f32(a), f32(r), trans_a=True)
    np.testing.assert_allclose(np.asarray(da), ref.numerical_grad(lambda v: (v @ b * r).sum(), a),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(db), ref.numerical_grad(lambda v: (a @ v * r).sum(), b),
                               rtol=1e-4, atol=1e-4)


def test_bad_calls_name_the_op():
    a = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match=r"batched_matmul.*inner dimensions differ \(4 vs 5\)"):
        kernels.batched_matmul(a, np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match="batched_matmul.*batch dims.*broadcast"):
        kernels.batched_matmul(a, np.zeros((3, 4, 3), np.float32))
    with pytest.raises(ValueError, match="batched_matmul.*rank >= 2"):
        kernels.batched_matmul(np.zeros(4, np.float32), a)
    with pytest.raises(ValueError, match=r"batched_matmul.*y must have shape \(2, 3, 2\)"):
        kernels.batched_matmul(a, np.zeros((4, 2), np.float32), out=kernels.empty((2, 3, 3)))


def test_torch_parity(rng):
    torch = pytest.importorskip("torch")
    a = rng.normal(size=(2, 3, 4)).astype(np.float32)
    b = rng.normal(size=(4, 5)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(kernels.batched_matmul(a, b)),
                               torch.matmul(torch.tensor(a), torch.tensor(b)).numpy(), rtol=1e-4,
                               atol=1e-5)
