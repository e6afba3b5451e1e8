"""Sweep 28: what the programs added to tests/programs in sweep 28 found missing, each checked on
its own against NumPy references or TensorFlow 2.21's behaviour (the values written here are what
tf.keras gave for the same calls)."""
import numpy as np
import pytest

import corenn as tf
from corenn import keras


# ---- keras.io multivariate LSTM forecasting (example_multivariate_lstm_forecasting.py):
#      tf.keras.preprocessing.sequence.TimeseriesGenerator ----

def _batches(gen):
    return [(x.tolist(), y.tolist()) for x, y in (gen[i] for i in range(len(gen)))]


def test_timeseries_generator_windows_precede_their_targets():
    G = keras.preprocessing.sequence.TimeseriesGenerator
    # the example's own illustration: the first two days' features predict the third day's target
    g = G(np.arange(10), np.arange(10) * 10, length=3, batch_size=4, start_index=1, end_index=8)
    assert len(g) == 2
    assert _batches(g) == [([[1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 6]], [40, 50, 60, 70]),
                           ([[5, 6, 7]], [80])]
    # sampling_rate, stride and reverse (TF 2.21: one batch, rows 4 and 7)
    g = G(np.arange(20).reshape(10, 2), np.arange(10), length=4, sampling_rate=2, stride=3, batch_size=2,
          reverse=True)
    assert len(g) == 1
    assert _batches(g) == [([[[4, 5], [0, 1]], [[10, 11], [6, 7]]], [4, 7])]
    # the default end_index is the last row; every row from `length` on is a sample exactly once
    x = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    g = G(x, x[:, 0], length=7, batch_size=8)
    rows = np.concatenate([g[i][1] for i in range(len(g))])
    np.testing.assert_array_equal(rows, x[7:, 0])
    np.testing.assert_array_equal(g[0][0][2], x[2:9])


def test_timeseries_generator_shuffle_draws_full_batches_in_range():
    G = keras.preprocessing.sequence.TimeseriesGenerator
    data = np.arange(30)
    g = G(data, data, length=5, batch_size=6, shuffle=True)
    x, y = g[0]
    assert x.shape == (6, 5) and y.shape == (6,)
    assert ((y >= 5) & (y <= 29)).all()
    np.testing.assert_array_equal(x[:, -1] + 1, y)   # each window still ends right before its target


def test_timeseries_generator_refuses_bad_arguments():
    G = keras.preprocessing.sequence.TimeseriesGenerator
    with pytest.raises(ValueError, match="same length"):
        G(np.arange(5), np.arange(4), length=2)
    with pytest.raises(ValueError, match="start_index \\+ length = 3 > end_index = 2"):
        G(np.arange(3), np.arange(3), length=3)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        G(np.arange(9), np.arange(9), length=3, batch_size=0)
    with pytest.raises(IndexError, match="batch index 2 out of range"):
        G(np.arange(9), np.arange(9), length=3, batch_size=4)[2]


def test_timeseries_generator_feeds_fit_evaluate_and_predict():
    keras.utils.set_random_seed(0)
    series = np.sin(np.arange(120) * 0.3).astype(np.float32)
    x = np.stack([series, np.cos(np.arange(120) * 0.3).astype(np.float32)], axis=-1)
    gen = keras.preprocessing.sequence.TimeseriesGenerator(x, series, length=6, batch_size=16)
    model = keras.Sequential([keras.Input((6, 2)), keras.layers.LSTM(8), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(0.02))
    history = model.fit(gen, epochs=6, verbose=0, shuffle=False)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(gen, verbose=0).shape == (114, 1)
    assert np.isfinite(model.evaluate(gen, verbose=0))


# ---- TF guide "Migrate metrics and optimizers" (tutorial_migrate_metrics_optimizers.py): a
#      model whose output is tf.math.argmax, evaluated with loss='mse' ----

def test_losses_take_integer_predictions_as_float32_like_keras():
    # Keras 3 (torch backend): 0.33333334 and 1.5
    mse = keras.losses.MeanSquaredError()
    value = mse(np.array([0, 1, 1]), tf.constant(np.array([0, 0, 1], np.int64)))
    np.testing.assert_allclose(float(value), 1 / 3, rtol=1e-6)
    mae = keras.losses.MeanAbsoluteError()
    np.testing.assert_allclose(float(mae(np.array([[0], [3]]), tf.constant(np.array([[1], [1]], np.int32)))), 1.5)


def test_evaluate_a_model_with_an_argmax_output():
    # Keras 3 (torch backend), same weights and data: predict [0 0 1],
    # evaluate {'accuracy': 0.6666667, 'loss': 0.33333334}
    inp = keras.Input((2,))
    logits = keras.layers.Dense(2, kernel_initializer=keras.initializers.Constant([[1., -1.], [0.5, 0.2]]))(inp)
    model = keras.Model(inp, tf.math.argmax(logits, axis=1))
    model.compile("adagrad", loss="mse", metrics=[keras.metrics.Accuracy()])
    x = np.array([[4, 4.5], [5, 5.5], [-6, 6.5]], np.float32)
    y = np.array([0, 1, 1])
    np.testing.assert_array_equal(np.asarray(model.predict(x, verbose=0)), [0, 0, 1])
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["accuracy"], 2 / 3, rtol=1e-6)
    np.testing.assert_allclose(result["loss"], 1 / 3, rtol=1e-6)
