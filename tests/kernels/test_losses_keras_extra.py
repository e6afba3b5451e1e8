"""loss_forward for the Keras losses added with issue 13 (KL divergence, cosine similarity, the
hinges, log-cosh, Poisson, MSLE, MAPE): value and fused gradient against the float64 reference,
the reference gradient against finite differences, PyTorch parity where torch has the same loss,
per-sample output, and the confusion-count / top-k counting kernels of the metrics."""
import numpy as np
import pytest

from corenn import kernels
from reference import (KERAS_EXTRA_LOSSES, auc_thresholds, confusion_counts, extra_loss,
                       extra_loss_grad, extra_loss_per_sample, numerical_grad, top_k_hits)

SHAPES = [(1, 1), (1, 7), (5, 3), (64, 10), (3, 4, 5)]


def _problem(kind, shape, rng):
    """(y_pred, y_true) in the range each loss is meant for, away from its kinks."""
    if kind == "kl_divergence":
        p = rng.uniform(0.05, 0.95, shape)
        t = rng.uniform(0.0, 1.0, shape)
    elif kind in ("hinge", "squared_hinge"):
        t = rng.integers(0, 2, shape).astype(np.float64)  # 0/1: Keras maps them to -1/1
        p = rng.standard_normal(shape) * 1.5
    elif kind == "categorical_hinge":
        t = np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
        p = rng.standard_normal(shape)
    elif kind in ("poisson", "mean_squared_logarithmic_error"):
        p = rng.uniform(0.1, 3.0, shape)
        t = rng.poisson(1.5, shape).astype(np.float64)
    elif kind == "mean_absolute_percentage_error":
        t = rng.uniform(0.5, 2.0, shape) * rng.choice([-1, 1], shape)
        p = t + rng.uniform(0.1, 0.5, shape) * rng.choice([-1, 1], shape)
    else:
        p = rng.standard_normal(shape) * 2
        t = rng.standard_normal(shape)
    return p.astype(np.float32), t.astype(np.float32)


@pytest.mark.parametrize("kind", KERAS_EXTRA_LOSSES)
@pytest.mark.parametrize("shape", SHAPES)
def test_value_gradient_and_per_sample_match_reference(kind, shape, rng):
    pred, true = _problem(kind, shape, rng)
    sw = (rng.random(int(np.prod(shape[:-1]))) + 0.5).astype(np.float32)
    for weight in (None, sw):
        grad = np.zeros_like(pred)
        per = np.zeros(shape[:-1], np.float32)
        got = kernels.loss_forward(kind, pred, true, grad, sample_weight=weight, per_sample=per)
        want = extra_loss(kind, pred, true, weight)
        assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
        want_g = extra_loss_grad(kind, pred, true, weight)
        np.testing.assert_allclose(grad, want_g, rtol=1e-4, atol=1e-6 * max(1.0, np.abs(want_g).max()))
        np.testing.assert_allclose(per, extra_loss_per_sample(kind, pred, true), rtol=1e-5, atol=1e-6)
        assert kernels.loss_forward(kind, pred, true, sample_weight=weight) == got


