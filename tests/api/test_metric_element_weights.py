"""Confusion-based metrics (Precision, Recall, TruePositives, AUC with multi_label /
label_weights, PrecisionAtRecall) with one sample weight per prediction, (N, C) for (N, C)
predictions: Keras broadcasts sample_weight to y_pred's shape. Checked against NumPy and against
values Keras 3.15 (torch backend) gave for the same arrays."""
import numpy as np
import pytest

from corenn import keras

M = keras.metrics


def data():
    rng = np.random.default_rng(0)
    yb = rng.integers(0, 2, (40, 3)).astype("float32")
    pb = rng.uniform(0.01, 0.99, (40, 3)).astype("float32")
    # the draws the Keras run made between these arrays (the same generator stream)
    rng.integers(0, 4, 40), rng.dirichlet(np.ones(4), 40), rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    sw = rng.uniform(0, 2, 40).astype("float32")
    w = np.tile(sw[:, None], (1, 3)) * rng.uniform(0.5, 1.5, (40, 3)).astype("float32")
    return yb, pb, w


def result(metric, *args, **kwargs):
    metric.update_state(*args, **kwargs)
    return np.asarray(metric.result(), np.float64)


def test_precision_recall_true_positives_weigh_each_prediction():
    y, p, w = data()
    pos, hit = p > 0.5, y == 1
    np.testing.assert_allclose(result(M.Precision(), y, p, sample_weight=w), (w * pos * hit).sum() / (w * pos).sum(),
                               rtol=1e-5)
    np.testing.assert_allclose(result(M.Recall(thresholds=[0.3, 0.6]), y, p, sample_weight=w),
                               [(w * (p > t) * hit).sum() / (w * hit).sum() for t in (0.3, 0.6)], rtol=1e-5)
    np.testing.assert_allclose(result(M.TruePositives(), y, p, sample_weight=w), (w * pos * hit).sum(), rtol=1e-5)


@pytest.mark.parametrize("make, keras_value", [
    (lambda: M.AUC(), 0.4770943820476532),
    (lambda: M.AUC(multi_label=True), 0.46324434876441956),
    (lambda: M.AUC(label_weights=[0.2, 0.5, 1.0]), 0.5088921189308167),
    (lambda: M.PrecisionAtRecall(0.5), 0.5928748250007629),
])
def test_auc_and_at_metrics_match_keras_with_element_weights(make, keras_value):
    y, p, w = data()
    np.testing.assert_allclose(result(make(), y, p, sample_weight=w), keras_value, rtol=1e-4)


def test_per_row_weights_still_work_and_bad_shapes_are_named():
    y, p, w = data()
    rows = w[:, 0]
    np.testing.assert_allclose(result(M.Precision(), y, p, sample_weight=rows),
                               result(M.Precision(), y, p, sample_weight=np.tile(rows[:, None], (1, 3))), rtol=1e-6)
    with pytest.raises(ValueError, match="does not broadcast"):
        M.Precision().update_state(y, p, sample_weight=np.ones((40, 5), "float32"))


def test_binary_accuracy_weighs_each_prediction():
    y = np.array([[1, 0, 1], [0, 0, 1]], "float32")
    p = np.array([[0.9, 0.6, 0.2], [0.1, 0.3, 0.8]], "float32")
    w = np.array([[1, 2, 3], [4, 5, 6]], "float32")
    m = M.BinaryAccuracy()
    np.testing.assert_allclose(result(m, y, p, sample_weight=w), 16 / 21, rtol=1e-6)   # Keras 3.15: 0.7619048
    # then per-sample weights on the same metric (Keras 3.15: 0.7666667)
    np.testing.assert_allclose(result(m, y, p, sample_weight=np.array([1.0, 2.0])), 0.7666667, rtol=1e-6)
