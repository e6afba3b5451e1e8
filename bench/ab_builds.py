"""Two builds of corenn side by side: is the new one slower than the old one?

    python bench/ab_builds.py OLD_PYTHON NEW_PYTHON [--threads 2] [--rounds 5] [--only NAME,...]

OLD_PYTHON / NEW_PYTHON are interpreters (e.g. venv/bin/python) whose environment imports the
corenn build to measure. Two builds cannot share one process (one module name), so each
measurement runs in a fresh subprocess of one of them; the builds alternate per workload (A B A B
..., --rounds each) and the best time of each side is kept, so both see the same machine state;
each subprocess starts once the host is idle, and runs during which other processes took >= 5%
of the CPUs count only when no run was clean (the host is shared; /proc/stat says how much).
Prints a Markdown table: per workload, the best ms of each build and new/old speed (> 1: the new
build is faster).

Workloads: training steps of the README's MLP and CNN and of the LSTM / GRU of bench/compare.py
(train_on_batch on random Fashion-MNIST-shaped data), one epoch of fit of the MLP, CNN and LSTM
on 16 batches of such data (fit's own loop: shuffling, batching, the accuracy metric, as
compare.py runs it), a GradientTape training step and a handful of eager keras.ops on small
tensors (the Python cost per op; not on builds without GradientTape / keras.ops, the first wave's),
predict on small batches (the per-batch model lock), and the elementwise /
pooling / GEMM kernels whose NaN handling changed.

The child imports corenn.kernels, or corenn.ops on builds before fda21ae (the same wrappers).
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

# Runs inside the measured build's interpreter: builds the workload, warms it up, then prints the
# best of `blocks` timed blocks as JSON {"ms": per-call milliseconds}.
CHILD = r'''
import json, os, sys, time
import numpy as np
import corenn
from corenn import layers
try:
    from corenn import kernels
except ImportError:  # builds before fda21ae call the kernel wrappers corenn.ops
    from corenn import ops as kernels
name, threads, blocks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
corenn.set_num_threads(threads)
corenn.utils.set_random_seed(0)
rng = np.random.default_rng(0)

def model_step(model, x, y):
    model.compile(optimizer="adam", loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True))
    return lambda: model.train_on_batch(x, y)

def model_fit(model, x, y, batch_size):
    # one epoch of fit as bench/compare.py runs it (shuffle, batching, the accuracy metric)
    model.compile(optimizer="adam", loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return lambda: model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)

def build(name):
    img = rng.random((128, 28, 28), dtype=np.float32)
    lab = rng.integers(0, 10, 128)
    if name.endswith("_fit"):  # the *_step models, one fit epoch of 16 batches
        n = 16 * (64 if name == "cnn_fit" else 128)
        x, y = rng.random((n, 28, 28), dtype=np.float32), rng.integers(0, 10, n)
    if name == "mlp_fit":
        return model_fit(corenn.Sequential([layers.Flatten(input_shape=(28, 28)),
            layers.Dense(512, activation="relu"), layers.Dense(256, activation="relu"),
            layers.Dense(10)]), x, y, 128)
    if name == "cnn_fit":
        return model_fit(corenn.Sequential([layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
            layers.MaxPooling2D(), layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"), layers.Flatten(), layers.Dense(64, activation="relu"),
            layers.Dense(10)]), x[..., None], y, 64)
    if name == "lstm_fit":
        return model_fit(corenn.Sequential([layers.LSTM(64, return_sequences=True, input_shape=(28, 28)),
            layers.LSTM(64), layers.Dense(10)]), x, y, 128)
    if name == "mlp_step":
        return model_step(corenn.Sequential([layers.Flatten(input_shape=(28, 28)),
            layers.Dense(512, activation="relu"), layers.Dense(256, activation="relu"),
            layers.Dense(10)]), img, lab)
    if name == "cnn_step":
        return model_step(corenn.Sequential([layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)),
            layers.MaxPooling2D(), layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"), layers.Flatten(), layers.Dense(64, activation="relu"),
            layers.Dense(10)]), img[:64, :, :, None], lab[:64])
    if name in ("lstm_step", "gru_step"):
        rnn = layers.LSTM if name == "lstm_step" else layers.GRU
        return model_step(corenn.Sequential([rnn(64, return_sequences=True, input_shape=(28, 28)),
            rnn(64), layers.Dense(10)]), img, lab)
    if name == "tape_step":   # a custom training loop (Keras' guide): layer calls and ops under a tape
        m = corenn.Sequential([layers.Flatten(input_shape=(28, 28)), layers.Dense(64, activation="relu"),
                               layers.Dense(10)])
        opt = corenn.optimizers.Adam()
        loss_fn = corenn.losses.SparseCategoricalCrossentropy(from_logits=True)
        xb, yb = img[:32], lab[:32]

        def tape_step():
            with corenn.GradientTape() as tape:
                loss = loss_fn(yb, m(xb, training=True))
            grads = tape.gradient(loss, m.trainable_weights)
            opt.apply_gradients(zip(grads, m.trainable_weights))
        return tape_step
    if name == "ops_small":   # eager keras.ops on 8 x 8 tensors: the Python cost of each op
        o = corenn.ops
        a = o.convert_to_tensor(rng.random((8, 8), dtype=np.float32))
        b = o.convert_to_tensor(rng.random((8, 8), dtype=np.float32))
        return lambda: (o.sum(o.reshape(o.exp(o.add(a, b)), (64,))), o.matmul(a, b), o.concatenate([a, b]),
                        o.where(a > 0.5, a, b), o.transpose(a), o.mean(a, axis=0))
    if name == "predict_b8":
        m = corenn.Sequential([layers.Flatten(input_shape=(28, 28)), layers.Dense(512, activation="relu"),
                               layers.Dense(10)])
        return lambda: m.predict(img, batch_size=8)
    x = rng.standard_normal((1024, 1024), dtype=np.float32)
    y, dx = np.empty_like(x), np.empty_like(x)
    if name.endswith("_fwd"):
        kind = name[:-4]
        return lambda: kernels.activation_forward(kind, x, y)
    if name.endswith("_bwd"):
        kind = name[:-4]
        kernels.activation_forward(kind, x, y)
        return lambda: kernels.activation_backward(kind, x, y, x, dx)
    if name == "maxpool2x2":
        t = rng.standard_normal((64, 28, 28, 32), dtype=np.float32)
        return lambda: kernels.max_pool2d_forward(t, (2, 2), (2, 2), "valid")
    if name == "gemm_relu":
        a = rng.standard_normal((256, 512), dtype=np.float32)
        b = rng.standard_normal((512, 512), dtype=np.float32)
        c = np.empty((256, 512), np.float32)
        return lambda: kernels.gemm(a, b, c, activation="relu")
    raise SystemExit(f"unknown workload {name}")

fn = build(name)
for _ in range(3):
    fn()
# calls per block: about 50 ms of work
t0 = time.perf_counter(); fn(); once = time.perf_counter() - t0
inner = max(1, int(0.05 / max(once, 1e-6)))
best = float("inf")
for _ in range(blocks):
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    best = min(best, (time.perf_counter() - t0) / inner)
print(json.dumps({"ms": best * 1e3}))
'''

WORKLOADS = ["mlp_step", "cnn_step", "lstm_step", "gru_step", "mlp_fit", "cnn_fit", "lstm_fit",
             "tape_step", "ops_small", "predict_b8", "relu_fwd", "relu_bwd", "sigmoid_fwd", "tanh_fwd",
             "softmax_fwd", "elu_fwd", "maxpool2x2", "gemm_relu"]


def measure(python, name, threads, blocks):
    """(ms per call in a fresh subprocess of ``python``, share of the CPUs other processes took)."""
    def run():
        out = subprocess.run([python, "-c", CHILD, name, str(threads), str(blocks)], check=True,
                             capture_output=True, text=True)
        return json.loads(out.stdout.strip().splitlines()[-1])["ms"]
    _common.wait_until_idle()
    return _common.others_share(run)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old_python")
    p.add_argument("new_python")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5, help="alternated subprocesses per build")
    p.add_argument("--blocks", type=int, default=5, help="timed blocks per subprocess")
    p.add_argument("--only", default=None, help="comma-separated workload names")
    args = p.parse_args()
    names = args.only.split(",") if args.only else WORKLOADS
    _common.wait_for_quiet_host()
    print(f"CPU: {_common.cpu_line()}; {args.threads} threads; best of {args.rounds} alternated "
          "subprocesses per build, among those other processes left alone (< 5% of the CPUs)\n")
    print("| workload | old ms | new ms | new/old speed | clean rounds old, new |")
    print("|---|---:|---:|---:|---:|", flush=True)
    for name in names:
        runs = {"old": [], "new": []}
        for r in range(args.rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for side in order:
                python = args.old_python if side == "old" else args.new_python
                runs[side].append(measure(python, name, args.threads, args.blocks))
        (old, n_old, n), (new, n_new, _) = _common.best_clean(runs["old"]), _common.best_clean(runs["new"])
        print(f"| {name} | {old:.3f} | {new:.3f} | {old / new:.3f}x | {n_old}/{n}, {n_new}/{n} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
