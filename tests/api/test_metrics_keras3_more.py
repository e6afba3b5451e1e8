"""The Keras 3 metrics real scripts use beyond the basic ones (issue 13): sample-weighted accuracies
(Keras' weighted mean), R2Score, IoU / MeanIoU / BinaryIoU / OneHotIoU / OneHotMeanIoU,
PrecisionAtRecall / RecallAtPrecision / SensitivityAtSpecificity / SpecificityAtSensitivity,
Precision / Recall with top_k and class_id, AUC multi_label and label_weights, MeanMetricWrapper.
Each is checked against an independent float64 computation written here (loops over thresholds
and classes, no shared code with corenn.metrics), over several batches, and in compile / fit."""
import numpy as np
import pytest

from corenn import keras
from corenn.keras import layers, metrics


# -- independent float64 references ------------------------------------------------------------

def weighted_mean(values, w):
    values = np.asarray(values, np.float64)
    w = np.asarray(w, np.float64)
    w = w.reshape(w.shape + (1,) * (values.ndim - w.ndim))
    w = np.broadcast_to(w, values.shape)
    return (values * w).sum() / w.sum()


def confusion_at(y_true, y_pred, thr, w=None):
    """(tp, fp, tn, fn) for y_pred > thr, labels > 0 positive, elementwise weights w."""
    y_true, y_pred = np.ravel(y_true).astype(np.float64), np.ravel(y_pred).astype(np.float64)
    w = np.ones_like(y_true) if w is None else np.ravel(w).astype(np.float64)
    pos, pred = y_true > 0, y_pred > thr
    return (w[pos & pred].sum(), w[~pos & pred].sum(), w[~pos & ~pred].sum(), w[pos & ~pred].sum())


def ratio(a, b):
    return a / b if b else 0.0


def iou_reference(t, p, n, targets, w=None):
    t, p = np.ravel(t), np.ravel(p)
    w = np.ones(t.size) if w is None else np.ravel(np.asarray(w, np.float64))
    cm = np.zeros((n, n))
    for ti, pi, wi in zip(t, p, w):
        cm[int(ti), int(pi)] += wi
    ious, valid = [], 0
    for c in targets:
        inter = cm[c, c]
        union = cm[c, :].sum() + cm[:, c].sum() - inter
        ious.append(inter / (union + 1e-7))
        valid += union > 1e-9
    return sum(ious) / (valid + 1e-7)


def r2_reference(y, p, w=None, aggregation="uniform_average", regressors=0):
    y = np.asarray(y, np.float64).reshape(len(y), -1)
    p = np.asarray(p, np.float64).reshape(len(p), -1)
    w = np.ones_like(y) if w is None else np.broadcast_to(np.asarray(w, np.float64).reshape(len(y), -1), y.shape)
    scores, totals = [], []
    for j in range(y.shape[1]):
        mean = (w[:, j] * y[:, j]).sum() / w[:, j].sum()
        total = (w[:, j] * (y[:, j] - mean) ** 2).sum()
        scores.append(1.0 - (w[:, j] * (y[:, j] - p[:, j]) ** 2).sum() / total)
        totals.append(total)
    scores, totals = np.array(scores), np.array(totals)
    r2 = scores.mean() if aggregation == "uniform_average" else (scores * totals).sum() / totals.sum()
    if regressors:
        n = y.size
        r2 = 1.0 - (1.0 - r2) * (n - 1) / (n - regressors - 1)
    return r2


def roc_auc_reference(y_true, y_pred, w=None, num_thresholds=200):
    thresholds = [-1e-7] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1 + 1e-7]
    tpr, fpr = [], []
    for thr in thresholds:
        tp, fp, tn, fn = confusion_at(y_true, y_pred, np.float32(thr), w)
        tpr.append(ratio(tp, tp + fn))
        fpr.append(ratio(fp, fp + tn))
    return sum((fpr[i] - fpr[i + 1]) * (tpr[i] + tpr[i + 1]) / 2 for i in range(len(thresholds) - 1))


# -- weighted accuracies -------------------------------------------------------------------------

