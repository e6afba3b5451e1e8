"""Train the Fashion-MNIST CNN of train_fashion_cnn.py on several processes with MPI.

    mpirun -n 2 python examples/train_distributed.py [--epochs 2] [--batch-size 128] [--out out]
    srun -n 8 python examples/train_distributed.py            # under Slurm

Every rank runs this whole script. The only changes from the single-process script are the
``with distributed.DataParallel():`` around ``fit`` (which shards the data, averages the
gradients and the logs, and keeps the progress bar and files on rank 0) and the rank-0 guard
around the files written after training. ``--batch-size`` is the global batch.
"""
import argparse
import os
import time

import corenn
from corenn import distributed
from corenn.datasets import fashion_mnist
from corenn.utils import plot_history, set_random_seed

from train_fashion_cnn import build_model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out")
    args = parser.parse_args()

    distributed.init()        # joins the job; threads default to cores / ranks on this machine
    set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    x_train = (x_train.astype("float32") / 255.0).reshape(-1, 28, 28, 1)
    x_test = (x_test.astype("float32") / 255.0).reshape(-1, 28, 28, 1)

    model = build_model()
    if distributed.rank() == 0:
        model.summary()
        print(f"{distributed.size()} ranks, {corenn.get_num_threads()} threads each")
    start = time.perf_counter()
    with distributed.DataParallel():
        history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                            validation_split=0.1)
    seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=500, verbose=0)

    if distributed.rank() == 0:
        print(f"trained {args.epochs} epochs in {seconds:.1f} s "
              f"({args.epochs * len(x_train) * 0.9 / seconds:,.0f} samples/s over {distributed.size()} ranks)")
        print(f"test accuracy: {test_accuracy:.4f}  test loss: {test_loss:.4f}")
        os.makedirs(args.out, exist_ok=True)
        model.save_weights(os.path.join(args.out, "fashion_cnn_distributed.weights.npz"))
        try:
            plot_history(history, os.path.join(args.out, "fashion_cnn_distributed_history.png"))
        except ImportError as exc:
            print(f"no plot: {exc}")
        print(f"weights and training curves written to {args.out}/")


if __name__ == "__main__":
    main()
