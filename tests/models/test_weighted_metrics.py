"""compile(weighted_metrics=...) (Keras): those metrics get the batch's sample weights
(sample_weight, class_weight) in fit, evaluate and validation, the plain metrics do not; a name
used by both gets the 'weighted_' prefix; per-output dicts; saved and reloaded with the model.
Values are checked against weighted means computed here in float64."""
import numpy as np
import pytest

from corenn import keras
from corenn.keras import layers, metrics


def _data(rng, n=96):
    x = rng.standard_normal((n, 5)).astype(np.float32)
    y = ((x[:, 0] + 0.3 * rng.standard_normal(n)) > 0).astype(np.int64)
    return x, y


def _model():
    m = keras.Sequential([keras.Input((5,)), layers.Dense(2, activation="softmax")])
    m.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy", metrics=["accuracy"],
              weighted_metrics=["accuracy", metrics.SparseCategoricalCrossentropy(name="wce")])
    return m


def _weighted_ce(p, y, w):
    ce = -np.log(np.clip(p[np.arange(len(y)), y].astype(np.float64), 1e-7, 1.0))
    return (ce * w).sum() / w.sum()


def test_evaluate_weights_only_the_weighted_metrics(rng):
    x, y = _data(rng)
    w = rng.random(len(y)).astype(np.float32) * 3
    model = _model()
    model.fit(x, y, sample_weight=w, epochs=3, batch_size=16, verbose=0)
    logs = model.evaluate(x, y, sample_weight=w, batch_size=32, verbose=0, return_dict=True)
    p = model.predict(x, verbose=0)
    hits = (p.argmax(1) == y).astype(np.float64)
    assert abs(logs["accuracy"] - hits.mean()) < 1e-6
    assert abs(logs["weighted_accuracy"] - (hits * w).sum() / w.sum()) < 1e-6
    assert abs(logs["wce"] - _weighted_ce(p, y, w)) < 1e-5
    assert abs(logs["weighted_accuracy"] - logs["accuracy"]) > 1e-4   # the weights mattered
    # without sample weights the weighted metrics are the plain ones
    plain = model.evaluate(x, y, verbose=0, return_dict=True)
    assert abs(plain["weighted_accuracy"] - plain["accuracy"]) < 1e-9


def test_class_weight_weights_the_training_logs(rng):
    x, y = _data(rng, 64)
    model = _model()
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy"])   # lr 0: the logged epoch sees fixed weights
    hist = model.fit(x, y, class_weight={0: 1.0, 1: 4.0}, epochs=1, batch_size=64, verbose=0)
    hits = (model.predict(x, verbose=0).argmax(1) == y).astype(np.float64)
    w = np.where(y == 1, 4.0, 1.0)
    assert abs(hist.history["weighted_accuracy"][0] - (hits * w).sum() / w.sum()) < 1e-6
    assert abs(hist.history["accuracy"][0] - hits.mean()) < 1e-6


def test_validation_and_multi_output_dicts(rng):
    x, y = _data(rng)
    w = rng.random(len(y)).astype(np.float32)
    inp = keras.Input((5,))
    cls = layers.Dense(2, activation="softmax", name="cls")(inp)
    reg = layers.Dense(1, name="reg")(inp)
    model = keras.Model(inp, [cls, reg])
    target = x[:, :1] * 2
    model.compile("adam", {"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  metrics={"reg": ["mae"]}, weighted_metrics={"cls": ["accuracy"], "reg": ["mae"]})
    hist = model.fit(x, {"cls": y, "reg": target}, sample_weight=w, epochs=1, verbose=0,
                     validation_data=(x, {"cls": y, "reg": target}, w))
    for key in ("cls_accuracy", "reg_mae", "reg_weighted_mae", "val_cls_accuracy", "val_reg_weighted_mae"):
        assert key in hist.history, sorted(hist.history)
    p_cls, p_reg = model.predict(x, verbose=0)
    err = np.abs(p_reg[:, 0] - target[:, 0]).astype(np.float64)
    logs = model.evaluate(x, {"cls": y, "reg": target}, sample_weight=w, verbose=0, return_dict=True)
    assert abs(logs["reg_mae"] - err.mean()) < 1e-5
    assert abs(logs["reg_weighted_mae"] - (err * w).sum() / w.sum()) < 1e-5
    hits = (p_cls.argmax(1) == y).astype(np.float64)
    assert abs(logs["cls_accuracy"] - (hits * w).sum() / w.sum()) < 1e-6


def test_saved_with_the_model_and_custom_train_step(rng, tmp_path):
    x, y = _data(rng)
    w = rng.random(len(y)).astype(np.float32)
    model = _model()
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    a = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    b = again.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert set(a) == set(b) == {"loss", "accuracy", "weighted_accuracy", "wce"}
    for k in a:
        assert abs(a[k] - b[k]) < 1e-6, k
    # tf.keras 2's compiled_metrics.update_state(y, y_pred, sample_weight) in a custom loop
    model2 = _model()
    model2.evaluate(x[:8], y[:8], verbose=0)   # resolves the metrics
    for m in model2.metrics:
        m.reset_state()
    p = model2.predict(x, verbose=0)
    model2.compiled_metrics.update_state(y, p, sample_weight=w)
    hits = (p.argmax(1) == y).astype(np.float64)
    got = {m.name: float(m.result()) for m in model2.metrics}
    assert abs(got["weighted_accuracy"] - (hits * w).sum() / w.sum()) < 1e-6
    assert abs(got["accuracy"] - hits.mean()) < 1e-6


def test_empty_weighted_metrics_and_unknown_names(rng):
    model = keras.Sequential([keras.Input((5,)), layers.Dense(1)])
    model.compile("adam", "mse", weighted_metrics=[])   # TF tutorials pass [] to silence a warning
    x, y = _data(rng, 16)
    assert set(model.evaluate(x, y, verbose=0, return_dict=True)) == {"loss"}
    with pytest.raises(ValueError, match="unknown metric"):
        model.compile("adam", "mse", weighted_metrics=["no_such_metric"])
