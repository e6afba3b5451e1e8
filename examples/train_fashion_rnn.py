"""Classify Fashion-MNIST with a stacked LSTM that reads each image row by row, with corenn.

    python examples/train_fashion_rnn.py [--epochs 2] [--batch-size 128] [--limit 0] [--out out]

Each 28x28 image is a sequence of 28 timesteps (rows) of 28 features (pixels):
LSTM(64, return_sequences=True) -> LSTM(64) -> Dense(10), Adam 1e-3, sparse cross-entropy from
logits: the model of the issue's benchmark, written as in Keras; only the imports differ.
Writes the weights and a training-curve PNG to --out.
"""
import argparse
import os
import time

import corenn
from corenn import layers
from corenn.datasets import fashion_mnist
from corenn.utils import plot_history, set_random_seed


def build_model():
    model = corenn.Sequential([
        layers.Input(shape=(28, 28)),
        layers.LSTM(64, return_sequences=True),
        layers.LSTM(64),
        layers.Dense(10),
    ])
    model.compile(optimizer=corenn.optimizers.Adam(learning_rate=1e-3),
                  loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--limit", type=int, default=0,
                        help="train on the first N images only (0: all 60000), for a quick try")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out")
    args = parser.parse_args()

    set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    if args.limit > 0:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    # (N, 28, 28): batch, timesteps (image rows), features (pixels of a row)
    x_train = x_train.astype("float32").reshape(-1, 28, 28) / 255.0
    x_test = x_test.astype("float32").reshape(-1, 28, 28) / 255.0

    model = build_model()
    model.summary()
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_split=0.1)
    seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
    print(f"trained {args.epochs} epochs in {seconds:.1f} s "
          f"({args.epochs * len(x_train) * 0.9 / seconds:,.0f} samples/s)")
    print(f"test accuracy: {test_accuracy:.4f}  test loss: {test_loss:.4f}")

    os.makedirs(args.out, exist_ok=True)
    model.save_weights(os.path.join(args.out, "fashion_rnn.weights.npz"))
    try:
        plot_history(history, os.path.join(args.out, "fashion_rnn_history.png"))
    except ImportError as exc:
        print(f"no plot: {exc}")
    print(f"weights and training curves written to {args.out}/")


if __name__ == "__main__":
    main()
