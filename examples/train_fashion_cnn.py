"""Train the classic Keras convolutional network on Fashion-MNIST with corenn.

    python examples/train_fashion_cnn.py [--epochs 2] [--batch-size 64] [--out out]

Conv2D(32, 3, relu) -> MaxPooling2D -> Conv2D(64, 3, relu) -> MaxPooling2D -> Conv2D(64, 3, relu)
-> Flatten -> Dense(64, relu) -> Dense(10), exactly as the Keras example writes it; only the
imports differ. Writes the weights and a training-curve PNG to --out.
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
        layers.Input(shape=(28, 28, 1)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dense(10),
    ])
    model.compile(optimizer=corenn.optimizers.Adam(learning_rate=1e-3),
                  loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out")
    args = parser.parse_args()

    set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    x_train = (x_train.astype("float32") / 255.0).reshape(-1, 28, 28, 1)
    x_test = (x_test.astype("float32") / 255.0).reshape(-1, 28, 28, 1)

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
    model.save_weights(os.path.join(args.out, "fashion_cnn.weights.npz"))
    try:
        plot_history(history, os.path.join(args.out, "fashion_cnn_history.png"))
    except ImportError as exc:
        print(f"no plot: {exc}")
    print(f"weights and training curves written to {args.out}/")


if __name__ == "__main__":
    main()
