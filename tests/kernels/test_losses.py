"""loss_forward: every Keras loss, value and fused gradient, against the float64 reference; the
reference gradient against finite differences; clipping, sample weights, labels, bad inputs."""
import numpy as np
import pytest

import corenn
from corenn import kernels
from reference import loss, loss_grad, numerical_grad, one_hot

DENSE = ["mean_squared_error", "mean_absolute_error", "huber", "binary_crossentropy",
         "categorical_crossentropy"]
SHAPES = [(1, 1), (1, 7), (5, 3), (64, 10), (3, 4, 5)]


def _problem(kind, shape, rng, from_logits=False):
    """(y_pred, y_true) in the value range each loss expects."""
    if kind == "sparse_categorical_crossentropy":
        labels = rng.integers(0, shape[-1], shape[:-1]).astype(np.int64)
        pred = rng.standard_normal(shape) * 3 if from_logits else rng.random(shape) + 0.05
        return pred.astype(np.float32), labels
    if kind == "binary_crossentropy":
        pred = rng.standard_normal(shape) * 3 if from_logits else rng.uniform(0.02, 0.98, shape)
        return pred.astype(np.float32), rng.integers(0, 2, shape).astype(np.float32)
    if kind == "categorical_crossentropy":
        pred = rng.standard_normal(shape) * 3 if from_logits else rng.random(shape) + 0.05
        t = np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
        return pred.astype(np.float32), t.astype(np.float32)
    return (rng.standard_normal(shape) * 2).astype(np.float32), rng.standard_normal(shape).astype(np.float32)


def _check(kind, pred, true, from_logits=False, delta=1.0, sample_weight=None):
    grad = np.zeros_like(pred)
    got = kernels.loss_forward(kind, pred, true, grad, from_logits=from_logits, delta=delta,
                           sample_weight=sample_weight)
    want = loss(kind, pred, true, from_logits, delta, sample_weight)
    assert got == pytest.approx(want, rel=1e-5, abs=1e-7)
    want_g = loss_grad(kind, pred, true, from_logits, delta, sample_weight)
    np.testing.assert_allclose(grad, want_g, rtol=1e-4, atol=1e-6 * max(1.0, np.abs(want_g).max()))
    # value alone (no grad) is the same number
    assert kernels.loss_forward(kind, pred, true, from_logits=from_logits, delta=delta,
                            sample_weight=sample_weight) == got