def test_accuracies_with_sample_weight_are_the_keras_weighted_mean(rng):
    y = rng.integers(0, 4, 40)
    p = rng.random((40, 4)).astype(np.float32)
    w = rng.random(40)
    hits = (p.argmax(1) == y).astype(np.float64)
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(y[:25], p[:25], sample_weight=w[:25])
    m.update_state(y[25:], p[25:], sample_weight=w[25:])
    assert abs(float(m.result()) - weighted_mean(hits, w)) < 1e-6
    c = metrics.CategoricalAccuracy()
    c.update_state(np.eye(4)[y], p, sample_weight=w)
    assert abs(float(c.result()) - weighted_mean(hits, w)) < 1e-6
    b = metrics.BinaryAccuracy(threshold=0.6)
    yb = rng.integers(0, 2, (40, 3))
    b.update_state(yb, p[:, :3], sample_weight=w)
    assert abs(float(b.result()) - weighted_mean((p[:, :3] > 0.6) == (yb > 0.5), w)) < 1e-6
    a = metrics.Accuracy()
    yt, yp = rng.integers(0, 3, (40, 5)), rng.integers(0, 3, (40, 5))
    a.update_state(yt, yp, sample_weight=w)
    assert abs(float(a.result()) - weighted_mean(yt == yp, w)) < 1e-7   # result() is float32, as Keras'
    a.update_state(yt, yp, sample_weight=w[:, None] * np.ones(5))   # per-element weights
    assert abs(float(a.result()) - weighted_mean(np.concatenate([yt == yp] * 2), np.concatenate([w] * 2))) < 1e-7
    mean = metrics.Mean()
    mean.update_state(p, sample_weight=w)   # (N,) weights on (N, C) values: per sample, not per column
    assert abs(float(mean.result()) - weighted_mean(p, w)) < 1e-6


def test_sequence_outputs_with_sample_weight(rng):
    y = rng.integers(0, 3, (6, 5))
    p = rng.random((6, 5, 3)).astype(np.float32)
    w = rng.random(6)
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(y, p, sample_weight=w)
    assert abs(float(m.result()) - weighted_mean(p.argmax(-1) == y, w)) < 1e-6


# -- R2Score ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("aggregation", ["uniform_average", "variance_weighted_average"])
@pytest.mark.parametrize("weighted", [False, True])
def test_r2_score(rng, aggregation, weighted):
    y = rng.standard_normal((50, 3)) * [1.0, 3.0, 0.5]
    p = y + rng.standard_normal((50, 3)) * 0.7
    w = rng.random(50) if weighted else None
    m = metrics.R2Score(class_aggregation=aggregation)
    for part in (slice(0, 20), slice(20, 50)):
        m.update_state(y[part], p[part], sample_weight=None if w is None else w[part])
    assert abs(float(m.result()) - r2_reference(y, p, w, aggregation)) < 1e-7


def test_r2_score_one_column_raw_values_and_adjusted(rng):
    y = rng.standard_normal(30)
    p = y * 0.8 + 0.1
    m = metrics.R2Score(num_regressors=3)
    m.update_state(y, p)
    assert abs(float(m.result()) - r2_reference(y, p, regressors=3)) < 1e-7
    raw = metrics.R2Score(class_aggregation=None)
    y2 = rng.standard_normal((30, 2))
    raw.update_state(y2, y2 * [0.5, 0.9])
    want = [r2_reference(y2[:, j], y2[:, j] * s) for j, s in enumerate([0.5, 0.9])]
    np.testing.assert_allclose(raw.result(), want, rtol=1e-6)
    assert metrics.R2Score().result() == 0.0
    with pytest.raises(ValueError, match="R2Score.*class_aggregation"):
        metrics.R2Score(class_aggregation="median")
    with pytest.raises(ValueError, match="R2Score.*outputs"):
        raw.update_state(y2[:, :1], y2[:, :1])


def test_r2_score_in_fit_regression(rng):
    keras.utils.set_random_seed(1)   # initial weights independent of earlier tests
    x = rng.standard_normal((128, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32))[:, None]
    model = keras.Sequential([keras.Input((4,)), layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.1), "mse", metrics=[metrics.R2Score()])
    hist = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert hist.history["r2_score"][-1] > 0.95 > hist.history["r2_score"][0]
    got = model.evaluate(x, y, verbose=0, return_dict=True)["r2_score"]
    assert abs(got - r2_reference(y, model.predict(x, verbose=0))) < 1e-4


