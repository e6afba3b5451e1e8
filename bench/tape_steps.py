"""Python overhead per step, counted (not timed): Python function calls (cProfile) and, with
--callgrind, instructions (valgrind) per training step / inference call.

    python bench/tape_steps.py                      calls per step of every case
    python bench/tape_steps.py --callgrind          also instructions per step (valgrind runs
                                                    each case once: set-up and warm-up, then
                                                    M = N/5 steps and N = --steps steps, each
                                                    between time.sleep(0) calls where callgrind
                                                    dumps its counts (--dump-before=time_sleep):
                                                    (I_N - I_M) / (N - M) is one step, without
                                                    what a call of fit costs once)
    python bench/tape_steps.py --only tape32,fit32  some cases
    python bench/tape_steps.py --run CASE STEPS     run one case STEPS times (what valgrind runs)

Counts do not depend on how busy the host is, so they can be compared across builds and
sessions on a shared machine; they measure the Python side (the kernels' instructions are in
the callgrind figure too, at one thread).

Cases (random data shaped like Fashion-MNIST: float32 images, uint8 labels):
  fit32, fit128          Sequential MLP 784-64-10 (Flatten, Dense(64, relu), Dense(10)),
                         Adam, SparseCategoricalCrossentropy(from_logits=True), one
                         ``model.fit(..., epochs=1, verbose=0)`` (shuffled, as fit is by
                         default); a step is one batch of that epoch
  tape32, tape128        the program of the graph-models issue (TensorFlow's advanced
                         quickstart): a subclassed MyModel of the same layers, @function
                         train_step with a GradientTape, tape.gradient(loss,
                         model.trainable_variables), optimizer.apply_gradients(zip(...)); batches
                         drawn by a permutation (x[idx]) as tf.data's shuffle gives
  tapeseq32, tapeseq128  the same loop on the Sequential model
  predict_{mlp,cnn,lstm}  model.predict_on_batch(x) at batch 1, the models of
                         bench/onnx_inference.py
  call_{mlp,cnn,lstm}     model(x) at batch 1, the same models
The fit/tape instruction ratio (fit instructions per step / tape's) is the ratio of speeds a
fit-vs-tape timing would show on an idle host if instructions were equally fast.
"""
import argparse
import cProfile
import os
import pstats
import re
import subprocess
import sys

import numpy as np

TRAIN = ("fit32", "fit128", "tape32", "tape128", "tapeseq32", "tapeseq128")
INFER = tuple(f"{kind}_{m}" for kind in ("predict", "call") for m in ("mlp", "cnn", "lstm"))
CASES = TRAIN + INFER


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(CASES), help="comma-separated cases")
    p.add_argument("--callgrind", action="store_true", help="also count instructions with valgrind")
    p.add_argument("--steps", type=int, default=20, help="steps counted by callgrind")
    p.add_argument("--sim", action="store_true",
                   help="with --callgrind: also simulate the caches and branch predictors and print "
                        "instruction-cache misses and mispredicted branches per step (slower)")
    p.add_argument("--run", nargs=2, metavar=("CASE", "STEPS"), help="run one case (for valgrind)")
    return p.parse_args()


def mlp_layers(tf):
    L = tf.keras.layers
    return [L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10)]


def make_case(name):
    """(run(n): n steps of the case, warm-up already done). Imports corenn here so --run under
    valgrind counts the same work as the in-process counts."""
    import corenn as tf
    tf.set_num_threads(1)
    tf.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    if name in TRAIN:
        batch = int(re.sub(r"\D", "", name))
        n_rows = 200 * batch   # enough batches for the largest step count, no wrap-around
        x = rng.random((n_rows, 28, 28, 1), dtype=np.float32)
        y = rng.integers(0, 10, n_rows).astype(np.uint8)
        loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if name.startswith("fit"):
            model = tf.keras.Sequential([tf.keras.Input((28, 28, 1))] + mlp_layers(tf))
            model.compile(optimizer=tf.keras.optimizers.Adam(), loss=loss_object)
            model.fit(x[:4 * batch], y[:4 * batch], batch_size=batch, epochs=1, verbose=0)

            def run(n):
                model.fit(x[:n * batch], y[:n * batch], batch_size=batch, epochs=1, verbose=0)
            return run
        if name.startswith("tapeseq"):
            model = tf.keras.Sequential([tf.keras.Input((28, 28, 1))] + mlp_layers(tf))
        else:
            class MyModel(tf.keras.Model):
                def __init__(self):
                    super().__init__()
                    self.flatten, self.d1, self.d2 = mlp_layers(tf)

                def call(self, x):
                    return self.d2(self.d1(self.flatten(x)))
            model = MyModel()
        optimizer = tf.keras.optimizers.Adam()

        @tf.function
        def train_step(images, labels):
            with tf.GradientTape() as tape:
                predictions = model(images, training=True)
                loss = loss_object(labels, predictions)
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            return loss

        perm = rng.permutation(n_rows)

        def run(n):
            for i in range(n):
                idx = perm[i * batch:(i + 1) * batch]
                train_step(x[idx], y[idx])
        run(4)
        return run
    kind, which = name.split("_")
    L = tf.keras.layers
    if which == "mlp":
        model = tf.Sequential([L.Input(shape=(28, 28)), L.Flatten(), L.Dense(512, activation="relu"),
                               L.Dense(256, activation="relu"), L.Dense(10)])
        x = rng.random((1, 28, 28), dtype=np.float32)
    elif which == "cnn":
        model = tf.Sequential([L.Input(shape=(28, 28, 1)), L.Conv2D(32, 3, activation="relu"),
                               L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2),
                               L.Conv2D(64, 3, activation="relu"), L.Flatten(),
                               L.Dense(64, activation="relu"), L.Dense(10)])
        x = rng.random((1, 28, 28, 1), dtype=np.float32)
    else:
        model = tf.Sequential([L.Input(shape=(28, 28)), L.LSTM(64, return_sequences=True), L.LSTM(64),
                               L.Dense(10)])
        x = rng.random((1, 28, 28), dtype=np.float32)
    fn = model.predict_on_batch if kind == "predict" else model

    def run(n):
        for _ in range(n):
            fn(x)
    run(3)
    return run