@pytest.mark.parametrize("kind", DENSE + ["sparse_categorical_crossentropy"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("from_logits", [False, True])
def test_value_and_gradient_match_reference(kind, shape, from_logits, isa, rng):
    pred, true = _problem(kind, shape, rng, from_logits)
    _check(kind, pred, true, from_logits)


@pytest.mark.parametrize("kind", DENSE + ["sparse_categorical_crossentropy"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_reference_gradient_matches_finite_differences(kind, from_logits, rng):
    pred, true = _problem(kind, (4, 5), rng, from_logits)
    pred = pred.astype(np.float64)
    if kind in ("mean_absolute_error", "huber"):
        pred = pred + 0.5 * np.sign(pred - true)  # keep |e| and |e| - delta away from 0
    sw = rng.random(4) + 0.5
    f = lambda p: loss(kind, p, true, from_logits, 1.0, sw)
    np.testing.assert_allclose(loss_grad(kind, pred, true, from_logits, 1.0, sw),
                               numerical_grad(f, pred), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("kind", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_fused_logits_gradient_vs_finite_differences(kind, rng):
    pred, true = _problem(kind, (6, 4), rng, from_logits=True)
    grad = np.zeros_like(pred)
    kernels.loss_forward(kind, pred, true, grad, from_logits=True)
    num = numerical_grad(lambda p: loss(kind, p, true, True), pred.astype(np.float64))
    np.testing.assert_allclose(grad, num, rtol=1e-4, atol=1e-6)
    # the fused gradient is (softmax - onehot) / N
    onehot = true if kind == "categorical_crossentropy" else one_hot(true, 4)
    p = np.exp(pred - pred.max(-1, keepdims=True))
    np.testing.assert_allclose(grad, (p / p.sum(-1, keepdims=True) - onehot) / 6, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("kind", ["binary_crossentropy", "categorical_crossentropy",
                                  "sparse_categorical_crossentropy"])
def test_extreme_logits_are_stable(kind, isa, rng):
    pred = np.array([[100.0, -100.0, 0.0], [-100.0, 100.0, 50.0]], np.float32)
    true = (np.array([0, 2]) if kind.startswith("sparse")
            else np.array([[0, 1, 0], [1, 0, 0]], np.float32))
    _check(kind, pred, true, from_logits=True)
    grad = np.zeros_like(pred)
    assert np.isfinite(kernels.loss_forward(kind, pred, true, grad, from_logits=True))
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("cols", list(range(1, 18)) + [31, 32, 33])
def test_vector_rows_for_every_row_length(cols, isa, rng):
    """MSE and the softmax cross-entropy from logits (the rows with per-ISA kernels) for every row
    length 1..17 and around two 16-lane blocks, at batch 1 and 3, soft targets and weights too."""
    for rows in (1, 3):
        shape = (rows, cols)
        sw = (rng.random(rows) + 0.5).astype(np.float32)
        pred, true = _problem("mean_squared_error", shape, rng)
        _check("mean_squared_error", pred, true, sample_weight=sw)
        pred, true = _problem("sparse_categorical_crossentropy", shape, rng, from_logits=True)
        _check("sparse_categorical_crossentropy", pred, true, from_logits=True, sample_weight=sw)
        pred, true = _problem("categorical_crossentropy", shape, rng, from_logits=True)
        _check("categorical_crossentropy", pred, true, from_logits=True)
        soft = rng.random(shape).astype(np.float32)  # label smoothing: targets not one-hot
        _check("categorical_crossentropy", pred, soft / soft.sum(-1, keepdims=True), from_logits=True)


def test_probability_clipping():
    # p = 0 and p = 1 clip to 1e-7: finite loss, zero gradient where clipped
    pred = np.array([[0.0, 1.0, 0.5, 1e-9]], np.float32)
    true = np.array([[1.0, 0.0, 1.0, 0.0]], np.float32)
    _check("binary_crossentropy", pred, true)
    grad = np.zeros_like(pred)
    value = kernels.loss_forward("binary_crossentropy", pred, true, grad)
    assert value == pytest.approx((-np.log(1e-7) * 2 - np.log(0.5) - np.log(1 - 1e-7)) / 4, rel=1e-6)
    assert grad[0, 0] == 0.0 and grad[0, 1] == 0.0 and grad[0, 3] == 0.0 and grad[0, 2] != 0.0
    # categorical: rows are normalised first, then clipped
    pred = np.array([[2.0, 2.0, 0.0], [0.0, 0.0, 3.0]], np.float32)
    true = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], np.float32)
    _check("categorical_crossentropy", pred, true)
    assert kernels.loss_forward("categorical_crossentropy", pred, true) == pytest.approx(
        (-np.log(0.5) - np.log(1e-7)) / 2, rel=1e-6)
    _check("sparse_categorical_crossentropy", pred, np.array([0, 1]))


@pytest.mark.parametrize("kind", DENSE + ["sparse_categorical_crossentropy"])
def test_sample_weight(kind, rng):
    pred, true = _problem(kind, (8, 3), rng)
    sw = rng.random(8).astype(np.float32)
    sw[2] = 0.0
    _check(kind, pred, true, sample_weight=sw)
    _check(kind, pred, true, sample_weight=sw[:, None].copy())


@pytest.mark.parametrize("delta", [0.1, 1.0, 5.0])
def test_huber_delta(delta, rng):
    pred, true = _problem("huber", (16, 4), rng)
    _check("huber", pred, true, delta=delta)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("column", [False, True])
def test_sparse_label_dtypes_and_shapes(dtype, column, rng):
    pred, labels = _problem("sparse_categorical_crossentropy", (9, 6), rng)
    y = labels.astype(dtype)
    y = y[:, None].copy() if column else y
    _check("sparse_categorical_crossentropy", pred, y)
    assert kernels.loss_forward("sparse_categorical_crossentropy", pred, y) == pytest.approx(
        kernels.loss_forward("categorical_crossentropy", pred, one_hot(labels, 6).astype(np.float32)), rel=1e-12)


def test_deterministic_across_thread_counts(rng):
    pred, true = _problem("categorical_crossentropy", (3000, 40), rng, from_logits=True)
    old = corenn.get_num_threads()
    try:
        out = []
        for n in (1, 2):
            corenn.set_num_threads(n)
            g = np.zeros_like(pred)
            out.append((kernels.loss_forward("categorical_crossentropy", pred, true, g, from_logits=True), g))
    finally:
        corenn.set_num_threads(old)
    assert out[0][0] == out[1][0]
    np.testing.assert_array_equal(out[0][1], out[1][1])


def test_bad_inputs_raise():
    pred = np.full((4, 3), 0.3, np.float32)
    with pytest.raises(ValueError, match="unknown loss 'mse'.*mean_squared_error"):
        kernels.loss_forward("mse", pred, pred)
    with pytest.raises(ValueError, match=r"categorical_crossentropy: y_true has shape \(4,\) but y_pred "
                                         r"has shape \(4, 3\).*sparse_categorical_crossentropy.*to_categorical"):
        kernels.loss_forward("categorical_crossentropy", pred, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"mean_squared_error: .*\(4, 2\).*\(4, 3\)"):
        kernels.loss_forward("mean_squared_error", pred, np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy: .*add Flatten before Dense"):
        kernels.loss_forward("sparse_categorical_crossentropy", np.zeros((4, 5, 3), np.float32),
                         np.zeros(4, np.int64))
    with pytest.raises(TypeError, match="sparse_categorical_crossentropy: y_true must hold integer.*astype"):
        kernels.loss_forward("sparse_categorical_crossentropy", pred, np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy: label 3 at row 2 is out of range for 3"):
        kernels.loss_forward("sparse_categorical_crossentropy", pred, np.array([0, 1, 3, 0], np.int32))
    with pytest.raises(ValueError, match="label -1 at row 0"):
        kernels.loss_forward("sparse_categorical_crossentropy", pred, np.array([-1, 1, 2, 0]))
    with pytest.raises(TypeError, match="mean_absolute_error: y_true must be float32"):
        kernels.loss_forward("mean_absolute_error", pred, kernels.as_tensor(np.zeros((4, 3), np.int64)))
    with pytest.raises(ValueError, match="binary_crossentropy: empty batch"):
        kernels.loss_forward("binary_crossentropy", np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))
    bad = pred.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="mean_squared_error: y_true has NaN at row 2"):
        kernels.loss_forward("mean_squared_error", pred, bad)
    with pytest.raises(ValueError, match=r"huber: sample_weight must have shape \(4,\)"):
        kernels.loss_forward("huber", pred, pred, sample_weight=np.ones(3, np.float32))
    with pytest.raises(ValueError, match="huber: delta must be > 0"):
        kernels.loss_forward("huber", pred, pred, delta=0.0)
    with pytest.raises(ValueError, match="categorical_crossentropy: y_pred and grad must have the same shape"):
        kernels.loss_forward("categorical_crossentropy", pred, pred, np.zeros((3, 4), np.float32))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float64, bool])
def test_dense_targets_of_other_dtypes_are_converted(dtype, rng):
    pred, true = _problem("binary_crossentropy", (6, 2), rng)
    want = loss("binary_crossentropy", pred, true)
    assert kernels.loss_forward("binary_crossentropy", pred, true.astype(dtype)) == pytest.approx(want, rel=1e-6)
    sw = np.arange(6, dtype=np.float64)
    assert kernels.loss_forward("binary_crossentropy", pred, true, sample_weight=sw) == pytest.approx(
        loss("binary_crossentropy", pred, true, sample_weight=sw), rel=1e-6)


@pytest.mark.parametrize("kind", ["binary_crossentropy", "mean_squared_error"])
def test_trailing_one_is_squeezed_as_in_keras(kind, rng):
    pred, true = _problem(kind, (7, 1), rng)
    g1, g2 = np.zeros_like(pred), np.zeros_like(pred)
    a = kernels.loss_forward(kind, pred, true, g1)
    b = kernels.loss_forward(kind, pred, true.reshape(7), g2)
    assert a == b
    np.testing.assert_array_equal(g1, g2)
    with pytest.raises(ValueError, match=kind):
        kernels.loss_forward(kind, pred, true.reshape(1, 7))


def _loss_on(isa_name, kind, pred, true):
    old = corenn._C.get_isa()
    corenn._C.set_isa(isa_name)
    try:
        grad = np.zeros_like(pred)
        value = kernels.loss_forward(kind, pred, true, grad, from_logits=True)
    finally:
        corenn._C.set_isa(old)
    return value, grad


@pytest.mark.parametrize("cols", [1, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16, 17, 63, 1000, 4099])
def test_vector_softmax_cross_entropy_rows_agree_with_the_reference_row(cols, isa, rng):
    """The AVX2 and AVX-512 rows (a double exp in 4 / 8 lanes) against the reference row
    (std::exp): the same float32 gradients but for a last-bit rounding of a tie, and the value to
    1e-12 relative (only the order of the double row sums differs); logits over a wide range,
    and -inf."""
    rows = 6
    pred = (rng.standard_normal((rows, cols)) * rng.choice([0.1, 3.0, 40.0], (rows, 1))).astype(np.float32)
    labels = rng.integers(0, cols, rows)
    soft = rng.random((rows, cols)).astype(np.float32)
    soft /= soft.sum(1, keepdims=True)
    if cols > 2:   # a logit of -inf with target 0 (a masked class): exp gives 0, no NaN
        pred[0, (labels[0] + 1) % cols] = -np.inf
        soft[0, (labels[0] + 1) % cols] = 0.0
    for kind, true in (("sparse_categorical_crossentropy", labels),
                       ("categorical_crossentropy", np.eye(cols, dtype=np.float32)[labels]),
                       ("categorical_crossentropy", soft)):
        v_ref, g_ref = _loss_on("ref", kind, pred, true)
        v_isa, g_isa = _loss_on(isa, kind, pred, true)
        assert np.isfinite(v_ref) and v_isa == pytest.approx(v_ref, rel=1e-12, abs=1e-15)
        ulps = np.abs(g_isa.view(np.int32).astype(np.int64) - g_ref.view(np.int32).astype(np.int64))
        assert ulps.max() <= 1 and (ulps == 0).mean() > 0.99


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_softmax_cross_entropy_of_a_non_finite_logit_is_nan_on_every_isa(bad, isa, rng):
    pred = rng.standard_normal((3, 12)).astype(np.float32)
    for col in (0, 5, 11):   # first (where the reference's max starts), middle, tail lane
        p = pred.copy()
        p[1, col] = bad
        grad = np.zeros_like(p)
        value = kernels.loss_forward("sparse_categorical_crossentropy", p, np.array([1, 2, 3]), grad,
                                     from_logits=True)
        assert np.isnan(value) and np.isnan(grad[1]).all()
        assert np.isfinite(grad[[0, 2]]).all()
