"""unary_forward / unary_backward and sum_n / scale vs the float64 reference."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref

POSITIVE = ("log", "sqrt", "reciprocal")


def _x(kind, shape, rng):
    x = rng.normal(size=shape)
    if kind in POSITIVE:
        x = np.abs(x) + 0.3
    return x.astype(np.float32)


@pytest.mark.parametrize("kind", kernels.UNARY_OPS)
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5), (), (2, 0), (40000,)])
def test_unary_forward_backward_match_reference(kind, shape, rng):
    x = _x(kind, shape, rng)
    y = kernels.unary_forward(kind, x)
    np.testing.assert_allclose(np.asarray(y), ref.unary(kind, x), rtol=1e-5, atol=1e-6)
    dy = rng.normal(size=shape).astype(np.float32)
    dx = kernels.unary_backward(kind, x, y, dy)
    np.testing.assert_allclose(np.asarray(dx), ref.unary_grad(kind, x, dy), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", kernels.UNARY_OPS)
def test_reference_gradient_matches_finite_differences(kind, rng):
    x = _x(kind, (3, 4), rng).astype(np.float64)
    if kind == "abs":
        x = np.where(np.abs(x) < 0.05, 0.5, x)  # |x| has no derivative at 0
    r = rng.normal(size=x.shape)
    np.testing.assert_allclose(ref.unary_grad(kind, x, r),
                               ref.numerical_grad(lambda v: (ref.unary(kind, v) * r).sum(), x),
                               rtol=1e-5, atol=1e-6)


def test_unary_in_place_and_nan():
    x = kernels.as_tensor(np.array([np.nan, 1.0, 4.0], np.float32))
    kernels.unary_forward("sqrt", x, out=x)
    got = np.asarray(x)
    assert np.isnan(got[0]) and got[1:].tolist() == [1.0, 2.0]
    assert kernels.unary_backward("abs", np.zeros(1, np.float32), np.zeros(1, np.float32),
                                  np.ones(1, np.float32)).numpy()[0] == 0.0  # sign(0) = 0


def test_unary_bad_calls_name_the_op():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="unary_forward: unknown unary op"):
        kernels.unary_forward("tanh", x)
    with pytest.raises(ValueError, match="unary_forward.*same shape"):
        kernels.unary_forward("exp", x, out=kernels.empty((3, 2)))
    with pytest.raises(ValueError, match="unary_backward.*same shape"):
        kernels.unary_backward("exp", x, x, np.ones((3,), np.float32))
    with pytest.raises(TypeError, match="unary_forward.*float32"):
        kernels.unary_forward("exp", np.ones(3, np.int64))


@pytest.mark.parametrize("kind", kernels.UNARY_OPS)
def test_unary_torch_parity(kind, rng):
    torch = pytest.importorskip("torch")
    x = _x(kind, (4, 5), rng)
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    fn = {"exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "square": torch.square,
          "abs": torch.abs, "negative": torch.neg, "reciprocal": torch.reciprocal,
          "sin": torch.sin, "cos": torch.cos}[kind]
    ty = fn(tx)
    ty.sum().backward()
    y = kernels.unary_forward(kind, x)
    np.testing.assert_allclose(np.asarray(y), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    dx = kernels.unary_backward(kind, x, y, np.ones_like(x))
    np.testing.assert_allclose(np.asarray(dx), tx.grad.numpy(), rtol=1e-4, atol=1e-5)


# ---- sum_n and scale

@pytest.mark.parametrize("n,shape", [(1, (3,)), (2, (4, 5)), (5, (2, 3, 4)), (3, (0, 2)),
                                     (3, (3000, 7))])
def test_sum_n_matches_reference(n, shape, rng):
    xs = [rng.normal(size=shape).astype(np.float32) for _ in range(n)]
    y = kernels.sum_n(xs)
    np.testing.assert_allclose(np.asarray(y), np.sum([ref.f64(x) for x in xs], axis=0), rtol=1e-5,
                               atol=1e-6)


def test_sum_n_accumulates_into_one_of_its_inputs(rng):
    xs = [rng.normal(size=(50, 40)).astype(np.float32) for _ in range(3)]
    want = np.sum([ref.f64(x) for x in xs], axis=0)
    ts = [kernels.as_tensor(x.copy()) for x in xs]
    assert kernels.sum_n(ts, out=ts[2]) is ts[2]  # the last input is also the output
    np.testing.assert_allclose(np.asarray(ts[2]), want, rtol=1e-5, atol=1e-6)


def test_sum_n_and_scale_bad_calls_name_the_op():
    with pytest.raises(ValueError, match="sum_n: needs at least one"):
        kernels.sum_n([])
    with pytest.raises(ValueError, match=r"sum_n.*tensors\[1\].*\(3,\)"):
        kernels.sum_n([np.ones(2, np.float32), np.ones(3, np.float32)])
    with pytest.raises(TypeError, match="sum_n.*list"):
        kernels.sum_n(np.ones((2, 2), np.float32))
    with pytest.raises(ValueError, match="scale.*same shape"):
        kernels.scale(np.ones(2, np.float32), 2.0, out=kernels.empty((3,)))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_sum_n_relu_grad_is_the_relu_gradient_of_the_sum(n, rng):
    """dz = (dy_0 + ... ) * relu'(y), bitwise the sum_n then relu backward it replaces; a NaN in y
    or a gradient reaches dz; dz may be one of the gradients."""
    shape = (7, 300)   # several 1024-element blocks and a tail
    dys = [rng.normal(size=shape).astype(np.float32) for _ in range(n)]
    y = np.maximum(rng.normal(size=shape), 0).astype(np.float32)
    y[0, 0], dys[0][1, 1] = np.nan, np.nan
    want = kernels.activation_backward("relu", y, y, kernels.sum_n(dys))
    got = kernels.sum_n_relu_grad(dys, y)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert np.isnan(np.asarray(got)[0, 0]) and np.isnan(np.asarray(got)[1, 1])
    ref_dz = np.sum([ref.f64(d) for d in dys], axis=0) * (ref.f64(y) > 0)
    finite = np.isfinite(ref_dz) & ~np.isnan(y)
    np.testing.assert_allclose(np.asarray(got)[finite], ref_dz[finite], rtol=1e-5, atol=1e-6)
    ts = [kernels.as_tensor(d.copy()) for d in dys]
    assert kernels.sum_n_relu_grad(ts, y, out=ts[0]) is ts[0]
    np.testing.assert_array_equal(np.asarray(ts[0]), np.asarray(want))


def test_sum_n_relu_grad_bad_calls_name_the_op():
    with pytest.raises(ValueError, match="sum_n_relu_grad: needs at least one"):
        kernels.sum_n_relu_grad([], np.ones(2, np.float32))
    with pytest.raises(ValueError, match=r"sum_n_relu_grad.*y"):
        kernels.sum_n_relu_grad([np.ones(2, np.float32)], np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"sum_n_relu_grad.*tensors\[1\]"):
        kernels.sum_n_relu_grad([np.ones(2, np.float32), np.ones(3, np.float32)], np.ones(2, np.float32))


def test_scale(rng):
    x = rng.normal(size=(3, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(kernels.scale(x, -0.25)), -0.25 * ref.f64(x), rtol=1e-6)
    t = kernels.as_tensor(x.copy())
    kernels.scale(t, 3.0, out=t)
    np.testing.assert_allclose(np.asarray(t), 3.0 * ref.f64(x), rtol=1e-6)
