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
