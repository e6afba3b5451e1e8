"""additive_attention_scores forward / backward vs the float64 reference (itself checked by finite
differences), torch autograd parity, determinism across thread counts, bad calls."""
import numpy as np
import pytest

from corenn import kernels
import reference as ref


def _ref_grads(ds, q, k, w, alpha):
    """(dq, dk, dw, dalpha) of sum(additive_scores * ds) by the chain rule, float64."""
    s = alpha * (ref.f64(q)[:, :, None, :] + ref.f64(k)[:, None, :, :])
    t = np.tanh(s)
    g = ref.f64(ds)[..., None] * ref.f64(w) * (1 - t * t)
    return (alpha * g.sum(axis=2), alpha * g.sum(axis=1), (ref.f64(ds)[..., None] * t).sum(axis=(0, 1, 2)),
            float((g * s / alpha).sum()))


@pytest.mark.parametrize("n,tq,tv,d,alpha", [(2, 3, 4, 5, 1.0), (1, 1, 1, 1, 0.7), (3, 5, 2, 8, 1.3),
                                             (70, 2, 3, 4, 1.0)])
def test_forward_and_backward_vs_reference(n, tq, tv, d, alpha, rng):
    q = rng.normal(size=(n, tq, d)).astype(np.float32)
    k = rng.normal(size=(n, tv, d)).astype(np.float32)
    w = rng.normal(size=d).astype(np.float32)
    s = kernels.additive_attention_scores_forward(q, k, w, alpha)
    np.testing.assert_allclose(np.asarray(s), ref.additive_scores(q, k, w, alpha), rtol=1e-5, atol=1e-5)
    ds = rng.normal(size=(n, tq, tv)).astype(np.float32)
    outs = (kernels.empty((n, tq, d)), kernels.empty((n, tv, d)), kernels.empty((d,)), kernels.empty(()))
    kernels.additive_attention_scores_backward(ds, q, k, w, alpha, dquery=outs[0], dkey=outs[1],
                                               dw=outs[2], dalpha=outs[3])
    for got, want in zip(outs, _ref_grads(ds, q, k, w, alpha)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4)