@pytest.mark.parametrize("kind", KERAS_EXTRA_LOSSES)
def test_reference_gradient_matches_finite_differences(kind, rng):
    pred, true = _problem(kind, (4, 5), rng)
    pred = pred.astype(np.float64)
    sw = rng.random(4) + 0.5
    f = lambda p: extra_loss(kind, p, true, sw)
    np.testing.assert_allclose(extra_loss_grad(kind, pred, true, sw), numerical_grad(f, pred),
                               rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("kind", KERAS_EXTRA_LOSSES)
def test_kernel_gradient_matches_finite_differences(kind, rng):
    """The float32 kernel against central differences of the float64 reference value."""
    pred, true = _problem(kind, (3, 4), rng)
    grad = np.zeros_like(pred)
    kernels.loss_forward(kind, pred, true, grad)
    num = numerical_grad(lambda p: extra_loss(kind, p, true), pred.astype(np.float64))
    np.testing.assert_allclose(grad, num, rtol=1e-3, atol=1e-5 * max(1.0, np.abs(num).max()))


def test_clipped_regions_have_zero_gradient():
    # kl_divergence: p outside [eps, 1] is clipped; msle: p below eps
    pred = np.array([[-0.5, 1.5, 0.3]], np.float32)
    true = np.array([[0.2, 0.3, 0.5]], np.float32)
    grad = np.ones_like(pred)
    kernels.loss_forward("kl_divergence", pred, true, grad)
    assert grad[0, 0] == 0 and grad[0, 1] == 0 and grad[0, 2] != 0
    np.testing.assert_allclose(grad, extra_loss_grad("kl_divergence", pred, true), rtol=1e-5)
    grad[:] = 1
    kernels.loss_forward("mean_squared_logarithmic_error", pred, true, grad)
    assert grad[0, 0] == 0 and grad[0, 1] != 0


def test_hinge_converts_labels_only_when_the_whole_batch_is_binary(rng):
    pred = rng.standard_normal((4, 3)).astype(np.float32)
    binary = rng.integers(0, 2, (4, 3)).astype(np.float32)
    signed = 2 * binary - 1
    for kind in ("hinge", "squared_hinge"):
        # 0/1 labels act as -1/1
        assert kernels.loss_forward(kind, pred, binary) == pytest.approx(
            kernels.loss_forward(kind, pred, signed), rel=1e-6)
        # one label of 0.5 keeps the batch unconverted
        mixed = binary.copy()
        mixed[0, 0] = 0.5
        assert kernels.loss_forward(kind, pred, mixed) == pytest.approx(
            extra_loss(kind, pred, mixed), rel=1e-5)
        want_unconverted = np.maximum(1 - mixed.astype(np.float64) * pred, 0)
        if kind == "squared_hinge":
            want_unconverted = want_unconverted ** 2
        assert kernels.loss_forward(kind, pred, mixed) == pytest.approx(want_unconverted.mean(), rel=1e-5)


def test_cosine_similarity_of_zero_vectors_is_zero():
    pred = np.zeros((2, 3), np.float32)
    true = np.array([[1, 0, 0], [0, 0, 0]], np.float32)
    grad = np.zeros_like(pred)
    assert kernels.loss_forward("cosine_similarity", pred, true, grad) == 0.0
    np.testing.assert_allclose(grad, extra_loss_grad("cosine_similarity", pred, true), rtol=1e-6)
    assert np.isfinite(grad).all()


def test_log_cosh_is_finite_for_large_errors():
    pred = np.array([[1e4, -1e4, 300.0]], np.float32)
    true = np.zeros_like(pred)
    grad = np.zeros_like(pred)
    value = kernels.loss_forward("log_cosh", pred, true, grad)
    assert np.isfinite(value) and value == pytest.approx((1e4 + 1e4 + 300 - 3 * np.log(2)) / 3, rel=1e-6)
    np.testing.assert_allclose(grad, [[1 / 3, -1 / 3, 1 / 3]], rtol=1e-6)


@pytest.mark.parametrize("kind", KERAS_EXTRA_LOSSES)
def test_nan_prediction_gives_nan_not_silent_zero(kind, rng):
    pred, true = _problem(kind, (2, 3), rng)
    pred[0, 1] = np.nan
    grad = np.zeros_like(pred)
    value = kernels.loss_forward(kind, pred, true, grad)
    assert np.isnan(value)
    assert np.isnan(grad[0]).any()


def test_bad_inputs_raise_named_errors():
    pred = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match="kl_divergence.*shape"):
        kernels.loss_forward("kl_divergence", pred, np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="per_sample"):
        kernels.loss_forward("poisson", pred, pred.copy(), per_sample=np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        kernels.loss_forward("hinge", pred, np.full((3, 2), np.nan, np.float32))
    with pytest.raises(ValueError, match="unknown loss"):
        kernels.loss_forward("hinge_embedding", pred, pred.copy())


# -- PyTorch parity (same math under another name) -----------------------------------------------

def _torch_value_and_grad(fn, pred, true):
    torch = pytest.importorskip("torch")
    p = torch.tensor(pred.astype(np.float64), requires_grad=True)
    t = torch.tensor(true.astype(np.float64))
    value = fn(torch, p, t)
    value.backward()
    return value.detach().item(), p.grad.numpy()


TORCH = {
    # kl_div takes log-probabilities; with t, p inside [eps, 1] Keras' clipping changes nothing
    "kl_divergence": lambda torch, p, t: torch.nn.functional.kl_div(
        torch.log(p), t, reduction="none").sum(-1).mean(),
    "cosine_similarity": lambda torch, p, t: -torch.nn.functional.cosine_similarity(p, t, dim=-1).mean(),
    "poisson": lambda torch, p, t: torch.nn.functional.poisson_nll_loss(
        p, t, log_input=False, eps=1e-7, reduction="mean"),
    "log_cosh": lambda torch, p, t: torch.log(torch.cosh(p - t)).mean(),
    "squared_hinge": lambda torch, p, t: (torch.clamp(1 - (2 * t - 1) * p, min=0) ** 2).mean(),
}


@pytest.mark.parametrize("kind", sorted(TORCH))
def test_matches_pytorch(kind, rng):
    pred, true = _problem(kind, (6, 5), rng)
    if kind == "kl_divergence":
        true = rng.uniform(0.05, 0.95, true.shape).astype(np.float32)
    want, want_g = _torch_value_and_grad(TORCH[kind], pred, true)
    grad = np.zeros_like(pred)
    got = kernels.loss_forward(kind, pred, true, grad)
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
    np.testing.assert_allclose(grad, want_g, rtol=1e-4, atol=1e-7)


# -- counting kernels for the metrics ---------------------------------------------------------------

@pytest.mark.parametrize("shape", [(1, 1), (7,), (50, 3), (4, 6, 2)])
@pytest.mark.parametrize("soft", [False, True])
def test_confusion_counts_match_brute_force(shape, soft, rng):
    pred = rng.random(shape).astype(np.float32)
    pred.reshape(-1)[:3] = [0.0, 1.0, 0.5][: pred.size]  # exact threshold values
    true = (rng.random(shape) if soft else rng.integers(0, 2, shape)).astype(np.float32)
    rows = pred.size // shape[-1] if len(shape) > 1 else pred.size
    sw = (rng.random(rows) + 0.5).astype(np.float32)
    for thr in (auc_thresholds(200), np.float32([0.5]), np.float32([0.1, 0.3, 0.3, 0.9])):
        for w in (None, sw):
            got = kernels.confusion_counts(pred, true, thr, soft_labels=soft, sample_weight=w)
            np.testing.assert_allclose(got, confusion_counts(pred, true, thr, soft, w), rtol=1e-6, atol=1e-6)


def test_confusion_counts_reject_bad_thresholds_and_shapes():
    p = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match="ascending"):
        kernels.confusion_counts(p, p, [0.5, 0.2])
    with pytest.raises(ValueError, match="shape"):
        kernels.confusion_counts(p, np.zeros((3, 3), np.float32), [0.5])
    with pytest.raises(ValueError, match="sample_weight"):
        kernels.confusion_counts(p, p, [0.5], sample_weight=np.ones(4, np.float32))


