"""Two builds of corenn side by side: is the new one slower than the old one?

    python bench/ab_builds.py OLD_PYTHON NEW_PYTHON [--threads 2] [--rounds 5] [--only NAME,...]

OLD_PYTHON / NEW_PYTHON are interpreters (e.g. venv/bin/python) whose environment imports the
corenn build to measure. Two builds cannot share one process (one module name), so each
measurement runs in a fresh subprocess of one of them; the builds alternate per workload (A B A B
..., --rounds each) and the best time of each side is kept, so both see the same machine state.
Prints, per workload, the best ms of each build and new/old speed (> 1: the new build is faster).

Workloads: training steps of the README's MLP and CNN and of the LSTM / GRU of bench/compare.py
(train_on_batch on random Fashion-MNIST-shaped data), predict on small batches (the per-batch
model lock), and the elementwise / pooling / GEMM kernels whose NaN handling changed.
"""
import argparse
import json
import subprocess
import sys

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

def build(name):
    img = rng.random((128, 28, 28), dtype=np.float32)
    lab = rng.integers(0, 10, 128)
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

WORKLOADS = ["mlp_step", "cnn_step", "lstm_step", "gru_step", "predict_b8", "relu_fwd", "relu_bwd",
             "sigmoid_fwd", "tanh_fwd", "softmax_fwd", "elu_fwd", "maxpool2x2", "gemm_relu"]


def measure(python, name, threads, blocks):
    out = subprocess.run([python, "-c", CHILD, name, str(threads), str(blocks)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["ms"]


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
    print(f"{'workload':<14} {'old ms':>9} {'new ms':>9} {'new/old speed':>14}")
    for name in names:
        best = {"old": float("inf"), "new": float("inf")}
        for r in range(args.rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for side in order:
                python = args.old_python if side == "old" else args.new_python
                best[side] = min(best[side], measure(python, name, args.threads, args.blocks))
        print(f"{name:<14} {best['old']:9.3f} {best['new']:9.3f} {best['old'] / best['new']:13.3f}x",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
