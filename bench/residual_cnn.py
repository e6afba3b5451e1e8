"""A residual CNN (functional model with a skip connection and BatchNorm) against PyTorch.

    python bench/residual_cnn.py [--threads 2] [--rounds 3] [--train-size 12000] [--batch 64]

The model (the graph-models issue's example), in corenn as a functional keras.Model:

    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, padding='same', activation='relu')(inputs)
    y = layers.Conv2D(32, 3, padding='same')(x)
    y = layers.BatchNormalization()(y)
    x = layers.Activation('relu')(layers.Add()([x, y]))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(10)(x)

and in PyTorch as an nn.Module of the same layers (NCHW, PyTorch's default layout; Keras' Glorot
init; BatchNorm2d with Keras' eps 1e-3 and momentum 0.99, i.e. torch momentum 0.01). Both train
with Adam (lr 1e-3; eps 1e-7 as Keras), from-logits sparse categorical cross-entropy, batch 64:
corenn with model.fit(epochs=1, verbose=0), PyTorch with its eager loop (randperm batches,
zero_grad / backward / step). Training data: the first --train-size Fashion-MNIST images (12,000
by default so that a round takes seconds, not minutes; --train-size 0 for all 60,000). Each
round is one epoch of each, alternated (corenn, torch, corenn, ...) with a pause and a wait for an
idle host between them; the best samples/s counts, among the rounds in which other processes took
< 5% of the CPUs (the host is shared; /proc/stat says how much). Then the test accuracy (10,000 images) of both after the measured
epochs. Target (graph-models issue): corenn >= 2x PyTorch.

Needs layers.Add (the merge layers); on a branch without them the script says so and stops.
"""
import argparse
import os
import sys
import time

import numpy as np


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="alternated epochs per contender (best counts)")
    p.add_argument("--train-size", type=int, default=12000, help="training images (0: all 60,000)")
    p.add_argument("--batch", type=int, default=64)
    return p.parse_args()


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import corenn  # noqa: E402
from corenn import keras  # noqa: E402
from corenn.keras import layers  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:
    torch = None

if not hasattr(layers, "Add"):
    raise SystemExit("bench/residual_cnn.py: corenn.layers.Add is not on this branch yet (the merge "
                     "layers are added on another branch). Merge them, rebuild "
                     "(pip install --no-build-isolation -e .), and run this script again.")


class CorennResidual:
    def __init__(self, x, y, seed):
        corenn.utils.set_random_seed(seed)
        inputs = keras.Input(shape=(28, 28, 1))
        x_ = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
        y_ = layers.Conv2D(32, 3, padding="same")(x_)
        y_ = layers.BatchNormalization()(y_)
        x_ = layers.Activation("relu")(layers.Add()([x_, y_]))
        x_ = layers.GlobalAveragePooling2D()(x_)
        outputs = layers.Dense(10)(x_)
        self.model = keras.Model(inputs, outputs)
        self.model.compile(optimizer=keras.optimizers.Adam(1e-3),
                           loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                           metrics=["accuracy"])
        self.x, self.y = x[..., None], y

    def epoch(self):
        t0 = time.perf_counter()
        self.model.fit(self.x, self.y, batch_size=ARGS.batch, epochs=1, verbose=0)
        return time.perf_counter() - t0

    def test_accuracy(self, xt, yt):
        return self.model.evaluate(xt[..., None], yt, batch_size=500, verbose=0)[1]


class TorchResidual:
    def __init__(self, x, y, seed):
        nn = torch.nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
                self.conv2 = nn.Conv2d(32, 32, 3, padding=1)
                self.bn = nn.BatchNorm2d(32, eps=1e-3, momentum=0.01)
                self.fc = nn.Linear(32, 10)

            def forward(self, v):
                v = torch.relu(self.conv1(v))
                w = self.bn(self.conv2(v))
                v = torch.relu(v + w)
                return self.fc(v.mean((2, 3)))

        torch.manual_seed(seed)
        self.net = Net()
        _common.keras_init_(self.net)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3, eps=1e-7)
        self.loss_fn = nn.CrossEntropyLoss()
        self.x = torch.from_numpy(np.ascontiguousarray(x[:, None]))
        self.y = torch.from_numpy(y)
        self.gen = torch.Generator().manual_seed(seed)

    def epoch(self):
        x, y, b = self.x, self.y, ARGS.batch
        self.net.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(x), generator=self.gen)
        for i in range(0, len(x), b):
            idx = perm[i:i + b]
            self.opt.zero_grad()
            loss = self.loss_fn(self.net(x[idx]), y[idx])
            loss.backward()
            self.opt.step()
        return time.perf_counter() - t0

    def test_accuracy(self, xt, yt):
        self.net.eval()
        with torch.no_grad():
            logits = torch.cat([self.net(torch.from_numpy(np.ascontiguousarray(xt[i:i + 500, None])))
                                for i in range(0, len(xt), 500)])
        return float((logits.argmax(1).numpy() == yt).mean())


def main():
    corenn.set_num_threads(ARGS.threads)
    (x, y), (xt, yt) = _common.load_fashion(ARGS.train_size or None)
    contenders = {"corenn": CorennResidual}
    if torch is not None:
        torch.set_num_threads(ARGS.threads)
        contenders[f"torch {torch.__version__}"] = TorchResidual
    else:
        print("(PyTorch not installed: pip install torch==2.13.0 to compare; timing corenn only)")
    _common.wait_for_quiet_host()
    print(f"CPU: {_common.cpu_line()}; corenn ISA path: {_common.corenn_isa(corenn)}; "
          f"{ARGS.threads} threads")
    print(_common.versions(corenn, torch))
    print(f"residual CNN, Adam 1e-3, batch {ARGS.batch}, {len(x):,} Fashion-MNIST training images "
          f"{'(a fixed subset: the first ones)' if len(x) < 60000 else ''}, one epoch per round, "
          f"{ARGS.rounds} alternated rounds, best clean round counts\n", flush=True)
    runs = {name: cls(x, y, seed=0) for name, cls in contenders.items()}

    def progress(r, results):
        print(f"  round {r + 1}: " + ", ".join(
            f"{name} {len(x) / res[-1][0]:,.0f}" + ("" if res[-1][1] is None or res[-1][1] < 0.05 else
                                                    f" [others {100 * res[-1][1]:.0f}%]")
            for name, res in results.items()) + " samples/s", flush=True)

    results = _common.alternate({name: run.epoch for name, run in runs.items()}, ARGS.rounds, progress)
    best, rows = {}, []
    for name, res in results.items():
        seconds, n_clean, n = _common.best_clean(res)
        best[name] = len(x) / seconds
        rows.append([name, f"{best[name]:,.0f}", f"{n_clean}/{n}",
                     f"{len(x) / np.median([t for t, _ in res]):,.0f}",
                     f"{runs[name].test_accuracy(xt, yt):.4f}"])
    print()
    print(_common.markdown_table(["framework", "best samples/s", "clean rounds", "median samples/s",
                                  f"test acc after {ARGS.rounds} epoch(s)"], rows))
    print("\nBest of the clean rounds: those in which other processes took < 5% of the CPUs "
          "(all rounds if none was clean).")
    if len(best) == 2:
        a, b = best.values()
        print(f"\nratio corenn / torch (best): **{a / b:.2f}x** (target >= 2.0)")


if __name__ == "__main__":
    main()