def calls_per_step(name, n=60, m=10):
    """Python calls (cProfile's count: Python functions and builtins) per step: the calls of n
    steps minus those of m steps, over n - m (fit's per-epoch work cancels out)."""
    run = make_case(name)
    counts = []
    for steps in (m, n):
        prof = cProfile.Profile()
        prof.enable()
        run(steps)
        prof.disable()
        counts.append(pstats.Stats(prof).total_calls)
    return (counts[1] - counts[0]) / (n - m)


def run_marked(name, steps):
    """--run: the case's set-up and warm-up, then steps // 5 steps and ``steps`` steps, each
    between time.sleep(0) calls (the marks where callgrind dumps its counts)."""
    import time
    run = make_case(name)
    time.sleep(0)
    run(steps // 5)
    time.sleep(0)
    run(steps)
    time.sleep(0)


def instructions(name, steps, sim=False):
    """Instructions per step of ``name`` under callgrind (one run: the dump between the marks);
    with ``sim`` a dict of every simulated event per step (Ir, I1mr: instruction-cache misses,
    Bcm / Bim: mispredicted conditional / indirect branches, ...)."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        cmd = ["valgrind", "--tool=callgrind", "--dump-before=time_sleep", f"--callgrind-out-file={out}"]
        if sim:
            cmd += ["--cache-sim=yes", "--branch-sim=yes"]
        cmd += [sys.executable, os.path.abspath(__file__), "--run", name, str(steps)]
        env = dict(os.environ, CORENN_NUM_THREADS="1", OMP_NUM_THREADS="1")
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        dumps = sorted((f for f in os.listdir(tmp) if re.fullmatch(r"cg\.out\.\d+", f)),
                       key=lambda f: int(f.rsplit(".", 1)[1]))
        if res.returncode != 0 or len(dumps) != 3:
            raise SystemExit(f"valgrind failed for {name} ({steps} steps, dumps {dumps}):\n{res.stderr[-2000:]}")
        counts = []
        for f in dumps[1:]:   # dumps[0]: start-up to the first mark
            with open(os.path.join(tmp, f)) as fh:
                text = fh.read()
            events = re.search(r"^events:\s*(.*)$", text, re.M).group(1).split()
            values = [int(v) for v in re.search(r"^summary:\s*(.*)$", text, re.M).group(1).split()]
            counts.append(dict(zip(events, values)))
    per_step = {k: (counts[1][k] - counts[0].get(k, 0)) / (steps - steps // 5) for k in counts[1]}
    return per_step if sim else per_step["Ir"]


def main():
    args = parse_args()
    if args.run:
        run_marked(args.run[0], int(args.run[1]))
        return
    names = [c for c in args.only.split(",") if c]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; cases: {', '.join(CASES)}")
    rows = {}
    print(f"{'case':<14} {'calls/step':>11}" + (f" {'instr/step':>12}" if args.callgrind else ""), flush=True)
    for name in names:
        calls = calls_per_step(name)
        instr = None
        sim = None
        if args.callgrind:
            instr = instructions(name, args.steps, sim=args.sim)
            if args.sim:
                sim, instr = instr, instr["Ir"]
        rows[name] = (calls, instr)
        print(f"{name:<14} {calls:>11.1f}" + (f" {instr:>12,.0f}" if instr is not None else "")
              + ("".join(f"  {k} {sim[k]:,.0f}" for k in ("I1mr", "Bc", "Bcm", "Bi", "Bim")) if sim else ""),
              flush=True)
    for b in (32, 128):
        fit, tape = rows.get(f"fit{b}"), rows.get(f"tape{b}")
        if fit and tape:
            line = f"batch {b}: fit/tape calls {fit[0] / tape[0]:.2f}"
            if fit[1] and tape[1]:
                line += f", fit/tape instructions {fit[1] / tape[1]:.2f}"
            print(line)


if __name__ == "__main__":
    main()
