"""binary_forward / binary_backward vs the float64 reference: broadcasting, in-place, gradients
(finite differences of the reference, then the kernel against it), bad calls, torch parity."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref

SHAPES = [  # (a, b): equal, scalar, trailing vector, size-1 axes on both sides, rank mismatch
    ((3, 4), (3, 4)), ((5,), ()), ((), (2, 3)), ((2, 3, 4), (4,)), ((4, 1), (1, 5)),
    ((2, 1, 3), (4, 1)), ((1, 1), (3, 1, 2)), ((6, 70000 // 6), (1,)), ((2, 0, 3), (3,)),
]


def _operands(kind, sa, sb, rng):
    a = rng.normal(size=sa).astype(np.float32)
    b = rng.normal(size=sb).astype(np.float32)
    if kind in ("divide", "power"):
        b = (np.abs(b) + 0.5).astype(np.float32) * np.where(rng.random(sb) < 0.5, -1, 1).astype(np.float32) \
            if kind == "divide" else rng.uniform(-2, 2, size=sb).astype(np.float32)
    if kind == "power":
        a = rng.uniform(0.5, 2.0, size=sa).astype(np.float32)
    return np.asarray(a, np.float32), np.asarray(b, np.float32)


@pytest.mark.parametrize("kind", kernels.BINARY_OPS)
@pytest.mark.parametrize("sa,sb", SHAPES)
def test_binary_forward_backward_match_reference(kind, sa, sb, rng):
    a, b = _operands(kind, sa, sb, rng)
    y = kernels.binary_forward(kind, a, b)
    want = ref.binary(kind, a, b)
    assert tuple(y.shape) == want.shape
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-5, atol=1e-6)
    dy = rng.normal(size=want.shape).astype(np.float32)
    da, db = kernels.binary_backward(kind, a, b, dy)
    ra, rb = ref.binary_grads(kind, a, b, dy)
    assert tuple(da.shape) == a.shape and tuple(db.shape) == b.shape
    np.testing.assert_allclose(np.asarray(da), ra, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(db), rb, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", kernels.BINARY_OPS)
def test_reference_gradients_match_finite_differences(kind, rng):
    a, b = _operands(kind, (3, 1, 4), (2, 1), rng)
    a, b = a.astype(np.float64), b.astype(np.float64)
    r = rng.normal(size=np.broadcast_shapes(a.shape, b.shape))
    if kind in ("maximum", "minimum"):
        b = b + 0.1  # no exact ties: the max is not differentiable there
    da, db = ref.binary_grads(kind, a, b, r)
    np.testing.assert_allclose(da, ref.numerical_grad(lambda v: (ref.binary(kind, v, b) * r).sum(), a),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(db, ref.numerical_grad(lambda v: (ref.binary(kind, a, v) * r).sum(), b),
                               rtol=1e-5, atol=1e-6)


def test_maximum_minimum_ties_go_to_a_and_nan_propagates():
    a = np.array([1.0, 2.0, np.nan, 3.0], np.float32)
    b = np.array([1.0, 3.0, 0.0, np.nan], np.float32)
    dy = np.ones(4, np.float32)
    for kind in ("maximum", "minimum"):
        y = np.asarray(kernels.binary_forward(kind, a, b))
        assert np.isnan(y[2:]).all()
        da, db = kernels.binary_backward(kind, a, b, dy)
        assert np.asarray(da)[0] == 1 and np.asarray(db)[0] == 0  # a tie: a gets it
        np.testing.assert_array_equal(np.asarray(da)[2:], [1, 0])  # the NaN side gets it
        np.testing.assert_array_equal(np.asarray(db)[2:], [0, 1])


def test_out_may_alias_a_to_accumulate_in_place(rng):
    g = rng.normal(size=(4, 5)).astype(np.float32)
    d = rng.normal(size=(4, 5)).astype(np.float32)
    want = g.astype(np.float64) + d
    t = kernels.as_tensor(g)
    assert kernels.binary_forward("add", t, d, out=t) is t
    np.testing.assert_allclose(np.asarray(t), want, rtol=1e-6)
    b = kernels.as_tensor(rng.normal(size=(5,)).astype(np.float32))
    kernels.binary_forward("multiply", t, b, out=t)  # a broadcast b, in place on a
    np.testing.assert_allclose(np.asarray(t), want * np.asarray(b), rtol=1e-5)


def test_need_flags_and_given_outputs(rng):
    a, b = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(4,)).astype(np.float32)
    dy = rng.normal(size=(3, 4)).astype(np.float32)
    da, db = kernels.binary_backward("multiply", a, b, dy, need_a=False)
    assert da is None
    out = kernels.zeros((4,))
    _, db2 = kernels.binary_backward("multiply", a, b, dy, db_out=out, need_a=False)
    assert db2 is out
    np.testing.assert_allclose(np.asarray(out), ref.binary_grads("multiply", a, b, dy)[1], rtol=1e-5)


def test_empty_dy_gives_zero_gradient_to_a_broadcast_operand():
    a, b = np.zeros((0, 3), np.float32), np.ones((3,), np.float32)
    _, db = kernels.binary_backward("multiply", a, b, np.zeros((0, 3), np.float32))
    np.testing.assert_array_equal(np.asarray(db), np.zeros(3))


def test_bad_calls_name_the_op():
    a = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"binary_forward.*\(2, 3\).*\(4,\).*broadcast"):
        kernels.binary_forward("add", a, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="binary_forward: unknown binary op"):
        kernels.binary_forward("mod", a, a)
    with pytest.raises(ValueError, match="binary_forward.*y"):
        kernels.binary_forward("add", a, a, out=kernels.empty((3, 2)))
    with pytest.raises(ValueError, match="binary_backward.*dy"):
        kernels.binary_backward("add", a, a, np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="binary_backward.*da"):
        kernels.binary_backward("add", a, a, a, da_out=kernels.empty((3,)))
    with pytest.raises(ValueError, match="binary_forward.*contiguous"):
        kernels.binary_forward("add", np.zeros((3, 2), np.float32).T, a)
    with pytest.raises(TypeError, match="binary_forward.*float32"):
        kernels.binary_forward("add", a.astype(np.int32), a)
    ro = np.zeros((2, 3), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="binary_forward.*read-only"):
        kernels.binary_forward("add", a, a, out=ro)
    assert np.asarray(kernels.binary_forward("add", ro, ro)).shape == (2, 3)  # read-only input: fine
    base = np.zeros(12, np.float32)
    with pytest.raises(ValueError, match="binary_forward.*share memory"):  # a partial overlap
        kernels.binary_forward("add", base[:6].reshape(2, 3), a, out=base[3:9].reshape(2, 3))


@pytest.mark.parametrize("kind", kernels.BINARY_OPS)
def test_torch_parity(kind, rng):
    torch = pytest.importorskip("torch")
    a, b = _operands(kind, (2, 3, 4), (3, 1), rng)
    ta = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    fn = {"add": torch.add, "subtract": torch.sub, "multiply": torch.mul, "divide": torch.div,
          "maximum": torch.maximum, "minimum": torch.minimum, "power": torch.pow}[kind]
    ty = fn(ta, tb)
    dy = rng.normal(size=tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.tensor(dy, dtype=torch.float64))
    np.testing.assert_allclose(np.asarray(kernels.binary_forward(kind, a, b)), ty.detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    da, db = kernels.binary_backward(kind, a, b, dy)
    np.testing.assert_allclose(np.asarray(da), ta.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(db), tb.grad.numpy(), rtol=1e-4, atol=1e-5)
