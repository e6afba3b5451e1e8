"""The Keras losses and metrics added with issue 13, through the public API: loss classes and
functions (values, configs, reductions, GradientTape), compile/fit/evaluate and save/load with each
loss, the stateful metrics (AUC, Precision, Recall, top-k) over several batches against NumPy
references, metric and initializer function forms, and sequence outputs (N, T, C) with accuracy
and (N, T) sparse labels."""
import re
from pathlib import Path

import numpy as np
import pytest

import corenn
from corenn import initializers, layers, losses, metrics, ops
from corenn.models import load_model
from reference import (KERAS_EXTRA_LOSSES, auc_from_counts, auc_thresholds, confusion_counts,
                       extra_loss, extra_loss_grad, extra_loss_per_sample, roc_auc_exact,
                       top_k_hits)

CLASSES = {
    "kl_divergence": losses.KLDivergence, "cosine_similarity": losses.CosineSimilarity,
    "hinge": losses.Hinge, "squared_hinge": losses.SquaredHinge,
    "categorical_hinge": losses.CategoricalHinge, "log_cosh": losses.LogCosh,
    "poisson": losses.Poisson, "mean_squared_logarithmic_error": losses.MeanSquaredLogarithmicError,
    "mean_absolute_percentage_error": losses.MeanAbsolutePercentageError,
}
FUNCTIONS = {
    "kl_divergence": ["kl_divergence", "kld", "KLD"], "cosine_similarity": ["cosine_similarity"],
    "hinge": ["hinge"], "squared_hinge": ["squared_hinge"], "categorical_hinge": ["categorical_hinge"],
    "log_cosh": ["log_cosh", "logcosh"], "poisson": ["poisson"],
    "mean_squared_logarithmic_error": ["mean_squared_logarithmic_error", "msle", "MSLE"],
    "mean_absolute_percentage_error": ["mean_absolute_percentage_error", "mape", "MAPE"],
}


def _t(a):
    return corenn.convert_to_tensor(np.asarray(a, np.float32))


def _problem(kind, shape, rng):
    if kind == "kl_divergence":
        return rng.uniform(0.05, 0.95, shape).astype(np.float32), rng.uniform(0, 1, shape).astype(np.float32)
    if kind in ("hinge", "squared_hinge"):
        return rng.standard_normal(shape).astype(np.float32), rng.integers(0, 2, shape).astype(np.float32)
    if kind == "categorical_hinge":
        return (rng.standard_normal(shape).astype(np.float32),
                np.eye(shape[-1], dtype=np.float32)[rng.integers(0, shape[-1], shape[:-1])])
    if kind in ("poisson", "mean_squared_logarithmic_error"):
        return rng.uniform(0.1, 3, shape).astype(np.float32), rng.poisson(1.5, shape).astype(np.float32)
    if kind == "mean_absolute_percentage_error":
        t = rng.uniform(0.5, 2, shape) * rng.choice([-1, 1], shape)
        return (t + 0.3 * rng.choice([-1, 1], shape)).astype(np.float32), t.astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)


# -- loss classes and functions ------------------------------------------------------------------

