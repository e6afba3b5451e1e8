"""TruePositives / FalsePositives / TrueNegatives / FalseNegatives (counts from the float64
definition, weighted, at several thresholds, inside compile) and the Keras 3 per-sample loss
functions (keras.losses.mse(y, p) -> one value per sample, differentiable)."""
import re

import numpy as np
import pytest

import corenn as keras
from corenn import losses, metrics
import reference as ref

try:
    import torch
except ImportError:  # pragma: no cover - torch is optional
    torch = None


def _counts(y, p, thr, w=None):
    w = np.ones(len(y)) if w is None else np.asarray(w, np.float64)
    pos, lab = p > thr, y > 0
    return {"tp": w[pos & lab].sum(), "fp": w[pos & ~lab].sum(),
            "tn": w[~pos & ~lab].sum(), "fn": w[~pos & lab].sum()}


CLASSES = {"tp": metrics.TruePositives, "fp": metrics.FalsePositives,
           "tn": metrics.TrueNegatives, "fn": metrics.FalseNegatives}


@pytest.mark.parametrize("key", sorted(CLASSES))
def test_confusion_counts_match_the_definition(key, rng):
    y = (rng.random(50) > 0.6).astype(np.float32)
    p = rng.random(50).astype(np.float32)
    w = rng.random(50).astype(np.float32)
    m = CLASSES[key]()
    m.update_state(y[:30, None], p[:30, None])
    m.update_state(y[30:, None], p[30:, None])
    assert m.result() == _counts(y, p, 0.5)[key]
    m.reset_state()
    m.update_state(y, p, sample_weight=w)
    assert m.result() == pytest.approx(_counts(y, p, 0.5, w)[key], rel=1e-6)
    several = CLASSES[key](thresholds=[0.7, 0.2])
    several.update_state(y, p)
    np.testing.assert_array_equal(several.result().numpy(), [_counts(y, p, 0.7)[key], _counts(y, p, 0.2)[key]])
    assert CLASSES[key](thresholds=0.3).get_config()["thresholds"] == 0.3
    # Keras 3 numbers the default name of each further one (true_positives_1, ...)
    base = {"tp": "true_positives", "fp": "false_positives", "tn": "true_negatives", "fn": "false_negatives"}[key]
    assert re.fullmatch(base + r"(_\d+)?", metrics.get(metrics.__dict__[CLASSES[key].__name__]).name)


def test_confusion_counts_in_compile_sum_to_the_sample_count(rng):
    x = rng.normal(size=(120, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)[:, None]
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy",
                  metrics=[metrics.TruePositives(name="tp"), metrics.FalsePositives(name="fp"),
                           metrics.TrueNegatives(name="tn"), metrics.FalseNegatives(name="fn")])
    logs = model.evaluate(x, y, batch_size=50, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)[:, 0]
    want = _counts(y[:, 0], p, 0.5)
    assert {k: logs[k] for k in want} == want
    with pytest.raises(ValueError, match="thresholds"):
        metrics.TruePositives(thresholds=[])


LOSS_FUNCTIONS = ["mean_squared_error", "mean_absolute_error", "binary_crossentropy",
                  "categorical_crossentropy", "huber"]


@pytest.mark.parametrize("name", LOSS_FUNCTIONS)
def test_loss_functions_return_one_value_per_sample(name, rng):
    p = rng.uniform(0.05, 0.95, (5, 3)).astype(np.float32)
    y = (rng.random((5, 3)) > 0.5).astype(np.float32)
    if name == "categorical_crossentropy":
        p = p / p.sum(1, keepdims=True)
        y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 5)]
    got = getattr(losses, name)(y, p)
    assert isinstance(got, keras.Tensor) and got.shape == (5,)
    np.testing.assert_allclose(got.numpy(), ref.loss_per_sample(name, ref.f64(p), ref.f64(y)),
                               rtol=1e-5, atol=1e-6)
    # the class's batch mean is the mean of the per-sample values
    assert losses.get(name) is getattr(losses, name)
    assert float(losses._to_loss(name)(y, p)) == pytest.approx(float(np.mean(got.numpy())), rel=1e-5)


def test_loss_function_aliases_and_sparse_labels(rng):
    p = rng.uniform(0.05, 0.95, (4, 3)).astype(np.float32)
    p /= p.sum(1, keepdims=True)
    labels = np.array([0, 2, 1, 2])
    got = losses.sparse_categorical_crossentropy(labels, p).numpy()
    np.testing.assert_allclose(got, -np.log(ref.f64(p))[np.arange(4), labels], rtol=1e-5)
    y = rng.normal(size=(4, 1)).astype(np.float32)
    q = rng.normal(size=(4, 1)).astype(np.float32)
    np.testing.assert_allclose(losses.mse(y[:, 0], q).numpy(), ((y - q) ** 2)[:, 0], rtol=1e-5)
    np.testing.assert_allclose(losses.MAE(y, q).numpy(), np.abs(y - q)[:, 0], rtol=1e-5)
    if torch is not None:
        t = torch.nn.functional.mse_loss(torch.tensor(q, dtype=torch.float64),
                                         torch.tensor(y, dtype=torch.float64), reduction="none")
        np.testing.assert_allclose(losses.mse(y, q).numpy(), t.numpy()[:, 0], rtol=1e-5)


def test_loss_function_is_differentiable_per_sample(rng):
    y = rng.normal(size=(3, 2)).astype(np.float32)
    p = keras.Tensor.from_numpy(rng.normal(size=(3, 2)).astype(np.float32))
    weights = np.array([1.0, 2.0, 3.0], np.float32)
    with keras.GradientTape() as tape:
        tape.watch(p)
        loss = keras.ops.sum(keras.ops.multiply(losses.mse(y, p), weights))
    g = np.asarray(tape.gradient(loss, p))
    want = ref.numerical_grad(lambda a: (((a - ref.f64(y)) ** 2).mean(1) * weights).sum(), ref.f64(p))
    np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-6)