def test_reference_gradients_match_finite_differences(rng):
    q, k, w = rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 2, 2)), rng.normal(size=2)
    ds, alpha = rng.normal(size=(2, 3, 2)), 0.8
    dq, dk, dw, da = _ref_grads(ds, q, k, w, alpha)
    f = lambda qq, kk, ww, aa: float((ref.additive_scores(qq, kk, ww, aa) * ds).sum())
    np.testing.assert_allclose(dq, ref.numerical_grad(lambda v: f(v, k, w, alpha), q), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(dk, ref.numerical_grad(lambda v: f(q, v, w, alpha), k), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(dw, ref.numerical_grad(lambda v: f(q, k, v, alpha), w), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(da, ref.numerical_grad(lambda v: f(q, k, w, float(v)), np.array(alpha)),
                               rtol=1e-5)


def test_torch_parity(rng):
    torch = pytest.importorskip("torch")
    q = rng.normal(size=(2, 4, 3)).astype(np.float32)
    k = rng.normal(size=(2, 5, 3)).astype(np.float32)
    w = rng.normal(size=3).astype(np.float32)
    ds = rng.normal(size=(2, 4, 5)).astype(np.float32)
    tq, tk, tw = (torch.tensor(a, requires_grad=True) for a in (q, k, w))
    ta = torch.tensor(1.2, requires_grad=True)
    ts = (tw * torch.tanh(ta * (tq[:, :, None, :] + tk[:, None, :, :]))).sum(-1)
    ts.backward(torch.tensor(ds))
    s = kernels.additive_attention_scores_forward(q, k, w, 1.2)
    outs = (kernels.empty((2, 4, 3)), kernels.empty((2, 5, 3)), kernels.empty((3,)), kernels.empty(()))
    kernels.additive_attention_scores_backward(ds, q, k, w, 1.2, dquery=outs[0], dkey=outs[1],
                                               dw=outs[2], dalpha=outs[3])
    np.testing.assert_allclose(np.asarray(s), ts.detach().numpy(), rtol=1e-5, atol=1e-5)
    for got, want in zip(outs, (tq.grad, tk.grad, tw.grad, ta.grad)):
        np.testing.assert_allclose(np.asarray(got), want.numpy(), rtol=1e-4, atol=1e-4)


def test_results_do_not_depend_on_the_thread_count(rng):
    q = rng.normal(size=(40, 6, 8)).astype(np.float32)
    k = rng.normal(size=(40, 7, 8)).astype(np.float32)
    w = rng.normal(size=8).astype(np.float32)
    ds = rng.normal(size=(40, 6, 7)).astype(np.float32)
    old = kernels.get_num_threads()
    runs = []
    try:
        for t in (1, 2, 3):
            kernels.set_num_threads(t)
            outs = (kernels.empty((40, 6, 8)), kernels.empty((40, 7, 8)), kernels.empty((8,)), kernels.empty(()))
            kernels.additive_attention_scores_backward(ds, q, k, w, 1.0, dquery=outs[0], dkey=outs[1],
                                                       dw=outs[2], dalpha=outs[3])
            runs.append([np.asarray(kernels.additive_attention_scores_forward(q, k, w)).copy()]
                        + [np.asarray(o).copy() for o in outs])
    finally:
        kernels.set_num_threads(old)
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


def test_bad_calls_name_the_op():
    q, k, w = np.ones((2, 3, 4), np.float32), np.ones((2, 5, 4), np.float32), np.ones(4, np.float32)
    op = "additive_attention_scores_forward"
    with pytest.raises(ValueError, match=f"{op}.*key must be"):
        kernels.additive_attention_scores_forward(q, np.ones((2, 5, 3), np.float32), w)
    with pytest.raises(ValueError, match=f"{op}.*key must be"):
        kernels.additive_attention_scores_forward(q, np.ones((1, 5, 4), np.float32), w)
    with pytest.raises(ValueError, match=f"{op}.*w"):
        kernels.additive_attention_scores_forward(q, k, np.ones(3, np.float32))
    with pytest.raises(ValueError, match=f"{op}.*query must be"):
        kernels.additive_attention_scores_forward(np.ones((3, 4), np.float32), k, w)
    with pytest.raises(ValueError, match=f"{op}.*alpha"):
        kernels.additive_attention_scores_forward(q, k, w, float("nan"))
    with pytest.raises(ValueError, match=f"{op}.*scores"):
        kernels.additive_attention_scores_forward(q, k, w, out=kernels.empty((2, 5, 3)))
    with pytest.raises(TypeError, match=f"{op}.*float32"):
        kernels.additive_attention_scores_forward(q.astype(np.int32), k, w)
    op = "additive_attention_scores_backward"
    ds = np.ones((2, 3, 5), np.float32)
    with pytest.raises(ValueError, match=f"{op}.*dscores"):
        kernels.additive_attention_scores_backward(np.ones((2, 5, 3), np.float32), q, k, w)
    with pytest.raises(ValueError, match=f"{op}.*dkey"):
        kernels.additive_attention_scores_backward(ds, q, k, w, dkey=kernels.empty((2, 3, 4)))
    with pytest.raises(ValueError, match=f"{op}.*dalpha"):
        kernels.additive_attention_scores_backward(ds, q, k, w, dalpha=kernels.empty((1,)))
    qt = kernels.as_tensor(q.copy())
    with pytest.raises(ValueError, match=f"{op}.*share memory"):
        kernels.additive_attention_scores_backward(ds, qt, k, w, dquery=qt)
    ro = np.ones(4, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=f"{op}.*read-only"):
        kernels.additive_attention_scores_backward(ds, q, k, w, dw=ro)
