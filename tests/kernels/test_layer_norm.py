"""layer_norm forward / backward vs the float64 reference (itself checked by finite differences),
torch parity, in-place use, determinism across thread counts, bad calls."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref

SHAPES = [((7, 5), 1), ((3, 4, 33), 1), ((2, 3, 4, 5), 2), ((2, 3, 4, 5), 3), ((1, 1), 1),
          ((257, 3), 1), ((5, 1031), 1)]


@pytest.mark.parametrize("shape,k", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_forward_and_backward_vs_reference(shape, k, affine, isa, rng):
    x = (rng.normal(size=shape) * 3 + 2).astype(np.float32)
    tshape = shape[len(shape) - k:]
    gamma = rng.uniform(0.5, 2, tshape).astype(np.float32) if affine else None
    beta = rng.normal(size=tshape).astype(np.float32) if affine else None
    y, mean, inv = kernels.layer_norm_forward(x, gamma, beta, norm_ndim=k, epsilon=1e-3)
    want, wmean, winv = ref.layer_norm(x, gamma, beta, k)
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(mean), wmean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(inv), winv, rtol=1e-4)
    dy = rng.normal(size=shape).astype(np.float32)
    dgamma, dbeta = kernels.empty(tshape), kernels.empty(tshape)
    dx = kernels.layer_norm_backward(dy, x, gamma, mean, inv, norm_ndim=k, dgamma=dgamma, dbeta=dbeta)
    wdx, wdg, wdb = ref.layer_norm_grads(dy, x, gamma, k)
    np.testing.assert_allclose(np.asarray(dx), wdx, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(np.asarray(dgamma), wdg, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(dbeta), wdb, rtol=1e-4, atol=1e-4)


def test_reference_gradients_match_finite_differences(rng):
    x = rng.normal(size=(3, 2, 4))
    gamma, beta, dy = rng.normal(size=(2, 4)), rng.normal(size=(2, 4)), rng.normal(size=(3, 2, 4))
    dx, dg, db = ref.layer_norm_grads(dy, x, gamma, 2)
    loss = lambda xx, gg, bb: float((ref.layer_norm(xx, gg, bb, 2)[0] * dy).sum())
    np.testing.assert_allclose(dx, ref.numerical_grad(lambda v: loss(v, gamma, beta), x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dg, ref.numerical_grad(lambda v: loss(x, v, beta), gamma), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(db, ref.numerical_grad(lambda v: loss(x, gamma, v), beta), rtol=1e-5, atol=1e-7)


def test_in_place_and_optional_outputs(rng):
    x = rng.normal(size=(6, 9)).astype(np.float32)
    want = ref.layer_norm(x)[0]
    xt = kernels.as_tensor(x.copy())
    y, mean, inv = kernels.layer_norm_forward(xt, out=xt)  # y may be x
    np.testing.assert_allclose(np.asarray(xt), want, rtol=1e-4, atol=1e-5)
    dy = rng.normal(size=x.shape).astype(np.float32)
    wdx = ref.layer_norm_grads(dy, x)[0]
    dyt = kernels.as_tensor(dy.copy())
    kernels.layer_norm_backward(dyt, x, None, mean, inv, dx=dyt)  # dx may be dy
    np.testing.assert_allclose(np.asarray(dyt), wdx, rtol=1e-3, atol=1e-4)
    dg = kernels.empty((9,))
    assert kernels.layer_norm_backward(dy, x, None, mean, inv, dgamma=dg, need_dx=False) is None
    np.testing.assert_allclose(np.asarray(dg), ref.layer_norm_grads(dy, x)[1], rtol=1e-4, atol=1e-4)


def test_weight_gradients_do_not_depend_on_the_thread_count(rng):
    x = rng.normal(size=(3000, 17)).astype(np.float32)
    dy = rng.normal(size=x.shape).astype(np.float32)
    _, mean, inv = kernels.layer_norm_forward(x)
    old = kernels.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            kernels.set_num_threads(n)
            dg, db = kernels.empty((17,)), kernels.empty((17,))
            dx = kernels.layer_norm_backward(dy, x, None, mean, inv, dgamma=dg, dbeta=db)
            results.append([np.asarray(t).copy() for t in (dx, dg, db)])
    finally:
        kernels.set_num_threads(old)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_torch_parity(rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(4, 3, 6)).astype(np.float32)
    g, b = rng.normal(size=(3, 6)).astype(np.float32), rng.normal(size=(3, 6)).astype(np.float32)
    dy = rng.normal(size=x.shape).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    tg, tb = torch.tensor(g, requires_grad=True), torch.tensor(b, requires_grad=True)
    ty = torch.nn.functional.layer_norm(tx, (3, 6), tg, tb, eps=1e-3)
    ty.backward(torch.tensor(dy))
    y, mean, inv = kernels.layer_norm_forward(x, g, b, norm_ndim=2)
    dg, db = kernels.empty((3, 6)), kernels.empty((3, 6))
    dx = kernels.layer_norm_backward(dy, x, g, mean, inv, norm_ndim=2, dgamma=dg, dbeta=db)
    for got, want in ((y, ty), (dx, tx.grad), (dg, tg.grad), (db, tb.grad)):
        np.testing.assert_allclose(np.asarray(got), want.detach().numpy(), rtol=1e-4, atol=1e-4)


def test_bad_calls_name_the_op():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="layer_norm_forward.*norm_ndim"):
        kernels.layer_norm_forward(x, norm_ndim=3)
    with pytest.raises(TypeError, match="layer_norm_forward.*norm_ndim"):
        kernels.layer_norm_forward(x, norm_ndim=1.5)
    with pytest.raises(ValueError, match="layer_norm_forward.*gamma"):
        kernels.layer_norm_forward(x, np.ones(4, np.float32))
    with pytest.raises(ValueError, match="layer_norm_forward.*epsilon"):
        kernels.layer_norm_forward(x, epsilon=0.0)
    with pytest.raises(ValueError, match="layer_norm_forward.*mean"):
        kernels.layer_norm_forward(x, mean=kernels.empty((3,)))
    with pytest.raises(TypeError, match="layer_norm_forward.*float32"):
        kernels.layer_norm_forward(np.ones((2, 3), np.int32))
    ro = np.ones((2, 3), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="layer_norm_forward.*read-only"):
        kernels.layer_norm_forward(x, out=ro)
    _, mean, inv = kernels.layer_norm_forward(x)
    with pytest.raises(ValueError, match="layer_norm_backward.*dgamma"):
        kernels.layer_norm_backward(x, x, None, mean, inv, dgamma=kernels.empty((2,)))
    with pytest.raises(ValueError, match="layer_norm_backward.*share memory"):
        xt = kernels.as_tensor(x.copy())
        kernels.layer_norm_backward(x, xt, None, mean, inv, dx=xt)
    with pytest.raises(ValueError, match="layer_norm_backward.*same shape"):
        kernels.layer_norm_backward(np.ones((2, 4), np.float32), x, None, mean, inv)


@pytest.mark.parametrize("d", list(range(1, 18)) + [31, 32, 33])
@pytest.mark.parametrize("affine", [True, False])
def test_feature_tails_on_every_isa(d, affine, isa, rng):
    """Every row length 1..17 (the vector rows' masked tail) and around two 16-lane blocks, at
    batch 1 and 3, with and without gamma / beta; only dgamma or only dx asked for."""
    for rows in (1, 3):
        x = (rng.normal(size=(rows, d)) * 3 + 2).astype(np.float32)
        gamma = rng.uniform(0.5, 2, d).astype(np.float32) if affine else None
        beta = rng.normal(size=d).astype(np.float32) if affine else None
        y, mean, inv = kernels.layer_norm_forward(x, gamma, beta, norm_ndim=1, epsilon=1e-3)
        want, wmean, winv = ref.layer_norm(x, gamma, beta, 1)
        np.testing.assert_allclose(np.asarray(y), want, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(np.asarray(mean), wmean, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.asarray(inv), winv, rtol=1e-4)
        dy = rng.normal(size=(rows, d)).astype(np.float32)
        wdx, wdg, wdb = ref.layer_norm_grads(dy, x, gamma, 1)
        dgamma, dbeta = kernels.empty((d,)), kernels.empty((d,))
        dx = kernels.layer_norm_backward(dy, x, gamma, mean, inv, norm_ndim=1, dgamma=dgamma,
                                         dbeta=dbeta)
        np.testing.assert_allclose(np.asarray(dx), wdx, rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(np.asarray(dgamma), wdg, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(np.asarray(dbeta), wdb, rtol=1e-4, atol=1e-4)
        only_g = kernels.empty((d,))
        kernels.layer_norm_backward(dy, x, gamma, mean, inv, norm_ndim=1, dgamma=only_g,
                                    need_dx=False)
        np.testing.assert_allclose(np.asarray(only_g), wdg, rtol=1e-4, atol=1e-4)
