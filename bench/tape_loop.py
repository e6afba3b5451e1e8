"""A GradientTape training loop against model.fit and against PyTorch's eager loop.

    python bench/tape_loop.py [--threads 2] [--rounds 5] [--batches 32,128] [--no-metrics]

The model is the seed MLP: Flatten 28x28 -> Dense(64, relu) -> Dense(10) logits, Adam (lr 1e-3),
sparse categorical cross-entropy from logits, on Fashion-MNIST (60,000 training images). Three
contenders per batch size, each timed over one full epoch per round:

  tape   the loop of TensorFlow's "advanced quickstart", imports pointed at corenn: a subclassed
         Model, an @tf.function train_step with a GradientTape, tape.gradient,
         optimizer.apply_gradients, and the quickstart's train_loss / train_accuracy metrics;
         batches drawn from a fresh permutation each epoch (what tf.data's shuffle + batch give).
  fit    the same architecture as a Sequential, compile(Adam, the loss, metrics=['accuracy']),
         model.fit(batch_size=B, epochs=1, verbose=0) (fit shuffles each epoch too).
  torch  nn.Sequential of the same layers (Keras' Glorot-uniform init, Adam eps 1e-7 as Keras),
         CrossEntropyLoss, zero_grad / backward / step over randperm batches, with the running
         loss and correct count the other two keep (--no-metrics drops them in all three).

Each contender trains one model throughout (round r is its r-th epoch, after 20 untimed warm-up
steps); the contenders alternate (tape, fit, torch, tape, ...) with a pause between them and a
wait until the host is idle, and the best samples/s of the rounds counts, among the rounds in
which other processes took < 5% of the CPUs (the host is shared; /proc/stat says how much). Then test accuracy of each model as a sanity check.
Targets (graph-models issue): tape >= 0.9x fit, tape >= 1.5x PyTorch.
"""
import argparse
import os
import sys
import time

import numpy as np


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5, help="alternated epochs per contender (best counts)")
    p.add_argument("--batches", default="32,128", help="comma-separated batch sizes")
    p.add_argument("--no-metrics", action="store_true",
                   help="no running loss / accuracy in any contender (fit still reports its loss)")
    p.add_argument("--only", default="tape,fit,torch", help="comma-separated contenders")
    return p.parse_args()


ARGS = parse_args()
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import corenn as tf  # noqa: E402  (the quickstart's spelling)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

try:
    import torch  # noqa: E402
except ImportError:
    torch = None

WARMUP_STEPS = 20


# --- (a) the advanced quickstart's loop -----------------------------------------------------------

class TapeLoop:
    """TensorFlow's advanced quickstart, MLP variant; ``epoch()`` returns its seconds."""

    def __init__(self, x, y, batch_size, seed):
        from corenn.keras.layers import Dense, Flatten
        from corenn.keras import Model

        tf.keras.utils.set_random_seed(seed)

        class MyModel(Model):
            def __init__(self):
                super().__init__()
                self.flatten = Flatten()
                self.d1 = Dense(64, activation="relu")
                self.d2 = Dense(10)

            def call(self, x):
                x = self.flatten(x)
                x = self.d1(x)
                return self.d2(x)

        model = MyModel()
        loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        optimizer = tf.keras.optimizers.Adam()
        train_loss = tf.keras.metrics.Mean(name="train_loss")
        train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")
        metrics = not ARGS.no_metrics

        @tf.function
        def train_step(images, labels):
            with tf.GradientTape() as tape:
                # training=True is only needed if there are layers with different
                # behavior during training versus inference (e.g. Dropout).
                predictions = model(images, training=True)
                loss = loss_object(labels, predictions)
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))

            if metrics:
                train_loss(loss)
                train_accuracy(labels, predictions)

        self.model, self.train_step = model, train_step
        self.train_loss, self.train_accuracy = train_loss, train_accuracy
        self.x, self.y, self.batch_size = x[..., tf.newaxis], y, batch_size
        self.rng = np.random.default_rng(seed)
        for i in range(WARMUP_STEPS):
            train_step(self.x[i * batch_size:(i + 1) * batch_size], y[i * batch_size:(i + 1) * batch_size])

    def epoch(self):
        x, y, b = self.x, self.y, self.batch_size
        t0 = time.perf_counter()
        # Reset the metrics at the start of the next epoch
        self.train_loss.reset_state()
        self.train_accuracy.reset_state()
        perm = self.rng.permutation(len(x))
        for i in range(0, len(x), b):
            idx = perm[i:i + b]
            self.train_step(x[idx], y[idx])
        return time.perf_counter() - t0

    def test_accuracy(self, xt, yt):
        logits = np.concatenate([np.asarray(self.model(xt[i:i + 1000, ..., tf.newaxis]))
                                 for i in range(0, len(xt), 1000)])
        return float((logits.argmax(1) == yt).mean())


# --- (b) model.fit --------------------------------------------------------------------------------

