"""Forecast a noisy time series one step ahead with a stacked LSTM regressor, with corenn.

    python examples/timeseries_lstm.py [--epochs 10] [--batch-size 64] [--window 32] [--out out]

The series is synthetic: three sines of different periods, a slow trend and Gaussian noise. It is
cut into sliding windows: x = `window` consecutive values, shape (N, window, 1) (one feature per
step), y = the value that follows. The first 80% of time trains (10% of it validates), the last
20% tests, so the model never sees the future it is scored on. Values are standardised with the
training part's mean and standard deviation.

LSTM(32, return_sequences=True) -> LSTM(32) -> Dense(1), loss 'mse', metric 'mae', as in Keras.
The test MAE is compared with the naive forecast "the next value equals the last one", the
baseline any forecaster has to beat. Writes the weights and a training-curve PNG to --out.
"""
import argparse
import os
import time

import numpy as np

import corenn
from corenn import layers
from corenn.utils import plot_history, set_random_seed


def make_series(length, seed):
    """Three sines (periods 24, 67 and 150 steps), a slow trend, and N(0, 0.2) noise."""
    t = np.arange(length, dtype=np.float64)
    rng = np.random.default_rng(seed)
    clean = (np.sin(2 * np.pi * t / 24) + 0.6 * np.sin(2 * np.pi * t / 67 + 1.0)
             + 0.4 * np.sin(2 * np.pi * t / 150 + 2.0) + 0.3 * t / length)
    return clean + rng.normal(0.0, 0.2, size=length)


def windows(series, window):
    """x (N, window, 1) of consecutive values and y (N, 1), the value right after each window."""
    n = len(series) - window
    idx = np.arange(window)[None, :] + np.arange(n)[:, None]
    return series[idx][..., None].astype(np.float32), series[window:, None].astype(np.float32)


def build_model(window):
    model = corenn.Sequential([
        layers.Input(shape=(window, 1)),
        layers.LSTM(32, return_sequences=True),
        layers.LSTM(32),
        layers.Dense(1),
    ])
    model.compile(optimizer=corenn.optimizers.Adam(learning_rate=1e-3), loss="mse",
                  metrics=["mae"])
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--window", type=int, default=32, help="timesteps the model sees")
    parser.add_argument("--length", type=int, default=8000, help="length of the series")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out")
    args = parser.parse_args()

    set_random_seed(args.seed)
    series = make_series(args.length, args.seed)
    split = int(0.8 * len(series))
    mean, std = series[:split].mean(), series[:split].std()
    scaled = (series - mean) / std
    x_train, y_train = windows(scaled[:split], args.window)
    x_test, y_test = windows(scaled[split - args.window:], args.window)  # test targets: last 20%

    model = build_model(args.window)
    model.summary()
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_split=0.1)
    seconds = time.perf_counter() - start
    test_mse, test_mae = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
    naive_mae = float(np.abs(x_test[:, -1, 0] - y_test[:, 0]).mean())
    print(f"trained {args.epochs} epochs in {seconds:.1f} s "
          f"({args.epochs * len(x_train) * 0.9 / seconds:,.0f} samples/s)")
    print(f"test MAE: {test_mae * std:.4f}  (naive last-value forecast: {naive_mae * std:.4f}; "
          f"noise floor ~{0.2 * np.sqrt(2 / np.pi):.4f})  test MSE (standardised): {test_mse:.4f}")

    os.makedirs(args.out, exist_ok=True)
    model.save_weights(os.path.join(args.out, "timeseries_lstm.weights.npz"))
    try:
        plot_history(history, os.path.join(args.out, "timeseries_lstm_history.png"))
    except ImportError as exc:
        print(f"no plot: {exc}")
    print(f"weights and training curves written to {args.out}/")


if __name__ == "__main__":
    main()