# -- IoU ------------------------------------------------------------------------------------------

def test_iou_family_against_the_reference(rng):
    n = 4
    t = rng.integers(0, n, (3, 8, 8))
    scores = rng.random((3, 8, 8, n)).astype(np.float32)
    scores[..., 0] += (t == 0) * 0.8   # class 0 mostly right, the others by chance
    p = scores.argmax(-1)
    w = rng.random(3)
    pixel_w = np.repeat(w, 64)
    iou = metrics.IoU(num_classes=n, target_class_ids=[0, 2])
    iou.update_state(t, p)
    assert abs(iou.result() - iou_reference(t, p, n, [0, 2])) < 1e-7
    mean = metrics.MeanIoU(num_classes=n, sparse_y_pred=False)
    mean.update_state(t[:2], scores[:2], sample_weight=w[:2])
    mean.update_state(t[2:], scores[2:], sample_weight=w[2:])
    assert abs(mean.result() - iou_reference(t, p, n, range(n), pixel_w)) < 1e-7
    onehot = metrics.OneHotMeanIoU(num_classes=n)
    onehot.update_state(np.eye(n)[t], scores)
    assert abs(onehot.result() - iou_reference(t, p, n, range(n))) < 1e-7
    one = metrics.OneHotIoU(num_classes=n, target_class_ids=[1])
    one.update_state(np.eye(n)[t], scores)
    assert abs(one.result() - iou_reference(t, p, n, [1])) < 1e-7
    ignored = metrics.MeanIoU(num_classes=n, ignore_class=3)
    ignored.update_state(t, p)
    keep = t != 3
    assert abs(ignored.result() - iou_reference(t[keep], p[keep], n, range(n))) < 1e-7


def test_binary_iou_and_keras_documented_values():
    b = metrics.BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
    b.update_state([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7], sample_weight=[0.2, 0.3, 0.4, 0.1])
    # cm [[0.2, 0.4], [0.3, 0.1]]: iou 0.2 / 0.9 and 0.1 / 0.8
    assert abs(b.result() - (0.2 / 0.9 + 0.1 / 0.8) / 2) < 1e-6
    b2 = metrics.BinaryIoU(target_class_ids=[1], threshold=0.5)
    b2.update_state([0, 1, 1, 1], [0.5, 0.5, 0.49, 0.9])   # >= threshold is class 1
    assert abs(b2.result() - 2 / 4) < 1e-6
    m = metrics.MeanIoU(num_classes=2)
    m.update_state([0, 0, 1, 1], [0, 1, 0, 1], sample_weight=[0.3, 0.3, 0.3, 0.1])
    assert abs(m.result() - (0.3 / 0.9 + 0.1 / 0.7) / 2) < 1e-6   # Keras documents 0.23809525


def test_iou_errors_and_config():
    with pytest.raises(ValueError, match="IoU.*target_class_ids"):
        metrics.IoU(num_classes=3, target_class_ids=[3])
    with pytest.raises(ValueError, match="MeanIoU.*outside"):
        metrics.MeanIoU(num_classes=2).update_state([0, 2], [0, 1])
    m = metrics.OneHotIoU(num_classes=5, target_class_ids=[1, 2], ignore_class=0, name="iou12")
    again = metrics.get({"class_name": "OneHotIoU", "config": m.get_config()})
    assert (again.num_classes, again.target_class_ids, again.ignore_class, again.name) == (5, [1, 2], 0, "iou12")


def test_mean_iou_in_a_segmentation_fit(rng):
    keras.backend.clear_session()   # the metric's default name unnumbered (Keras numbers repeats)
    keras.utils.set_random_seed(1)   # initial weights independent of earlier tests
    x = rng.random((32, 8, 8, 1)).astype(np.float32)
    y = (x[..., 0] > 0.5).astype(np.int64)
    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(8, 1, activation="relu"),
                              layers.Conv2D(2, 1, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy",
                  metrics=[metrics.MeanIoU(num_classes=2, sparse_y_pred=False)])
    hist = model.fit(x, y, epochs=10, batch_size=8, verbose=0)
    assert hist.history["mean_io_u"][-1] > 0.8
    pred = model.predict(x, verbose=0).argmax(-1)
    got = model.evaluate(x, y, verbose=0, return_dict=True)["mean_io_u"]
    assert abs(got - iou_reference(y, pred, 2, [0, 1])) < 1e-5


