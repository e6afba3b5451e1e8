"""rms_norm forward / backward (Keras 3's LayerNormalization(rms_scaling=True)) vs the float64
reference (itself checked by finite differences) on every ISA, torch parity, in-place use,
determinism across thread counts, bad calls naming the op."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref

SHAPES = [((7, 5), 1), ((3, 4, 33), 1), ((2, 3, 4, 5), 2), ((2, 3, 4, 5), 3), ((1, 1), 1),
          ((257, 3), 1), ((5, 1031), 1)]


@pytest.mark.parametrize("shape,k", SHAPES)
@pytest.mark.parametrize("scaled", [True, False])
def test_forward_and_backward_vs_reference(shape, k, scaled, isa, rng):
    x = (rng.normal(size=shape) * 3 + 2).astype(np.float32)   # off-centre: a centring bug would show
    tshape = shape[len(shape) - k:]
    gamma = rng.uniform(0.5, 2, tshape).astype(np.float32) if scaled else None
    g = gamma if scaled else np.ones(tshape)
    y, inv = kernels.rms_norm_forward(x, gamma, norm_ndim=k, epsilon=1e-3)
    np.testing.assert_allclose(np.asarray(y), ref.rms_norm(x, g, k, 1e-3), rtol=1e-5, atol=1e-5)
    rows = x.reshape(-1, int(np.prod(tshape)))
    np.testing.assert_allclose(np.asarray(inv), 1 / np.sqrt((ref.f64(rows) ** 2).mean(1) + 1e-3), rtol=1e-5)
    dy = rng.normal(size=shape).astype(np.float32)
    dgamma = kernels.empty(tshape)
    dx = kernels.rms_norm_backward(dy, x, gamma, inv, norm_ndim=k, dgamma=dgamma)
    wdx, wdg = ref.rms_norm_grads(dy, x, g, k, 1e-3)
    np.testing.assert_allclose(np.asarray(dx), wdx, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(np.asarray(dgamma), wdg, rtol=1e-4, atol=1e-4)


def test_reference_gradients_match_finite_differences(rng):
    x = rng.normal(size=(3, 2, 4)) + 1.0
    gamma, dy = rng.normal(size=(2, 4)), rng.normal(size=(3, 2, 4))
    dx, dg = ref.rms_norm_grads(dy, x, gamma, 2)
    loss = lambda xx, gg: float((ref.rms_norm(xx, gg, 2) * dy).sum())  # noqa: E731
    np.testing.assert_allclose(dx, ref.numerical_grad(lambda v: loss(v, gamma), x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dg, ref.numerical_grad(lambda v: loss(x, v), gamma), rtol=1e-5, atol=1e-7)


def test_in_place_and_optional_outputs(rng):
    x = rng.normal(size=(6, 9)).astype(np.float32)
    ones = np.ones(9)
    xt = kernels.as_tensor(x.copy())
    _, inv = kernels.rms_norm_forward(xt, out=xt)   # y may be x
    np.testing.assert_allclose(np.asarray(xt), ref.rms_norm(x, ones), rtol=1e-5, atol=1e-6)
    dy = rng.normal(size=x.shape).astype(np.float32)
    dyt = kernels.as_tensor(dy.copy())
    kernels.rms_norm_backward(dyt, x, None, inv, dx=dyt)   # dx may be dy
    np.testing.assert_allclose(np.asarray(dyt), ref.rms_norm_grads(dy, x, ones)[0], rtol=1e-3, atol=1e-5)
    dg = kernels.empty((9,))
    assert kernels.rms_norm_backward(dy, x, None, inv, dgamma=dg, need_dx=False) is None
    np.testing.assert_allclose(np.asarray(dg), ref.rms_norm_grads(dy, x, ones)[1], rtol=1e-4, atol=1e-4)
    empty_g = kernels.empty((9,))
    kernels.rms_norm_backward(np.ones((0, 9), np.float32), np.ones((0, 9), np.float32), None,
                              kernels.empty((0,)), dgamma=empty_g, need_dx=False)
    np.testing.assert_array_equal(np.asarray(empty_g), 0.0)


def test_weight_gradient_does_not_depend_on_the_thread_count(rng):
    x = rng.normal(size=(3000, 17)).astype(np.float32)
    dy = rng.normal(size=x.shape).astype(np.float32)
    _, inv = kernels.rms_norm_forward(x)
    old = kernels.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            kernels.set_num_threads(n)
            dg = kernels.empty((17,))
            dx = kernels.rms_norm_backward(dy, x, None, inv, dgamma=dg)
            results.append([np.asarray(t).copy() for t in (dx, dg)])
    finally:
        kernels.set_num_threads(old)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_torch_parity(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(4, 3, 6)).astype(np.float32)
    g = rng.normal(size=(3, 6)).astype(np.float32)
    dy = rng.normal(size=x.shape).astype(np.float32)
    tx, tg = torch.tensor(x, requires_grad=True), torch.tensor(g, requires_grad=True)
    ty = tx * torch.rsqrt(tx.pow(2).mean(dim=(1, 2), keepdim=True) + 1e-3) * tg
    ty.backward(torch.tensor(dy))
    y, inv = kernels.rms_norm_forward(x, g, norm_ndim=2)
    dg = kernels.empty((3, 6))
    dx = kernels.rms_norm_backward(dy, x, g, inv, norm_ndim=2, dgamma=dg)
    for got, want in ((y, ty), (dx, tx.grad), (dg, tg.grad)):
        np.testing.assert_allclose(np.asarray(got), want.detach().numpy(), rtol=1e-4, atol=1e-4)


def test_bad_calls_name_the_op():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="rms_norm_forward.*norm_ndim"):
        kernels.rms_norm_forward(x, norm_ndim=3)
    with pytest.raises(TypeError, match="rms_norm_forward.*norm_ndim"):
        kernels.rms_norm_forward(x, norm_ndim=1.5)
    with pytest.raises(ValueError, match="rms_norm_forward.*gamma"):
        kernels.rms_norm_forward(x, np.ones(4, np.float32))
    with pytest.raises(ValueError, match="rms_norm_forward.*epsilon"):
        kernels.rms_norm_forward(x, epsilon=0.0)
    with pytest.raises(ValueError, match="rms_norm_forward.*inv_rms"):
        kernels.rms_norm_forward(x, inv_rms=kernels.empty((3,)))
    with pytest.raises(TypeError, match="rms_norm_forward.*float32"):
        kernels.rms_norm_forward(np.ones((2, 3), np.int32))
    ro = np.ones((2, 3), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="rms_norm_forward.*read-only"):
        kernels.rms_norm_forward(x, out=ro)
    _, inv = kernels.rms_norm_forward(x)
    with pytest.raises(ValueError, match="rms_norm_backward.*dgamma"):
        kernels.rms_norm_backward(x, x, None, inv, dgamma=kernels.empty((2,)))
    with pytest.raises(ValueError, match="rms_norm_backward.*share memory"):
        xt = kernels.as_tensor(x.copy())
        kernels.rms_norm_backward(x, xt, None, inv, dx=xt)
    with pytest.raises(ValueError, match="rms_norm_backward.*same shape"):
        kernels.rms_norm_backward(np.ones((2, 4), np.float32), x, None, inv)
