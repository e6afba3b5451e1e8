"""Train a multilayer perceptron on Fashion-MNIST with corenn.

    python examples/train_fashion_mnist.py [--epochs 5] [--batch-size 128] [--out out]

Written exactly as the Keras script would be; only the imports differ. Prints a progress bar and
the test accuracy, and writes the trained weights and a training-curve PNG to --out.
"""
import argparse
import os
import time

import corenn
from corenn import layers
from corenn.datasets import fashion_mnist
from corenn.utils import plot_history, set_random_seed

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def build_model():
    model = corenn.Sequential([
        layers.Input(shape=(28, 28)),
        layers.Flatten(),
        layers.Dense(512, activation="relu"),
        layers.Dense(256, activation="relu"),
        layers.Dense(10),
    ])
    model.compile(optimizer=corenn.optimizers.Adam(learning_rate=1e-3),
                  loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out", help="directory for the weights and the plot")
    args = parser.parse_args()

    set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    x_train = x_train.astype("float32") / 255.0
    x_test = x_test.astype("float32") / 255.0
    print(f"Fashion-MNIST: {len(x_train)} training and {len(x_test)} test images; "
          f"corenn {corenn.__version__} on {corenn.get_num_threads()} threads")

    model = build_model()
    model.summary()
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_split=0.1)
    seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=512, verbose=0)
    print(f"trained {args.epochs} epochs in {seconds:.1f} s "
          f"({args.epochs * len(x_train) * 0.9 / seconds:,.0f} samples/s)")
    print(f"test accuracy: {test_accuracy:.4f}  test loss: {test_loss:.4f}")

    os.makedirs(args.out, exist_ok=True)
    weights_path = os.path.join(args.out, "fashion_mlp.weights.npz")
    model.save_weights(weights_path)
    print(f"weights written to {weights_path}")
    try:
        plot_path = os.path.join(args.out, "fashion_mlp_history.png")
        plot_history(history, plot_path)
        print(f"training curves written to {plot_path}")
    except ImportError as exc:
        print(f"no plot: {exc}")


if __name__ == "__main__":
    main()