# -- operating points -----------------------------------------------------------------------------

def _at_reference(y_true, y_pred, value, constrained, dependent, n=200, w=None):
    thresholds = [0.0] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1.0]
    best, found = 0.0, False
    for thr in thresholds:
        tp, fp, tn, fn = confusion_at(y_true, y_pred, np.float32(thr), w)
        rates = {"recall": ratio(tp, tp + fn), "precision": ratio(tp, tp + fp), "specificity": ratio(tn, tn + fp)}
        if rates[constrained] >= value:
            best, found = max(best, rates[dependent]), True
    return best if found else 0.0


@pytest.mark.parametrize("cls,value,constrained,dependent", [
    (metrics.PrecisionAtRecall, 0.7, "recall", "precision"),
    (metrics.RecallAtPrecision, 0.8, "precision", "recall"),
    (metrics.SensitivityAtSpecificity, 0.6, "specificity", "recall"),
    (metrics.SpecificityAtSensitivity, 0.9, "recall", "specificity"),
])
def test_operating_point_metrics(rng, cls, value, constrained, dependent):
    y = rng.integers(0, 2, 300)
    p = np.clip(y * 0.35 + rng.random(300) * 0.65, 0, 1).astype(np.float32)
    w = rng.random(300)
    m = cls(value)
    m.update_state(y[:100], p[:100], sample_weight=w[:100])
    m.update_state(y[100:], p[100:], sample_weight=w[100:])
    want = _at_reference(y, p, value, constrained, dependent, w=w)
    assert 0.0 < want and abs(m.result() - want) < 1e-6
    few = cls(value, num_thresholds=7, class_id=1)
    y2 = np.stack([1 - y, y], 1)
    p2 = np.stack([1 - p, p], 1)
    few.update_state(y2, p2)
    assert abs(few.result() - _at_reference(y, p, value, constrained, dependent, n=7)) < 1e-9
    assert type(m).from_config(m.get_config()).get_config() == m.get_config()


def test_operating_point_bad_value():
    with pytest.raises(ValueError, match="PrecisionAtRecall.*recall"):
        metrics.PrecisionAtRecall(1.5)


# -- Precision / Recall top_k and class_id --------------------------------------------------------

def test_precision_recall_top_k_and_class_id(rng):
    y = (rng.random((60, 5)) < 0.3).astype(np.float32)
    p = rng.random((60, 5)).astype(np.float32)
    top2 = np.argsort(-p, axis=1, kind="stable")[:, :2]
    chosen = np.zeros_like(y, bool)
    np.put_along_axis(chosen, top2, True, axis=1)
    tp, fp, fn = (chosen & (y > 0)).sum(), (chosen & (y == 0)).sum(), (~chosen & (y > 0)).sum()
    prec, rec = metrics.Precision(top_k=2), metrics.Recall(top_k=2)
    for m in (prec, rec):
        m.update_state(y[:30], p[:30])
        m.update_state(y[30:], p[30:])
    assert abs(prec.result() - tp / (tp + fp)) < 1e-9
    assert abs(rec.result() - tp / (tp + fn)) < 1e-9
    # top_k with a threshold and class_id: the top-k filter first, then the column, then > threshold
    both = metrics.Precision(thresholds=0.4, top_k=2, class_id=3)
    both.update_state(y, p)
    col = chosen[:, 3] & (p[:, 3] > 0.4)
    assert abs(both.result() - ratio((col & (y[:, 3] > 0)).sum(), col.sum())) < 1e-9
    r = metrics.Recall(class_id=1)
    r.update_state(y, p)
    tp1, _, _, fn1 = confusion_at(y[:, 1], p[:, 1], 0.5)
    assert abs(r.result() - tp1 / (tp1 + fn1)) < 1e-9
    assert metrics.Precision.from_config(prec.get_config()).top_k == 2
    with pytest.raises(ValueError, match="Precision.*top_k"):
        metrics.Precision(top_k=0)


