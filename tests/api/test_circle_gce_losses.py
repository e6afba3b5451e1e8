"""Keras 3.15's Circle and CategoricalGeneralizedCrossEntropy losses (class and function) against
float64 NumPy references, their gradients against finite differences, training with them; the
metrics module's loss functions and metrics.serialize / deserialize."""
import numpy as np
import pytest

import corenn
from corenn import keras
from reference import numerical_grad


def _softplus(x):
    return np.logaddexp(0.0, x)


def _lse(x, mask):
    out = np.full(x.shape[0], -np.inf)
    for i in range(x.shape[0]):
        if mask[i].any():
            v = x[i][mask[i]]
            out[i] = v.max() + np.log(np.exp(v - v.max()).sum())
    return out


def _circle(labels, emb, ref_labels=None, ref=None, remove_diagonal=True, gamma=80.0, margin=0.4):
    emb = np.asarray(emb, np.float64)
    ref = emb if ref is None else np.asarray(ref, np.float64)
    ref_labels = labels if ref_labels is None else ref_labels
    d = np.maximum(1 - emb @ ref.T, 0)
    pos = labels[:, None] == ref_labels[None, :]
    neg = ~pos
    if remove_diagonal:
        pos &= ~np.eye(*pos.shape, dtype=bool)
    pl = -gamma * np.maximum(margin + d, 0) * (margin - d)
    nl = gamma * np.maximum(1 + margin - d, 0) * (1 - margin - d)
    return _softplus(_lse(pl, pos) + _lse(nl, neg))     # softplus(-inf) = 0: no positive pair


def _unit_rows(rng, n, d):
    e = rng.standard_normal((n, d))
    return e / np.linalg.norm(e, axis=1, keepdims=True)


LABELS = np.array([0, 1, 0, 2, 1, 3, 0, 1])   # classes 2 and 3 have one member: no positive pair


@pytest.mark.parametrize("gamma, margin, remove_diagonal", [(80.0, 0.4, True), (10.0, 0.25, True),
                                                            (5.0, 0.3, False)])
def test_circle_matches_the_float64_reference(gamma, margin, remove_diagonal):
    emb = _unit_rows(np.random.default_rng(0), 8, 5)
    want = _circle(LABELS, emb, remove_diagonal=remove_diagonal, gamma=gamma, margin=margin)
    per = np.asarray(keras.losses.circle(LABELS, emb.astype(np.float32), remove_diagonal=remove_diagonal,
                                         gamma=gamma, margin=margin))
    np.testing.assert_allclose(per, want, rtol=2e-5, atol=1e-4)
    loss = keras.losses.Circle(gamma=gamma, margin=margin, remove_diagonal=remove_diagonal)
    # Keras masks the rows without a loss: the mean runs over the others
    np.testing.assert_allclose(float(loss(LABELS, emb)), want.sum() / (want > 0).sum(), rtol=2e-5)
    # with sample weights the mask still counts: sum(w * loss) over the rows that have a loss
    w = np.linspace(0.2, 1.6, 8).astype(np.float32)
    np.testing.assert_allclose(float(loss(LABELS, emb, sample_weight=w)), (w * want).sum() / (want > 0).sum(),
                               rtol=2e-5)
    summed = keras.losses.Circle(gamma=gamma, margin=margin, remove_diagonal=remove_diagonal, reduction="sum")
    np.testing.assert_allclose(float(summed(LABELS, emb)), want.sum(), rtol=2e-5)
    cfg = loss.get_config()
    assert (cfg["gamma"], cfg["margin"], cfg["remove_diagonal"]) == (gamma, margin, remove_diagonal)
    assert keras.losses.get({"class_name": "Circle", "config": cfg}).get_config() == cfg


def test_circle_against_reference_embeddings():
    rng = np.random.default_rng(1)
    emb, ref = _unit_rows(rng, 8, 5), _unit_rows(rng, 6, 5)
    ref_labels = np.array([0, 1, 1, 2, 0, 3])
    got = keras.losses.circle(LABELS, emb, ref_labels=ref_labels, ref_embeddings=ref, gamma=20.0)
    np.testing.assert_allclose(np.asarray(got), _circle(LABELS, emb, ref_labels, ref, gamma=20.0), rtol=2e-5,
                               atol=1e-4)


def test_circle_gradient_matches_finite_differences():
    emb = _unit_rows(np.random.default_rng(2), 8, 4)
    loss = keras.losses.Circle(gamma=4.0, margin=0.25)
    e = keras.ops.convert_to_tensor(emb.astype(np.float32))
    with corenn.GradientTape() as tape:
        tape.watch(e)
        value = loss(LABELS, e)
    got = np.asarray(tape.gradient(value, e))

    def f(v):
        per = _circle(LABELS, v, gamma=4.0, margin=0.25)
        return per.sum() / (per > 0).sum()
    np.testing.assert_allclose(got, numerical_grad(f, emb, eps=1e-6), rtol=1e-3, atol=1e-5)