@pytest.mark.parametrize("kind", KERAS_EXTRA_LOSSES)
def test_loss_class_function_and_string_agree_with_reference(kind, rng):
    pred, true = _problem(kind, (6, 4), rng)
    want = extra_loss(kind, pred, true)
    cls = CLASSES[kind]
    loss = cls()
    assert loss.name == kind and loss.reduction == "sum_over_batch_size"
    assert float(loss(true, pred)) == pytest.approx(want, rel=1e-5, abs=1e-6)
    for name in FUNCTIONS[kind]:
        per_sample = np.asarray(getattr(losses, name)(true, pred))   # Keras 3: one value per sample
        assert per_sample.shape == (6,)
        assert float(per_sample.mean()) == pytest.approx(want, rel=1e-5, abs=1e-6)
        assert losses.get(name) is getattr(losses, FUNCTIONS[kind][0])   # Keras 3: the function
        assert type(losses._to_loss(name)) is cls                          # compile: the class
    assert type(losses.get(cls.__name__)) is cls
    assert type(losses._to_loss(getattr(losses, FUNCTIONS[kind][0]))) is cls
    # config round trip, with a non-default name and reduction
    custom = cls(reduction="sum", name="my_loss")
    config = custom.get_config()
    assert config["name"] == "my_loss" and config["reduction"] == "sum"
    again = losses.deserialize(losses.serialize(custom))
    assert type(again) is cls and again.get_config() == config
    assert float(again(true, pred)) == pytest.approx(want * 6, rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("kind", KERAS_EXTRA_LOSSES)
def test_loss_gradient_under_gradient_tape(kind, rng):
    pred, true = _problem(kind, (5, 3), rng)
    x = _t(pred)
    sw = (rng.random(5) + 0.5).astype(np.float32)
    with corenn.GradientTape() as tape:
        tape.watch(x)
        value = CLASSES[kind]()(true, x, sample_weight=sw)
    assert tuple(value.shape) == ()
    np.testing.assert_allclose(np.asarray(tape.gradient(value, x)), extra_loss_grad(kind, pred, true, sw),
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", ["poisson", "cosine_similarity", "categorical_hinge"])
def test_reduction_none_gives_per_sample_values_and_their_gradient(kind, rng):
    pred, true = _problem(kind, (2, 3, 4), rng)
    x = _t(pred)
    upstream = rng.standard_normal((2, 3)).astype(np.float32)
    with corenn.GradientTape() as tape:
        tape.watch(x)
        per = CLASSES[kind](reduction=None)(true, x)
        total = ops.sum(per * _t(upstream))
    np.testing.assert_allclose(np.asarray(per), extra_loss_per_sample(kind, pred, true), rtol=1e-5, atol=1e-6)
    # d sum_i u_i l_i / dp = rows * (the mean-reduced gradient weighted by u)
    want = extra_loss_grad(kind, pred, true, upstream.reshape(-1)) * 6
    np.testing.assert_allclose(np.asarray(tape.gradient(total, x)), want, rtol=1e-4, atol=1e-6)


def test_sequence_predictions_take_one_weight_per_sample(rng):
    pred, true = _problem("log_cosh", (3, 4, 2), rng)
    sw = np.array([1.0, 0.0, 2.0], np.float32)
    got = float(losses.LogCosh()(true, pred, sample_weight=sw))
    assert got == pytest.approx(extra_loss("log_cosh", pred, true, np.repeat(sw, 4)), rel=1e-5)


def test_bad_loss_arguments_raise():
    with pytest.raises(ValueError, match="reduction"):
        losses.Poisson(reduction="mean_of_squares")
    with pytest.raises(TypeError, match="axis"):   # (any int axis is supported: test_cosine_similarity_axis)
        losses.CosineSimilarity(axis="rows")
    with pytest.raises(ValueError, match="unknown loss"):
        losses.get("hinge_embedding")


def _regression_model(units, activation=None, seed=0):
    corenn.utils.set_random_seed(seed)
    return corenn.Sequential([layers.Input((3,)), layers.Dense(units, activation=activation)])


_ACTIVATION = {"kl_divergence": "softmax", "categorical_hinge": None, "poisson": "softplus",
               "mean_squared_logarithmic_error": "softplus"}


@pytest.mark.parametrize("kind", KERAS_EXTRA_LOSSES)
def test_compile_fit_evaluate_save_load_with_each_loss(kind, rng, tmp_path):
    x = rng.standard_normal((24, 3)).astype(np.float32)
    _, y = _problem(kind, (24, 4), rng)
    model = _regression_model(4, _ACTIVATION.get(kind))
    spec = kind if kind != "cosine_similarity" else losses.CosineSimilarity(name="cos")
    model.compile(optimizer="sgd", loss=spec)
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    pred = model.predict(x, verbose=0)
    want = extra_loss(kind, pred, y)
    assert model.evaluate(x, y, batch_size=24, verbose=0) == pytest.approx(want, rel=1e-4, abs=1e-5)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded._losses[0]) is CLASSES[kind]
    assert loaded.evaluate(x, y, batch_size=24, verbose=0) == pytest.approx(want, rel=1e-4, abs=1e-5)


def test_fit_reduces_each_new_loss(rng):
    """Gradients that point the right way: a few full-batch steps lower the loss."""
    x = rng.standard_normal((32, 3)).astype(np.float32)
    for kind in KERAS_EXTRA_LOSSES:
        _, y = _problem(kind, (32, 4), rng)
        model = _regression_model(4, _ACTIVATION.get(kind), seed=1)
        model.compile(optimizer=corenn.optimizers.Adam(0.05), loss=kind)
        h = model.fit(x, y, batch_size=32, epochs=8, verbose=0).history["loss"]
        assert h[-1] < h[0], kind


# -- stateful metrics --------------------------------------------------------------------------

def _batches(rng, n_batches=4, size=25, cols=1):
    scores = [rng.random((size, cols)).astype(np.float32) for _ in range(n_batches)]
    labels = [(rng.random((size, cols)) < 0.3 + 0.5 * s).astype(np.float32) for s in scores]
    return scores, labels


@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("summation", ["interpolation", "minoring", "majoring"])
def test_auc_over_batches_matches_numpy_reference(curve, summation, rng):
    scores, labels = _batches(rng)
    m = metrics.AUC(curve=curve, summation_method=summation)
    for s, l in zip(scores, labels):
        m.update_state(l, s)
    counts = confusion_counts(np.concatenate(scores), np.concatenate(labels), auc_thresholds(), soft_labels=True)
    assert m.result() == pytest.approx(auc_from_counts(counts, curve, summation), rel=1e-6, abs=1e-9)
    m.reset_state()
    assert m.result() == 0.0


def test_auc_roc_approaches_the_exact_rank_statistic(rng):
    scores, labels = _batches(rng, 8, 50)
    m = metrics.AUC(num_thresholds=1000)
    for s, l in zip(scores, labels):
        m(l, s)  # callable: update_state then result
    exact = roc_auc_exact(np.concatenate(scores), np.concatenate(labels))
    assert m.result() == pytest.approx(exact, abs=2e-3)
    assert 0.6 < exact < 1.0  # the data is informative, so the comparison means something


def test_auc_thresholds_from_logits_weights_and_config(rng):
    scores, labels = _batches(rng, 2, 30)
    thr = [0.7, 0.2, 0.5]
    m = metrics.AUC(thresholds=thr, curve="PR", summation_method="majoring")
    assert m.num_thresholds == 5
    m2 = metrics.AUC(from_logits=True)
    w = [(rng.random(30) + 0.5).astype(np.float32) for _ in range(2)]
    for s, l, sw in zip(scores, labels, w):
        m.update_state(l, s, sample_weight=sw)
        m2.update_state(l, np.log(s / (1 - s)))
    full_thr = np.float32([-1e-7, 0.2, 0.5, 0.7, 1 + 1e-7])
    counts = confusion_counts(np.concatenate(scores), np.concatenate(labels), full_thr, True, np.concatenate(w))
    assert m.result() == pytest.approx(auc_from_counts(counts, "PR", "majoring"), rel=1e-6)
    counts = confusion_counts(np.concatenate(scores), np.concatenate(labels), auc_thresholds(), True)
    assert m2.result() == pytest.approx(auc_from_counts(counts), rel=1e-4)
    config = m.get_config()
    assert config["thresholds"] == sorted(thr) and config["curve"] == "PR"
    again = metrics.AUC.from_config(config)
    assert again.thresholds == m.thresholds
    for bad in ({"curve": "XY"}, {"summation_method": "simpson"}, {"num_thresholds": 1}):
        with pytest.raises(ValueError):
            metrics.AUC(**bad)


@pytest.mark.parametrize("thresholds", [None, 0.3, [0.8, 0.1, 0.5]])
def test_precision_recall_over_batches(thresholds, rng):
    scores, labels = _batches(rng, 3, 20, cols=3)
    p, r = metrics.Precision(thresholds=thresholds), metrics.Recall(thresholds=thresholds)
    pc, rc = metrics.Precision(class_id=1), metrics.Recall(class_id=1)
    for s, l in zip(scores, labels):
        for m in (p, r, pc, rc):
            m.update_state(l, s)
    allp, alll = np.concatenate(scores), np.concatenate(labels)
    thr = [0.5] if thresholds is None else np.atleast_1d(thresholds)
    c = confusion_counts(allp, alll, np.float32(thr))
    want_p, want_r = c[:, 0] / (c[:, 0] + c[:, 1]), c[:, 0] / (c[:, 0] + c[:, 3])
    if np.ndim(thresholds) == 0:
        assert p.result() == pytest.approx(want_p[0]) and r.result() == pytest.approx(want_r[0])
    else:  # a list of results in the order the thresholds were given
        np.testing.assert_allclose(p.result(), want_p, rtol=1e-7)
        np.testing.assert_allclose(r.result(), want_r, rtol=1e-7)
    c1 = confusion_counts(allp[:, 1], alll[:, 1], np.float32([0.5]))
    assert pc.result() == pytest.approx(c1[0, 0] / (c1[0, 0] + c1[0, 1]))
    assert rc.result() == pytest.approx(c1[0, 0] / (c1[0, 0] + c1[0, 3]))
    p.reset_states()
    # a Tensor as Keras 3's: a scalar for one threshold, one value per threshold for several
    assert np.shape(p.result()) == (() if len(thr) == 1 else (len(thr),)) and not np.asarray(p.result()).any()


def test_top_k_metrics_over_batches_with_sequences(rng):
    m, ms = metrics.TopKCategoricalAccuracy(k=2), metrics.SparseTopKCategoricalAccuracy(k=2)
    hits, total = 0, 0
    for _ in range(3):
        pred = rng.random((4, 3, 6)).astype(np.float32)
        labels = rng.integers(0, 6, (4, 3))
        m.update_state(np.eye(6, dtype=np.float32)[labels], pred)
        ms.update_state(labels, pred)
        hits += top_k_hits(pred, labels, 2).sum()
        total += labels.size
    assert m.result() == pytest.approx(hits / total)
    assert ms.result() == pytest.approx(hits / total)
    assert metrics.get("top_k_categorical_accuracy").k == 5
    assert metrics.SparseTopKCategoricalAccuracy.from_config(ms.get_config()).k == 2


def test_metric_objects_are_callable_and_reset_states():
    mean = metrics.Mean()
    assert mean([1.0, 2.0, 3.0]) == pytest.approx(2.0)
    acc = metrics.SparseCategoricalAccuracy()
    assert acc(np.array([1, 0]), np.array([[0.1, 0.9], [0.2, 0.8]], np.float32)) == pytest.approx(0.5)
    for m in (mean, acc):
        m.reset_states()
        assert m.result() == 0.0


def test_compile_with_confusion_and_top_k_metrics(rng):
    """Metrics summed across batches in evaluate equal the reference over the whole data set."""
    x = rng.standard_normal((60, 4)).astype(np.float32)
    y = (x[:, :1] + 0.5 * rng.standard_normal((60, 1)) > 0).astype(np.float32)
    corenn.utils.set_random_seed(3)
    model = corenn.Sequential([layers.Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy",
                  metrics=["AUC", "precision", "recall", metrics.AUC(curve="PR", name="pr_auc")])
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    logs = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    counts = confusion_counts(pred, y, auc_thresholds(), soft_labels=True)
    assert logs["AUC"] == pytest.approx(auc_from_counts(counts), rel=1e-6)
    assert logs["pr_auc"] == pytest.approx(auc_from_counts(counts, "PR"), rel=1e-6)
    c = confusion_counts(pred, y, np.float32([0.5]))[0]
    assert logs["precision"] == pytest.approx(c[0] / max(c[0] + c[1], 1e-300) if c[0] + c[1] else 0.0)
    assert logs["recall"] == pytest.approx(c[0] / (c[0] + c[3]))

    xc = rng.standard_normal((40, 4)).astype(np.float32)
    labels = rng.integers(0, 6, 40)
    clf = corenn.Sequential([layers.Input((4,)), layers.Dense(6, activation="softmax")])
    clf.compile("adam", "sparse_categorical_crossentropy",
                metrics=["sparse_top_k_categorical_accuracy", metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")])
    logs = clf.evaluate(xc, labels, batch_size=16, verbose=0, return_dict=True)
    pred = clf.predict(xc, verbose=0)
    assert logs["sparse_top_k_categorical_accuracy"] == pytest.approx(top_k_hits(pred, labels, 5).mean())
    assert logs["top2"] == pytest.approx(top_k_hits(pred, labels, 2).mean())


def test_compiled_model_with_new_metrics_saves_and_loads(rng, tmp_path):
    x = rng.standard_normal((20, 4)).astype(np.float32)
    y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 20)]
    model = corenn.Sequential([layers.Input((4,)), layers.Dense(5, activation="softmax")])
    model.compile("adam", "categorical_crossentropy",
                  metrics=[metrics.TopKCategoricalAccuracy(k=3), metrics.AUC(num_thresholds=50), "recall"])
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    model.save(tmp_path / "m.keras")
    after = load_model(tmp_path / "m.keras").evaluate(x, y, verbose=0, return_dict=True)
    assert after == pytest.approx(before)


# -- function forms ----------------------------------------------------------------------------

def test_metric_functions_return_per_sample_values(rng):
    pred = rng.random((4, 3, 5)).astype(np.float32)
    labels = rng.integers(0, 5, (4, 3))
    onehot = np.eye(5, dtype=np.float32)[labels]
    target = rng.random((4, 3, 5)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(metrics.sparse_categorical_accuracy(labels, pred)),
                                  pred.argmax(-1) == labels)
    np.testing.assert_array_equal(np.asarray(metrics.categorical_accuracy(onehot, pred)), pred.argmax(-1) == labels)
    np.testing.assert_array_equal(np.asarray(metrics.top_k_categorical_accuracy(onehot, pred, k=2)),
                                  top_k_hits(pred, labels, 2).reshape(4, 3))
    binary = (target > 0.5).astype(np.float32)
    np.testing.assert_allclose(np.asarray(metrics.binary_accuracy(binary, pred)),
                               ((pred > 0.5) == binary).mean(-1), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(metrics.accuracy(labels, labels[::-1])), (labels == labels[::-1]))
    for fn in (metrics.mae, metrics.mean_absolute_error):
        np.testing.assert_allclose(np.asarray(fn(target, pred)), np.abs(target - pred).mean(-1), rtol=1e-5)
    for fn in (metrics.mse, metrics.mean_squared_error):
        np.testing.assert_allclose(np.asarray(fn(target, pred)), ((target - pred) ** 2).mean(-1), rtol=1e-5)
    for name, kind in (("mape", "mean_absolute_percentage_error"), ("msle", "mean_squared_logarithmic_error"),
                       ("poisson", "poisson"), ("kl_divergence", "kl_divergence"), ("log_cosh", "log_cosh")):
        np.testing.assert_allclose(np.asarray(getattr(metrics, name)(target, pred)),
                                   extra_loss_per_sample(kind, pred, target), rtol=1e-5)


def test_metric_functions_in_compile(rng):
    x = rng.standard_normal((16, 3)).astype(np.float32)
    y = rng.standard_normal((16, 2)).astype(np.float32)
    model = corenn.Sequential([layers.Input((3,)), layers.Dense(2)])
    model.compile("sgd", "mse", metrics=[metrics.mae, metrics.mean_squared_error, "mape"])
    logs = model.evaluate(x, y, batch_size=5, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    assert logs["mean_absolute_error"] == pytest.approx(np.abs(pred - y).mean(), rel=1e-5)
    assert logs["mean_squared_error"] == pytest.approx(((pred - y) ** 2).mean(), rel=1e-5)
    assert logs["mape"] == pytest.approx(extra_loss("mean_absolute_percentage_error", pred, y), rel=1e-5)


def test_initializer_functions_are_the_keras_callables():
    pairs = [("glorot_uniform", initializers.GlorotUniform), ("glorot_normal", initializers.GlorotNormal),
             ("he_normal", initializers.HeNormal), ("he_uniform", initializers.HeUniform),
             ("lecun_normal", initializers.LecunNormal), ("lecun_uniform", initializers.LecunUniform),
             ("orthogonal", initializers.Orthogonal), ("random_normal", initializers.RandomNormal),
             ("random_uniform", initializers.RandomUniform), ("truncated_normal", initializers.TruncatedNormal)]
    for name, cls in pairs:
        init = getattr(initializers, name)(seed=1)
        assert isinstance(init, cls)
        np.testing.assert_array_equal(init((4, 3)), cls(seed=1)((4, 3)))
    np.testing.assert_array_equal(initializers.zeros()((2, 2)), np.zeros((2, 2)))
    np.testing.assert_array_equal(initializers.ones()((3,)), np.ones(3))
    q = initializers.orthogonal(seed=2)((4, 4))
    np.testing.assert_allclose(q @ q.T, np.eye(4), atol=1e-5)
    dense = layers.Dense(3, kernel_initializer=initializers.he_normal(seed=3))
    assert dense.get_config()["kernel_initializer"]["class_name"] == "HeNormal"


def test_readme_tables_name_things_that_exist():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for module, obj in (("corenn.losses", losses), ("corenn.metrics", metrics)):
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{module}` |"))
        names = re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", row.split("|")[2])
        names = [n for n in names if n not in ("from_logits", "reduction", "None", "update_state", "result",
                                               "reset_state", "sum_over_batch_size", "sum", "accuracy")
                 or hasattr(obj, n)]
        assert len(names) > 10
        for n in names:
            assert hasattr(obj, n), f"README names {module}.{n}, which does not exist"
    row = next(line for line in readme.splitlines() if "`corenn.initializers`" in line and line.startswith("|"))
    for n in re.findall(r"`([A-Z][A-Za-z]+|[a-z]+_[a-z_]+)`", row.split("|")[2]):
        if n[0].isupper() or n in ("glorot_uniform", "he_normal"):
            # the row names corenn.constraints' classes too (MaxNorm, NonNeg, ...)
            from corenn import constraints
            assert hasattr(initializers, n) or hasattr(constraints, n), n


# -- sequence outputs: accuracy per time step, (N, T) sparse labels ------------------------------------

def _sequence_data(rng, n=24, steps=5, features=3, classes=4):
    x = rng.standard_normal((n, steps, features)).astype(np.float32)
    labels = (x[..., 0] > 0).astype(np.int64) + 2 * (x[..., 1] > 0).astype(np.int64)  # learnable
    return x, labels, np.eye(classes, dtype=np.float32)[labels]


def _seq_model(kind):
    corenn.utils.set_random_seed(5)
    if kind == "lstm":
        return corenn.Sequential([layers.Input((5, 3)), layers.LSTM(6, return_sequences=True),
                                  layers.TimeDistributed(layers.Dense(4, activation="softmax"))])
    return corenn.Sequential([layers.Input((5, 3)), layers.Dense(4, activation="softmax")])


@pytest.mark.parametrize("arch", ["lstm", "dense3d"])
def test_accuracy_of_sequence_outputs_is_per_time_step(arch, rng):
    x, labels, onehot = _sequence_data(rng)
    model = _seq_model(arch)
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, onehot, batch_size=8, epochs=2, verbose=0)
    assert all(0.0 <= a <= 1.0 for a in history.history["accuracy"])
    logs = model.evaluate(x, onehot, batch_size=8, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    assert logs["accuracy"] == pytest.approx((pred.argmax(-1) == labels).mean())


@pytest.mark.parametrize("arch", ["lstm", "dense3d"])
def test_sparse_labels_per_time_step_train(arch, rng):
    x, labels, onehot = _sequence_data(rng)
    model = _seq_model(arch)
    model.compile(corenn.optimizers.Adam(0.05), "sparse_categorical_crossentropy", metrics=["accuracy"])
    h = model.fit(x, labels, batch_size=8, epochs=6, verbose=0).history
    assert h["loss"][-1] < h["loss"][0]
    assert all(0.0 <= a <= 1.0 for a in h["accuracy"])
    logs = model.evaluate(x, labels, batch_size=7, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0).astype(np.float64)
    want_loss = -np.log(np.clip(np.take_along_axis(pred / pred.sum(-1, keepdims=True), labels[..., None], -1),
                                1e-7, 1 - 1e-7)).mean()
    assert logs["loss"] == pytest.approx(want_loss, rel=1e-4)
    assert logs["accuracy"] == pytest.approx((pred.argmax(-1) == labels).mean())
    # labels with a trailing 1 and per-sample weights are taken too
    model.fit(x, labels[..., None], sample_weight=np.linspace(0.5, 1.5, len(x)), batch_size=8, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"\(n, 5\)"):
        model.fit(x, labels[:, :4], epochs=1, verbose=0)


@pytest.mark.parametrize("loss_cls,activation", [(losses.CategoricalCrossentropy, "softmax"),
                                                 (losses.Poisson, "softplus")])
def test_sum_reduction_in_fit_scales_the_gradient_by_the_batch_size(loss_cls, activation, rng):
    """reduction='sum' trains like the mean with an N times larger learning rate, also when the
    softmax output and the cross-entropy run as one fused kernel."""
    x = rng.standard_normal((8, 3)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 8)]
    weights = []
    for reduction, lr in (("sum", 0.01), ("sum_over_batch_size", 0.08)):
        model = _regression_model(4, activation, seed=4)
        model.compile(corenn.optimizers.SGD(lr), loss_cls(reduction=reduction))
        value = model.evaluate(x, y, batch_size=8, verbose=0)
        model.train_on_batch(x, y)
        weights.append((value, model.get_weights()))
    (sum_value, w_sum), (mean_value, w_mean) = weights
    assert sum_value == pytest.approx(8 * mean_value, rel=1e-5)
    for a, b in zip(w_sum, w_mean):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_metric_and_loss_functions_in_a_saved_model(rng, tmp_path):
    x = rng.random((10, 3)).astype(np.float32)
    y = rng.random((10, 2)).astype(np.float32)
    model = corenn.Sequential([layers.Input((3,)), layers.Dense(2, activation="softplus")])
    model.compile("sgd", losses.poisson, metrics=[metrics.mae, metrics.log_cosh, "AUC"])
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(before) == {"loss", "mean_absolute_error", "log_cosh", "AUC"}
    model.save(tmp_path / "f.keras")
    loaded = load_model(tmp_path / "f.keras")
    assert type(loaded._losses[0]) is losses.Poisson
    assert loaded.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(before)


def test_accuracy_metrics_take_sample_weights(rng):
    pred = rng.random((6, 2, 4)).astype(np.float32)
    labels = rng.integers(0, 4, (6, 2))
    w = rng.random(6).astype(np.float32)
    wr = np.repeat(w, 2).astype(np.float64)
    hits = (pred.argmax(-1) == labels).reshape(-1)
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(labels, pred, sample_weight=w)
    m.update_state(labels, pred)  # unweighted batch: weight 1 per prediction
    assert m.result() == pytest.approx((hits @ wr + hits.sum()) / (wr.sum() + hits.size))
    top = metrics.SparseTopKCategoricalAccuracy(k=2)
    top.update_state(labels, pred, sample_weight=w)
    assert top.result() == pytest.approx(top_k_hits(pred, labels, 2) @ wr / wr.sum())
    b = metrics.BinaryAccuracy()
    yb = (rng.random(6) > 0.5).astype(np.float32)
    b.update_state(yb, pred[:, 0, 0], sample_weight=w)
    assert b.result() == pytest.approx(((pred[:, 0, 0] > 0.5) == yb) @ w / w.sum(), rel=1e-6)
    per_row = np.asarray(losses.cosine_similarity(pred, pred, axis=-1))   # Keras 3: per sample
    assert per_row.shape == pred.shape[:-1]
    np.testing.assert_allclose(per_row, -1.0, rtol=1e-6)


def test_binary_accuracy_mixing_weighted_and_unweighted_batches_counts_in_one_unit():
    """Keras: each sample's accuracy is the mean over its last axis, weighted by its sample
    weight (weight 1 without one). Unweighted batches used to count elements and weighted ones
    rows, so a mix of both came out wrong (0.556 where Keras gives 0.576 below)."""
    rng = np.random.default_rng(9)
    y = (rng.random((8, 3)) > 0.5).astype(np.float32)
    p = rng.random((8, 3)).astype(np.float32)
    w = rng.random(5).astype(np.float32)
    m = corenn.metrics.BinaryAccuracy(threshold=0.3)
    m.update_state(y, p)
    m.update_state(y[:5], p[:5], sample_weight=w)
    per_sample = ((p > 0.3) == (y > 0.5)).mean(-1)
    weights = np.concatenate([np.ones(8), w])
    want = (weights * np.concatenate([per_sample, per_sample[:5]])).sum() / weights.sum()
    np.testing.assert_allclose(float(m.result()), want, rtol=1e-6)


def test_sparse_top_k_from_sorted_ids_reads_ids_already_ranked():
    """Keras 3: from_sorted_ids=True takes y_pred as class ids sorted by score (a retrieval
    model's top-k output) and counts a sample when its label is among the first k."""
    m = corenn.metrics.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True)
    m.update_state(np.array([1, 3, 0]), np.array([[1, 2, 0], [0, 2, 3], [3, 0, 1]]))
    m.update_state(np.array([1, 3]), np.array([[1, 2, 0], [0, 3, 3]]), sample_weight=np.array([0.5, 2.0]))
    # hits 1, 0, 1 (weight 1 each), then 1, 1 (weights 0.5, 2)
    np.testing.assert_allclose(float(m.result()), (2 + 0.5 + 2.0) / (3 + 2.5))
    again = corenn.metrics.SparseTopKCategoricalAccuracy.from_config(m.get_config())
    assert again.from_sorted_ids and again.k == 2