# -- AUC multi_label / label_weights ------------------------------------------------------------

def test_auc_multi_label_and_label_weights(rng):
    y = (rng.random((80, 3)) < 0.4).astype(np.float32)
    p = np.clip(y * 0.3 + rng.random((80, 3)) * 0.7, 0, 1).astype(np.float32)
    w = rng.random(80)
    per_label = [roc_auc_reference(y[:, j], p[:, j], w) for j in range(3)]
    m = metrics.AUC(multi_label=True)
    m.update_state(y[:50], p[:50], sample_weight=w[:50])
    m.update_state(y[50:], p[50:], sample_weight=w[50:])
    assert abs(m.result() - np.mean(per_label)) < 1e-6
    lw = np.array([0.2, 1.0, 3.0])
    weighted = metrics.AUC(multi_label=True, num_labels=3, label_weights=lw)
    weighted.update_state(y, p, sample_weight=w)
    assert abs(weighted.result() - (np.array(per_label) * lw).sum() / lw.sum()) < 1e-6
    pooled = metrics.AUC(label_weights=lw)   # not multi_label: one curve, elements weighted by label
    pooled.update_state(y, p, sample_weight=w)
    assert abs(pooled.result() - roc_auc_reference(y, p, w[:, None] * lw[None, :])) < 1e-6
    assert len({round(float(v), 6) for v in (m.result(), weighted.result(), pooled.result())}) == 3
    cfg = weighted.get_config()
    again = metrics.AUC.from_config(cfg)
    assert again.multi_label and again.num_labels == 3 and list(again.label_weights) == list(lw)
    with pytest.raises(ValueError, match="AUC.*label_weights"):
        metrics.AUC(label_weights=[-1.0])


def test_auc_multi_label_in_fit(rng):
    keras.utils.set_random_seed(1)   # initial weights independent of earlier tests
    x = rng.standard_normal((96, 6)).astype(np.float32)
    y = (x[:, :3] > 0).astype(np.float32)
    model = keras.Sequential([keras.Input((6,)), layers.Dense(3, activation="sigmoid")])
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy",
                  metrics=[metrics.AUC(multi_label=True, name="auc_ml")])
    hist = model.fit(x, y, epochs=10, batch_size=16, verbose=0)
    assert hist.history["auc_ml"][-1] > 0.95


def test_mean_metric_wrapper(rng):
    y = rng.random((20, 4)).astype(np.float32)
    p = rng.random((20, 4)).astype(np.float32)
    w = rng.random(20)
    m = metrics.MeanMetricWrapper(metrics.mean_absolute_error, name="mae_wrapped")
    m.update_state(y, p, sample_weight=w)
    assert abs(float(m.result()) - weighted_mean(np.abs(y - p).mean(1), w)) < 1e-6
    again = metrics.MeanMetricWrapper.from_config(m.get_config())
    assert again.name == "mae_wrapped"


def test_pearson_and_concordance_correlation(rng):
    yt = rng.standard_normal((30, 6))
    yp = yt * 0.7 + rng.standard_normal((30, 6)) * 0.5 + 0.3
    pearson = [np.corrcoef(yt[i], yp[i])[0, 1] for i in range(30)]

    def ccc(t, p):
        cov = ((t - t.mean()) * (p - p.mean())).mean()
        return 2 * cov / (t.var() + p.var() + (t.mean() - p.mean()) ** 2 + 1e-7)
    concordance = [ccc(yt[i], yp[i]) for i in range(30)]
    np.testing.assert_allclose(np.asarray(metrics.pearson_correlation(yt, yp)), pearson, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(metrics.concordance_correlation(yt, yp)), concordance, rtol=1e-5)
    p, c = metrics.PearsonCorrelation(), metrics.ConcordanceCorrelation()
    for m in (p, c):
        m.update_state(yt[:10], yp[:10])
        m.update_state(yt[10:], yp[10:])
    assert abs(p.result() - np.mean(pearson)) < 1e-6 and abs(c.result() - np.mean(concordance)) < 1e-6
    assert c.result() < p.result()   # the offset and the scale cost concordance, not correlation
    # over the batch axis instead: one value for the whole (N,) column
    col = metrics.PearsonCorrelation(axis=0)
    col.update_state(yt[:, 0], yp[:, 0])
    assert abs(col.result() - np.corrcoef(yt[:, 0], yp[:, 0])[0, 1]) < 1e-6
    # Keras' documented example
    k = metrics.ConcordanceCorrelation()
    k.update_state([[0, 1, 0.5], [1, 1, 0.2]], [[0.1, 0.9, 0.5], [1, 0.9, 0.2]])
    assert abs(k.result() - 0.9816320385426076) < 1e-6
    assert metrics.get({"class_name": "PearsonCorrelation", "config": col.get_config()}).axis == 0


