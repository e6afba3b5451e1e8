"""reduce_forward / reduce_backward (sum, mean, max, min over axes) vs the float64 reference."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref

CASES = [  # (shape, axes)
    ((5,), None), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), (0, 2)), ((2, 3, 4), (1,)),
    ((2, 3, 4, 5), (1, 3)), ((2, 3, 4, 5), (0, 1, 2, 3)), ((2, 1, 4), 1), ((4, 3), ()),
    ((20000, 3), 0), ((3, 20000), 1), ((2, 5000, 3), 1), ((), None), ((6, 2, 2000), (0, 2)),
]


@pytest.mark.parametrize("kind", kernels.REDUCTIONS)
@pytest.mark.parametrize("shape,axes", CASES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduce_forward_backward_match_reference(kind, shape, axes, keepdims, rng):
    x = rng.normal(size=shape).astype(np.float32)
    y = kernels.reduce_forward(kind, x, axes, keepdims)
    want = ref.reduce(kind, x, axes, keepdims)
    assert tuple(y.shape) == np.shape(want)
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-5, atol=1e-5)
    dy = rng.normal(size=np.shape(want)).astype(np.float32)
    dx = kernels.reduce_backward(kind, x, y, dy, axes, keepdims)
    np.testing.assert_allclose(np.asarray(dx), ref.reduce_grad(kind, x, dy, axes, keepdims),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", kernels.REDUCTIONS)
def test_reference_gradient_matches_finite_differences(kind, rng):
    x = rng.normal(size=(3, 4, 2))
    r = rng.normal(size=(3, 2))
    np.testing.assert_allclose(ref.reduce_grad(kind, x, r, 1),
                               ref.numerical_grad(lambda v: (ref.reduce(kind, v, 1) * r).sum(), x),
                               rtol=1e-5, atol=1e-6)


def test_max_ties_share_the_gradient_and_nan_wins():
    x = np.array([[1.0, 3.0, 3.0, 0.0], [np.nan, 1.0, 2.0, np.nan]], np.float32)
    y = kernels.reduce_forward("max", x, 1)
    assert np.asarray(y)[0] == 3.0 and np.isnan(np.asarray(y)[1])
    dx = np.asarray(kernels.reduce_backward("max", x, y, np.array([1.0, 4.0], np.float32), 1))
    np.testing.assert_array_equal(dx, [[0, 0.5, 0.5, 0], [2.0, 0, 0, 2.0]])
    assert np.isnan(np.asarray(kernels.reduce_forward("sum", x, 1))[1])


def test_same_bits_for_any_thread_count(rng):
    x = rng.normal(size=(300, 2000)).astype(np.float32)
    old = kernels.get_num_threads()
    try:
        got = []
        for n in (1, 2, 3):
            kernels.set_num_threads(n)
            got.append([np.asarray(kernels.reduce_forward("sum", x, a)).copy() for a in (0, 1, None)])
    finally:
        kernels.set_num_threads(old)
    for g in got[1:]:
        for u, v in zip(got[0], g):
            np.testing.assert_array_equal(u, v)


def test_empty_reductions():
    x = np.zeros((0, 3), np.float32)
    np.testing.assert_array_equal(np.asarray(kernels.reduce_forward("sum", x, 0)), [0, 0, 0])
    assert np.isnan(np.asarray(kernels.reduce_forward("mean", x, 0))).all()
    assert kernels.reduce_forward("max", x, 1).shape == (0,)
    with pytest.raises(ValueError, match="reduce_forward: max over an empty axis"):
        kernels.reduce_forward("max", x, 0)


def test_bad_calls_name_the_op():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="reduce_forward: axis 2 is out of range"):
        kernels.reduce_forward("sum", x, 2)
    with pytest.raises(ValueError, match="reduce_forward: axis -1 is repeated"):
        kernels.reduce_forward("sum", x, (1, -1))
    with pytest.raises(ValueError, match="reduce_forward: unknown reduction"):
        kernels.reduce_forward("prod", x, 0)
    with pytest.raises(ValueError, match=r"reduce_forward.*y must have shape \(2,\)"):
        kernels.reduce_forward("sum", x, 1, out=kernels.empty((3,)))
    with pytest.raises(ValueError, match=r"reduce_backward.*dy must have shape \(2, 1\)"):
        kernels.reduce_backward("sum", x, None, np.ones(2, np.float32), 1, keepdims=True)
    with pytest.raises(ValueError, match="reduce_backward: max needs y"):
        kernels.reduce_backward("max", x, None, np.ones(2, np.float32), 1)
    with pytest.raises(TypeError, match="reduce_forward.*axes"):
        kernels.reduce_forward("sum", x, 1.5)


@pytest.mark.parametrize("kind", kernels.REDUCTIONS)
def test_torch_parity(kind, rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(3, 4, 5)).astype(np.float32)
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    fn = {"sum": torch.sum, "mean": torch.mean, "max": torch.amax, "min": torch.amin}[kind]
    ty = fn(tx, dim=(0, 2))
    ty.sum().backward()
    y = kernels.reduce_forward(kind, x, (0, 2))
    np.testing.assert_allclose(np.asarray(y), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    dx = kernels.reduce_backward(kind, x, y, np.ones(4, np.float32), (0, 2))
    np.testing.assert_allclose(np.asarray(dx), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
