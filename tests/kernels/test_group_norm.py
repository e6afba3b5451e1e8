"""group_norm forward / backward vs the float64 reference (itself checked by finite differences),
torch parity, channels-last and channels-first layouts, in-place use, determinism across thread
counts, bad calls."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref

# (shape, channel axis, groups)
CASES = [((4, 6), 1, 3), ((2, 5, 8), -1, 4), ((3, 4, 4, 6), -1, 2), ((2, 6, 3, 5), 1, 3),
         ((2, 3, 8, 2), 2, 8), ((1, 7, 4), 2, 1), ((5, 2, 2, 32), 3, 32), ((2, 300, 12), -1, 3)]


@pytest.mark.parametrize("shape,axis,groups", CASES)
@pytest.mark.parametrize("affine", [True, False])
def test_forward_and_backward_vs_reference(shape, axis, groups, affine, rng):
    x = (rng.normal(size=shape) * 3 + 2).astype(np.float32)
    c = shape[axis]
    gamma = rng.uniform(0.5, 2, c).astype(np.float32) if affine else None
    beta = rng.normal(size=c).astype(np.float32) if affine else None
    y, mean, inv = kernels.group_norm_forward(x, gamma, beta, axis=axis, groups=groups)
    want, wmean, winv = ref.group_norm(x, gamma, beta, axis, groups)
    np.testing.assert_allclose(np.asarray(y), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(mean), wmean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(inv), winv, rtol=1e-4)
    dy = rng.normal(size=shape).astype(np.float32)
    dgamma, dbeta = kernels.empty((c,)), kernels.empty((c,))
    dx = kernels.group_norm_backward(dy, x, gamma, mean, inv, axis=axis, groups=groups,
                                     dgamma=dgamma, dbeta=dbeta)
    wdx, wdg, wdb = ref.group_norm_grads(dy, x, gamma, axis, groups)
    np.testing.assert_allclose(np.asarray(dx), wdx, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(np.asarray(dgamma), wdg, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(np.asarray(dbeta), wdb, rtol=1e-4, atol=1e-3)


def test_reference_gradients_match_finite_differences(rng):
    x = rng.normal(size=(2, 3, 4, 2))
    gamma, beta, dy = rng.normal(size=4), rng.normal(size=4), rng.normal(size=x.shape)
    for axis in (2, -2):
        dx, dg, db = ref.group_norm_grads(dy, x, gamma, axis, 2)
        loss = lambda xx, gg, bb: float((ref.group_norm(xx, gg, bb, axis, 2)[0] * dy).sum())
        np.testing.assert_allclose(dx, ref.numerical_grad(lambda v: loss(v, gamma, beta), x), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(dg, ref.numerical_grad(lambda v: loss(x, v, beta), gamma), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(db, ref.numerical_grad(lambda v: loss(x, gamma, v), beta), rtol=1e-5, atol=1e-7)


def test_one_group_is_layer_norm_and_one_group_per_channel_is_instance_norm(rng):
    x = rng.normal(size=(3, 5, 4)).astype(np.float32)
    y1 = kernels.group_norm_forward(x, axis=-1, groups=1)[0]
    np.testing.assert_allclose(np.asarray(y1), ref.layer_norm(x, norm_ndim=2)[0], rtol=1e-4, atol=1e-4)
    y4 = kernels.group_norm_forward(x, axis=-1, groups=4)[0]
    xd = x.astype(np.float64)
    m, v = xd.mean(axis=1, keepdims=True), xd.var(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(y4), (xd - m) / np.sqrt(v + 1e-3), rtol=1e-4, atol=1e-4)


def test_in_place_and_optional_outputs(rng):
    x = rng.normal(size=(4, 3, 6)).astype(np.float32)
    want = ref.group_norm(x, axis=-1, groups=3)[0]
    xt = kernels.as_tensor(x.copy())
    _, mean, inv = kernels.group_norm_forward(xt, axis=-1, groups=3, out=xt)  # y may be x
    np.testing.assert_allclose(np.asarray(xt), want, rtol=1e-4, atol=1e-5)
    dy = rng.normal(size=x.shape).astype(np.float32)
    wdx, wdg, _ = ref.group_norm_grads(dy, x, None, -1, 3)
    dyt = kernels.as_tensor(dy.copy())
    kernels.group_norm_backward(dyt, x, None, mean, inv, axis=-1, groups=3, dx=dyt)  # dx may be dy
    np.testing.assert_allclose(np.asarray(dyt), wdx, rtol=1e-3, atol=1e-4)
    dg = kernels.empty((6,))
    assert kernels.group_norm_backward(dy, x, None, mean, inv, axis=-1, groups=3, dgamma=dg,
                                       need_dx=False) is None
    np.testing.assert_allclose(np.asarray(dg), wdg, rtol=1e-4, atol=1e-4)


def test_empty_batch_gives_zero_weight_gradients():
    x = np.zeros((0, 4), np.float32)
    _, mean, inv = kernels.group_norm_forward(x, axis=1, groups=2)
    dg, db = kernels.empty((4,)), kernels.empty((4,))
    np.asarray(dg)[...] = 7.0
    np.asarray(db)[...] = 7.0
    kernels.group_norm_backward(x, x, None, mean, inv, axis=1, groups=2, dgamma=dg, dbeta=db)
    assert not np.asarray(dg).any() and not np.asarray(db).any()


def test_results_do_not_depend_on_the_thread_count(rng):
    x = rng.normal(size=(64, 10, 10, 8)).astype(np.float32)
    dy = rng.normal(size=x.shape).astype(np.float32)
    g = rng.uniform(0.5, 2, 8).astype(np.float32)
    old = kernels.get_num_threads()
    results = []
    try:
        for n in (1, 2, 3):
            kernels.set_num_threads(n)
            y, mean, inv = kernels.group_norm_forward(x, g, None, axis=-1, groups=4)
            dg, db = kernels.empty((8,)), kernels.empty((8,))
            dx = kernels.group_norm_backward(dy, x, g, mean, inv, axis=-1, groups=4, dgamma=dg, dbeta=db)
            results.append([np.asarray(t).copy() for t in (y, dx, dg, db)])
    finally:
        kernels.set_num_threads(old)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("channels_last", [True, False])
def test_torch_parity(channels_last, rng):
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(3, 6, 4, 5)).astype(np.float32)  # torch's layout: (N, C, H, W)
    g, b = rng.normal(size=6).astype(np.float32), rng.normal(size=6).astype(np.float32)
    dy = rng.normal(size=x.shape).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    tg, tb = torch.tensor(g, requires_grad=True), torch.tensor(b, requires_grad=True)
    ty = torch.nn.functional.group_norm(tx, 3, tg, tb, eps=1e-3)
    ty.backward(torch.tensor(dy))
    to_ours = (lambda a: np.ascontiguousarray(np.moveaxis(a, 1, -1))) if channels_last else (lambda a: a)
    from_ours = (lambda a: np.moveaxis(a, -1, 1)) if channels_last else (lambda a: a)
    axis = -1 if channels_last else 1
    y, mean, inv = kernels.group_norm_forward(to_ours(x), g, b, axis=axis, groups=3)
    dg, db = kernels.empty((6,)), kernels.empty((6,))
    dx = kernels.group_norm_backward(to_ours(dy), to_ours(x), g, mean, inv, axis=axis, groups=3,
                                     dgamma=dg, dbeta=db)
    for got, want in ((from_ours(np.asarray(y)), ty), (from_ours(np.asarray(dx)), tx.grad),
                      (np.asarray(dg), tg.grad), (np.asarray(db), tb.grad)):
        np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-4, atol=1e-4)


def test_bad_calls_name_the_op():
    x = np.ones((2, 6), np.float32)
    with pytest.raises(ValueError, match="group_norm_forward.*groups must divide"):
        kernels.group_norm_forward(x, axis=1, groups=4)
    with pytest.raises(ValueError, match="group_norm_forward.*groups must divide"):
        kernels.group_norm_forward(x, axis=1, groups=0)
    with pytest.raises(ValueError, match="group_norm_forward.*axis"):
        kernels.group_norm_forward(x, axis=0, groups=2)
    with pytest.raises(ValueError, match="group_norm_forward.*axis"):
        kernels.group_norm_forward(x, axis=2, groups=2)
    with pytest.raises(TypeError, match="group_norm_forward.*groups"):
        kernels.group_norm_forward(x, axis=1, groups=2.0)
    with pytest.raises(ValueError, match="group_norm_forward.*gamma"):
        kernels.group_norm_forward(x, np.ones(4, np.float32), axis=1, groups=2)
    with pytest.raises(ValueError, match="group_norm_forward.*epsilon"):
        kernels.group_norm_forward(x, axis=1, groups=2, epsilon=0.0)
    with pytest.raises(ValueError, match="group_norm_forward.*mean"):
        kernels.group_norm_forward(x, axis=1, groups=2, mean=kernels.empty((2, 3)))
    with pytest.raises(TypeError, match="group_norm_forward.*float32"):
        kernels.group_norm_forward(np.ones((2, 6), np.int32), axis=1, groups=2)
    with pytest.raises(ValueError, match="group_norm_forward.*batch axis"):
        kernels.group_norm_forward(np.ones(6, np.float32), axis=0, groups=2)
    ro = np.ones((2, 6), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="group_norm_forward.*read-only"):
        kernels.group_norm_forward(x, axis=1, groups=2, out=ro)
    _, mean, inv = kernels.group_norm_forward(x, axis=1, groups=2)
    with pytest.raises(ValueError, match="group_norm_backward.*dgamma"):
        kernels.group_norm_backward(x, x, None, mean, inv, axis=1, groups=2, dgamma=kernels.empty((2,)))
    with pytest.raises(ValueError, match="group_norm_backward.*share memory"):
        xt = kernels.as_tensor(x.copy())
        kernels.group_norm_backward(x, xt, None, mean, inv, axis=1, groups=2, dx=xt)
    with pytest.raises(ValueError, match="group_norm_backward.*same shape"):
        kernels.group_norm_backward(np.ones((2, 4), np.float32), x, None, mean, inv, axis=1, groups=2)
    with pytest.raises(ValueError, match="group_norm_backward.*inv_std"):
        kernels.group_norm_backward(x, x, None, mean, kernels.empty((2, 3)), axis=1, groups=2)