class FitLoop:
    def __init__(self, x, y, batch_size, seed):
        layers = tf.keras.layers
        tf.keras.utils.set_random_seed(seed)
        self.model = tf.keras.Sequential([layers.Input(shape=(28, 28)), layers.Flatten(),
                                          layers.Dense(64, activation="relu"), layers.Dense(10)])
        self.model.compile(optimizer=tf.keras.optimizers.Adam(),
                           loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                           metrics=[] if ARGS.no_metrics else ["accuracy"])
        self.x, self.y, self.batch_size = x, y, batch_size
        n = WARMUP_STEPS * batch_size
        self.model.fit(x[:n], y[:n], batch_size=batch_size, epochs=1, verbose=0)

    def epoch(self):
        t0 = time.perf_counter()
        self.model.fit(self.x, self.y, batch_size=self.batch_size, epochs=1, verbose=0)
        return time.perf_counter() - t0

    def test_accuracy(self, xt, yt):
        return float((self.model.predict(xt, batch_size=1000, verbose=0).argmax(1) == yt).mean())


# --- (c) PyTorch's eager loop ---------------------------------------------------------------------

class TorchLoop:
    def __init__(self, x, y, batch_size, seed):
        nn = torch.nn
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
        _common.keras_init_(self.net)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3, eps=1e-7)
        self.loss_fn = nn.CrossEntropyLoss()
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.batch_size = batch_size
        self.gen = torch.Generator().manual_seed(seed)
        self.running_loss, self.correct = 0.0, 0
        for i in range(WARMUP_STEPS):
            self.step(self.x[i * batch_size:(i + 1) * batch_size], self.y[i * batch_size:(i + 1) * batch_size])

    def step(self, xb, yb):
        self.opt.zero_grad()
        pred = self.net(xb)
        loss = self.loss_fn(pred, yb)
        loss.backward()
        self.opt.step()
        if not ARGS.no_metrics:
            self.running_loss += loss.item() * len(yb)
            self.correct += (pred.argmax(1) == yb).sum().item()

    def epoch(self):
        x, y, b = self.x, self.y, self.batch_size
        t0 = time.perf_counter()
        self.running_loss, self.correct = 0.0, 0
        perm = torch.randperm(len(x), generator=self.gen)
        for i in range(0, len(x), b):
            idx = perm[i:i + b]
            self.step(x[idx], y[idx])
        return time.perf_counter() - t0

    def test_accuracy(self, xt, yt):
        with torch.no_grad():
            return float((self.net(torch.from_numpy(xt)).argmax(1).numpy() == yt).mean())


CONTENDERS = {"tape": TapeLoop, "fit": FitLoop, "torch": TorchLoop}


def main():
    tf.set_num_threads(ARGS.threads)
    names = [n for n in ARGS.only.split(",") if n]
    if torch is None and "torch" in names:
        print("(PyTorch not installed: pip install torch==2.13.0 to compare; timing corenn only)")
        names.remove("torch")
    if torch is not None:
        torch.set_num_threads(ARGS.threads)
    (x, y), (xt, yt) = _common.load_fashion()
    _common.wait_for_quiet_host()
    print(f"CPU: {_common.cpu_line()}; corenn ISA path: {_common.corenn_isa(tf)}; "
          f"{ARGS.threads} threads")
    print(_common.versions(tf, torch))
    print(f"seed MLP 784-64-10, Adam 1e-3, from-logits sparse CE, Fashion-MNIST {len(x):,} images, "
          f"one epoch per round, {ARGS.rounds} alternated rounds, best "
          f"clean round counts; metrics {'off' if ARGS.no_metrics else 'on'}\n", flush=True)
    rows = []
    for batch in [int(b) for b in ARGS.batches.split(",")]:
        loops = {name: CONTENDERS[name](x, y, batch, seed=0) for name in names}

        def progress(r, results):
            print(f"  batch {batch} round {r + 1}: " + ", ".join(
                f"{name} {len(x) / res[-1][0]:,.0f}" + _others(res[-1][1]) for name, res in results.items())
                + " samples/s", flush=True)

        _common.wait_for_quiet_host()
        results = _common.alternate({name: loop.epoch for name, loop in loops.items()}, ARGS.rounds,
                                    progress)
        best, clean = {}, {}
        for name, res in results.items():
            seconds, n_clean, n = _common.best_clean(res)
            best[name], clean[name] = len(x) / seconds, f"{n_clean}/{n}"
        acc = {name: loop.test_accuracy(xt, yt) for name, loop in loops.items()}
        row = [batch] + [f"{best[n]:,.0f} ({clean[n]})" for n in names]
        if "tape" in best and "fit" in best:
            row.append(f"**{best['tape'] / best['fit']:.2f}x**")
        if "tape" in best and "torch" in best:
            row.append(f"**{best['tape'] / best['torch']:.2f}x**")
        row.append(" / ".join(f"{acc[n]:.4f}" for n in names))
        rows.append(row)
    header = ["batch"] + [f"{n} samples/s (clean rounds)" for n in names]
    if "tape" in names and "fit" in names:
        header.append("tape / fit (target >= 0.9)")
    if "tape" in names and "torch" in names:
        header.append("tape / torch (target >= 1.5)")
    header.append("test acc " + " / ".join(names) + f" (after {ARGS.rounds} epochs)")
    print()
    print(_common.markdown_table(header, rows))
    print("\nBest of the clean rounds: those in which other processes took < 5% of the CPUs "
          "(all rounds if none was clean).")


def _others(share):
    return "" if share is None or share < 0.05 else f" [others {100 * share:.0f}%]"


if __name__ == "__main__":
    main()