@pytest.mark.parametrize("shape", [(1, 1), (9, 5), (3, 4, 10)])
@pytest.mark.parametrize("k", [1, 2, 5, 12])
def test_top_k_counts_match_reference(shape, k, rng):
    pred = rng.integers(0, 4, shape).astype(np.float32)  # many ties: Keras counts a tie at the k-th as in
    labels = rng.integers(0, shape[-1], shape[:-1])
    want = top_k_hits(pred, labels, k)
    per = np.zeros(shape[:-1], np.float32)
    assert kernels.accuracy_count("sparse_top_k", pred, labels, k=k, per_row=per) == want.sum()
    np.testing.assert_array_equal(per.reshape(-1), want)
    onehot = np.eye(shape[-1], dtype=np.float32)[labels]
    assert kernels.accuracy_count("top_k", pred, onehot, k=k) == want.sum()
    with pytest.raises(ValueError, match="out of range"):
        kernels.accuracy_count("sparse_top_k", pred, np.full(shape[:-1], shape[-1]), k=k)


def test_per_row_accuracy_matches_reference(rng):
    pred = rng.random((4, 3, 5)).astype(np.float32)
    labels = rng.integers(0, 5, (4, 3))
    per = np.zeros((4, 3), np.float32)
    n = kernels.accuracy_count("sparse_categorical", pred, labels, per_row=per)
    np.testing.assert_array_equal(per, pred.argmax(-1) == labels)
    assert n == (pred.argmax(-1) == labels).sum()
    t = (rng.random((4, 3, 5)) > 0.5).astype(np.float32)
    kernels.accuracy_count("binary", pred, t, per_row=per)
    np.testing.assert_allclose(per, ((pred > 0.5) == (t > 0.5)).mean(-1), rtol=1e-6)