def _gce(labels, probs, q):
    p = np.asarray(probs, np.float64)[np.arange(len(labels)), labels]
    return (1 - p ** q) / q


@pytest.mark.parametrize("q", [0.3, 0.7])
def test_generalized_cross_entropy_matches_numpy_and_finite_differences(q):
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(4), 6)
    labels = rng.integers(0, 4, 6)
    per = keras.losses.categorical_generalized_cross_entropy(labels, probs.astype(np.float32), q=q)
    np.testing.assert_allclose(np.asarray(per), _gce(labels, probs, q), rtol=1e-5)
    loss = keras.losses.CategoricalGeneralizedCrossEntropy(q=q)
    weights = rng.uniform(0.5, 2, 6)
    np.testing.assert_allclose(float(loss(labels, probs, sample_weight=weights)),
                               (_gce(labels, probs, q) * weights).mean(), rtol=1e-5)
    p = keras.ops.convert_to_tensor(probs.astype(np.float32))
    with corenn.GradientTape() as tape:
        tape.watch(p)
        value = loss(labels, p)
    np.testing.assert_allclose(np.asarray(tape.gradient(value, p)),
                               numerical_grad(lambda v: _gce(labels, v, q).mean(), probs), rtol=1e-3, atol=1e-6)
    assert keras.losses.get("CategoricalGeneralizedCrossEntropy").q == 0.5
    assert keras.losses._to_loss("categorical_generalized_cross_entropy").q == 0.5   # compile's default
    assert keras.losses.CategoricalGeneralizedCrossEntropy.from_config(loss.get_config()).q == q


def test_models_train_with_the_new_losses():
    rng = np.random.default_rng(4)
    centres = _unit_rows(rng, 3, 6) * 3
    labels = rng.integers(0, 3, 96)
    x = (centres[labels] + rng.normal(0, 0.6, (96, 6))).astype(np.float32)
    embed = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8),
                              keras.layers.UnitNormalization()])
    embed.compile(keras.optimizers.Adam(0.01), keras.losses.Circle(gamma=16.0))
    before = embed.evaluate(x, labels, batch_size=32, verbose=0)
    embed.fit(x, labels, epochs=10, batch_size=32, verbose=0)
    assert embed.evaluate(x, labels, batch_size=32, verbose=0) < before
    clf = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="softmax")])
    clf.compile(keras.optimizers.Adam(0.05), keras.losses.CategoricalGeneralizedCrossEntropy(0.5),
                metrics=["sparse_categorical_accuracy"])
    clf.fit(x, labels, epochs=20, batch_size=32, verbose=0)
    assert clf.evaluate(x, labels, verbose=0)[1] > 0.8


def test_loss_errors_name_what_is_wrong():
    with pytest.raises(ValueError, match=r"q must be in the interval \(0, 1\)"):
        keras.losses.CategoricalGeneralizedCrossEntropy(q=1.0)
    with pytest.raises(ValueError, match="labels must be in"):
        keras.losses.categorical_generalized_cross_entropy(np.array([0, 4]), np.full((2, 4), 0.25), q=0.5)
    with pytest.raises(ValueError, match="embeddings"):
        keras.losses.circle(np.array([0, 1]), np.ones((2, 3, 1), np.float32))


def test_metrics_module_loss_functions_and_serialization():
    y = np.array([[0.0, 1.0], [1.0, 0.0]])
    p = np.array([[0.2, 0.7], [0.6, 0.3]])
    e = np.clip(p, 1e-7, 1 - 1e-7)
    # binary focal: -(y (1-p)^g log p + (1-y) p^g log(1-p)), averaged over the last axis
    bfc = -(y * (1 - e) ** 2 * np.log(e) + (1 - y) * e ** 2 * np.log(1 - e)).mean(-1)
    np.testing.assert_allclose(np.asarray(keras.metrics.binary_focal_crossentropy(y, p, gamma=2.0)), bfc, rtol=1e-5)
    q = e / e.sum(-1, keepdims=True)
    cfc = -(0.25 * (1 - q) ** 2 * y * np.log(q)).sum(-1)
    np.testing.assert_allclose(np.asarray(keras.metrics.categorical_focal_crossentropy(y, p)), cfc, rtol=1e-5)
    err = np.abs(y - p)
    hub = np.where(err <= 0.5, 0.5 * err ** 2, 0.5 * (err - 0.25)).mean(-1)
    np.testing.assert_allclose(np.asarray(keras.metrics.huber(y, p, delta=0.5)), hub, rtol=1e-5)
    f1 = keras.metrics.F1Score(threshold=0.5)
    spec = keras.metrics.serialize(f1)
    assert spec["class_name"] == "F1Score" and spec["config"]["threshold"] == 0.5
    again = keras.metrics.deserialize(spec)
    assert isinstance(again, keras.metrics.F1Score) and again.get_config() == f1.get_config()
    assert isinstance(keras.metrics.deserialize("mae"), keras.metrics.MeanAbsoluteError)
