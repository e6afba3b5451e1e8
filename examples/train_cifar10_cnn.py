"""Train the CNN of TensorFlow's "Convolutional Neural Network (CNN)" tutorial on CIFAR-10.

    python examples/train_cifar10_cnn.py [--epochs 10] [--batch-size 32] [--limit N]
                                         [--data PATH] [--no-download] [--out out]

Conv2D(32, 3, relu) -> MaxPooling2D -> Conv2D(64, 3, relu) -> MaxPooling2D -> Conv2D(64, 3, relu)
-> Flatten -> Dense(64, relu) -> Dense(10), Adam and SparseCategoricalCrossentropy(from_logits=True),
10 epochs validated on the test set, exactly as the tutorial writes it; only the imports
differ. Prints a progress bar, writes the weights and a training-curve PNG to --out.

The data is CIFAR-10's binary version (cifar-10-binary.tar.gz), found by
corenn.datasets.cifar10 in --data, $CORENN_DATA or ~/.cache/corenn/datasets/cifar-10, or
downloaded. Without it (and without a network) the script says how to get it and exits with
status 2.
"""
import argparse
import os
import sys
import time

import corenn
from corenn import layers
from corenn.datasets import cifar10
from corenn.utils import plot_history, set_random_seed

EXIT_NO_DATA = 2


def build_model():
    model = corenn.Sequential([
        layers.Input(shape=(32, 32, 3)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dense(10),
    ])
    model.compile(optimizer="adam",
                  loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def load(data_path, download):
    """CIFAR-10 scaled to [0, 1], or None after telling the user how to get it."""
    try:
        (x_train, y_train), (x_test, y_test) = cifar10.load_data(path=data_path,
                                                                 download=download)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: CIFAR-10 is not available here.\n{exc}\n(The script also takes "
              f"--data PATH: the archive, or a directory holding it.)", file=sys.stderr)
        return None
    # float32 before scaling: x / 255.0 on uint8 would build a 1.2 GB float64 copy first
    return ((x_train.astype("float32") / 255.0, y_train),
            (x_test.astype("float32") / 255.0, y_test))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--limit", type=int, default=None,
                        help="train and test on the first N images only (a quick check)")
    parser.add_argument("--data", default=None,
                        help="cifar-10-binary.tar.gz or a directory holding it")
    parser.add_argument("--no-download", action="store_true",
                        help="never download; fail when no local copy is found")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out")
    args = parser.parse_args()

    set_random_seed(args.seed)
    data = load(args.data, download=not args.no_download)
    if data is None:
        return EXIT_NO_DATA
    (x_train, y_train), (x_test, y_test) = data
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
        x_test, y_test = x_test[:args.limit], y_test[:args.limit]

    model = build_model()
    model.summary()
    start = time.perf_counter()
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                        validation_data=(x_test, y_test))
    seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=500, verbose=0)
    print(f"trained {args.epochs} epochs in {seconds:.1f} s "
          f"({args.epochs * len(x_train) / seconds:,.0f} samples/s)")
    print(f"test accuracy: {test_accuracy:.4f}  test loss: {test_loss:.4f}")

    os.makedirs(args.out, exist_ok=True)
    model.save_weights(os.path.join(args.out, "cifar10_cnn.weights.npz"))
    try:
        plot_history(history, os.path.join(args.out, "cifar10_cnn_history.png"))
    except ImportError as exc:
        print(f"no plot: {exc}")
    print(f"weights and training curves written to {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