def test_mean_metric_wrapper_of_an_unregistered_function_compiles_and_fits(rng):
    """Keras compiles a MeanMetricWrapper around any function; corenn copies compile's metrics
    per use, and a wrapper that cannot be saved is copied as an instance: its value in fit is the
    mean over the batches of the function, as a float64 replay gives."""
    def max_abs_error(y_true, y_pred):
        return keras.ops.max(keras.ops.abs(y_true - y_pred), axis=-1)

    x = rng.normal(size=(32, 3)).astype(np.float32)
    y = rng.normal(size=(32, 2)).astype(np.float32)
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    wrapper = metrics.MeanMetricWrapper(fn=max_abs_error, name="max_abs")
    model.compile(optimizer="sgd", loss="mse", metrics=[wrapper])
    result = model.evaluate(x, y, batch_size=8, return_dict=True, verbose=0)
    pred = model.predict(x, verbose=0).astype(np.float64)
    np.testing.assert_allclose(result["max_abs"], np.abs(pred - y).max(1).mean(), rtol=1e-5)
    history = model.fit(x, y, batch_size=8, epochs=2, validation_data=(x, y), verbose=0)
    assert "val_max_abs" in history.history and np.isfinite(history.history["max_abs"]).all()


def test_binary_accuracy_broadcasts_a_scalar_label(rng):
    """BinaryAccuracy().update_state(1.0, predictions) (the GAN examples' real/fake accuracies):
    the label broadcasts over the predictions, as in Keras; weighted and unweighted, against a
    float64 count."""
    pred = rng.uniform(size=(12, 1)).astype(np.float32)
    m = metrics.BinaryAccuracy()
    m.update_state(1.0, pred)
    m.update_state(np.zeros((1,), np.float32), pred)
    ref = ((pred > 0.5).sum() + (pred <= 0.5).sum()) / 24.0
    np.testing.assert_allclose(float(m.result()), ref, rtol=1e-6)
    w = rng.uniform(size=12).astype(np.float32)
    m = metrics.BinaryAccuracy()
    m.update_state(1.0, pred, sample_weight=w)
    np.testing.assert_allclose(float(m.result()), float(((pred[:, 0] > 0.5) * w).sum() / w.sum()), rtol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        metrics.BinaryAccuracy().update_state(np.ones(5, np.float32), pred)


def test_sparse_categorical_accuracy_counts_a_fractional_label_as_a_miss():
    """Keras compares the float label with the argmax cast to it (1.5 != 1), while the sparse
    cross-entropy truncates it; whole float labels count as their class. Values from Keras 3.15."""
    pred = np.array([[0.1, 0.8, 0.1]] * 3, np.float32)
    m = keras.metrics.SparseCategoricalAccuracy()
    m.update_state(np.array([1.5, 1.0, 2.0]), pred)
    assert float(m.result()) == pytest.approx(1 / 3)
    m.update_state(np.array([1.5, 1.0]), pred[:2], sample_weight=np.array([1.0, 3.0]))
    assert float(m.result()) == pytest.approx(4 / 7)
    per = keras.metrics.sparse_categorical_accuracy(np.array([1.5, 1.0, 1.0]), pred)
    np.testing.assert_array_equal(np.asarray(per), [0.0, 1.0, 1.0])
    whole = keras.metrics.SparseCategoricalAccuracy()
    whole.update_state(np.array([1.0, 2.0, 1.0]), pred)   # the kernel path, unchanged
    assert float(whole.result()) == pytest.approx(2 / 3)
