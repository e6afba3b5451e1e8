"""Keras' label_smoothing on the cross-entropy losses and metrics: values and gradients against
the float64 reference on smoothed targets, in a tape, in fit/evaluate, in config round trips."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras

import reference as ref


def _probs(rng, n, c):
    p = rng.random((n, c)) + 0.05
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("s", [0.1, 0.3])
def test_categorical_value_and_gradient(rng, from_logits, s):
    y = ref.one_hot(rng.integers(0, 5, 8), 5).astype(np.float32)
    p = rng.standard_normal((8, 5)).astype(np.float32) if from_logits else _probs(rng, 8, 5)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=s)
    pt = tf.Variable(p)
    with tf.GradientTape() as tape:
        value = loss_fn(y, pt)
    grad = tape.gradient(value, pt)
    t = ref.smoothed_labels(y, s)
    np.testing.assert_allclose(float(value), ref.loss("categorical_crossentropy", p, t, from_logits), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grad), ref.loss_grad("categorical_crossentropy", p, t, from_logits),
                               rtol=1e-4, atol=1e-7)
    # smoothing changes the loss (a test that could pass without it would prove nothing)
    plain = keras.losses.CategoricalCrossentropy(from_logits=from_logits)(y, p)
    assert abs(float(plain) - float(value)) > 1e-3


@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_value_gradient_and_finite_differences(rng, from_logits):
    s = 0.2
    y = rng.integers(0, 2, (6, 3)).astype(np.float32)
    p = rng.standard_normal((6, 3)).astype(np.float32) if from_logits else \
        (rng.random((6, 3)) * 0.9 + 0.05).astype(np.float32)
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=s)
    pt = tf.Variable(p)
    with tf.GradientTape() as tape:
        value = loss_fn(y, pt)
    grad = np.asarray(tape.gradient(value, pt))
    t = ref.smoothed_labels(y, s, binary=True)
    np.testing.assert_allclose(float(value), ref.loss("binary_crossentropy", p, t, from_logits), rtol=1e-5)
    fd = ref.numerical_grad(lambda q: ref.loss("binary_crossentropy", q, t, from_logits), ref.f64(p))
    np.testing.assert_allclose(grad, fd, rtol=1e-4, atol=1e-6)


def test_per_sample_functions_and_metrics(rng):
    y = ref.one_hot(rng.integers(0, 4, 7), 4).astype(np.float32)
    p = _probs(rng, 7, 4)
    t = ref.smoothed_labels(y, 0.1)
    per = keras.losses.categorical_crossentropy(y, p, label_smoothing=0.1)
    np.testing.assert_allclose(np.asarray(per), ref.loss_per_sample("categorical_crossentropy", p, t), rtol=1e-5)
    m = keras.metrics.CategoricalCrossentropy(label_smoothing=0.1)
    m.update_state(y[:3], p[:3])
    m.update_state(y[3:], p[3:])
    np.testing.assert_allclose(float(m.result()), ref.loss("categorical_crossentropy", p, t), rtol=1e-5)
    yb = rng.integers(0, 2, (7, 1)).astype(np.float32)
    pb = (rng.random((7, 1)) * 0.9 + 0.05).astype(np.float32)
    mb = keras.metrics.BinaryCrossentropy(label_smoothing=0.3)
    mb.update_state(yb, pb)
    np.testing.assert_allclose(float(mb.result()),
                               ref.loss("binary_crossentropy", pb, ref.smoothed_labels(yb, 0.3, True)), rtol=1e-5)


def test_fit_evaluate_and_config(rng, tmp_path):
    x = rng.standard_normal((64, 6)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)
    y = keras.utils.to_categorical(labels, 4)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="softmax")])
    loss_fn = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)
    model.compile(keras.optimizers.Adam(0.05), loss_fn, metrics=["categorical_accuracy"])
    hist = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    expected = ref.loss("categorical_crossentropy", model.predict(x, verbose=0), ref.smoothed_labels(y, 0.1))
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-4)
    assert logs["categorical_accuracy"] > 0.7
    config = loss_fn.get_config()
    assert config["label_smoothing"] == 0.1
    again = keras.losses.CategoricalCrossentropy.from_config(config)
    assert float(again(y, model.predict(x, verbose=0))) == pytest.approx(logs["loss"], rel=1e-4)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.loss.label_smoothing == 0.1


@pytest.mark.parametrize("bad", [-0.1, 1.5, "0.1", True])
def test_bad_label_smoothing_is_refused(bad):
    with pytest.raises(ValueError, match="label_smoothing"):
        keras.losses.CategoricalCrossentropy(label_smoothing=bad)
    with pytest.raises(ValueError, match="label_smoothing"):
        keras.metrics.BinaryCrossentropy(label_smoothing=bad)
