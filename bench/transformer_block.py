"""A Transformer encoder block, one training step, corenn against PyTorch's nn.TransformerEncoderLayer.

    python bench/transformer_block.py [--threads 2] [--rounds 3] [--steps 20] [--batch 32]
        [--seq 64] [--d-model 128] [--heads 4] [--ff 512] [--dropout 0.1]

The block (post-norm, as the original Transformer and PyTorch's norm_first=False), in corenn as a
functional keras.Model of its layers:

    x  = keras.Input(shape=(seq, d_model))
    a  = layers.MultiHeadAttention(heads, d_model // heads, dropout=p)(x, x)
    x1 = layers.LayerNormalization(epsilon=1e-5)(x + layers.Dropout(p)(a))
    f  = layers.Dense(d_model)(layers.Dense(ff, activation='relu')(x1))
    y  = layers.LayerNormalization(epsilon=1e-5)(x1 + layers.Dropout(p)(f))

and in PyTorch as nn.TransformerEncoderLayer(d_model, heads, dim_feedforward=ff, dropout=p,
batch_first=True, norm_first=False) (ReLU, eps 1e-5; its dropout also sits on the attention
probabilities, after the first FFN Dense and on the two residual branches: corenn's block has the
first and last two). One training step = forward, mean-squared-error against a fixed random
target, backward, Adam (lr 1e-4, eps 1e-7): corenn with model.train_on_batch, PyTorch with
zero_grad / backward / step. Each round times --steps steps of each, alternated (corenn, torch,
corenn, ...) with a pause and a wait for an idle host between them; the best round among those
in which other processes took < 5% of the CPUs counts. Target (issue 13): corenn >= 1.5x PyTorch.

--smoke: tiny sizes, one round of two steps, no waiting for an idle host (checks that the script
runs; its numbers mean nothing).
"""
import argparse
import os
import sys
import time

import numpy as np


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="alternated rounds per contender (best counts)")
    p.add_argument("--steps", type=int, default=20, help="training steps per round")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--ff", type=int, default=512, help="dim_feedforward")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--smoke", action="store_true", help="tiny sizes, no timing value")
    a = p.parse_args()
    if a.smoke:
        a.rounds, a.steps, a.batch, a.seq, a.d_model, a.heads, a.ff = 1, 2, 2, 8, 16, 2, 32
        os.environ["CORENN_BENCH_MAX_WAIT"] = "0"
    if a.d_model % a.heads:
        p.error(f"--d-model {a.d_model} must be a multiple of --heads {a.heads}")
    return a


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


def data(seed=0):
    rng = np.random.default_rng(seed)
    shape = (ARGS.batch, ARGS.seq, ARGS.d_model)
    return rng.standard_normal(shape).astype(np.float32), rng.standard_normal(shape).astype(np.float32)


class CorennBlock:
    def __init__(self, seed):
        corenn.utils.set_random_seed(seed)
        d, p = ARGS.d_model, ARGS.dropout
        x = keras.Input(shape=(ARGS.seq, d))
        a = layers.MultiHeadAttention(ARGS.heads, d // ARGS.heads, dropout=p)(x, x)
        x1 = layers.LayerNormalization(epsilon=1e-5)(layers.Add()([x, layers.Dropout(p)(a)]))
        f = layers.Dense(d)(layers.Dense(ARGS.ff, activation="relu")(x1))
        y = layers.LayerNormalization(epsilon=1e-5)(layers.Add()([x1, layers.Dropout(p)(f)]))
        self.model = keras.Model(x, y)
        self.model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse")
        self.x, self.y = data()

    def run(self):
        model, x, y = self.model, self.x, self.y
        t0 = time.perf_counter()
        for _ in range(ARGS.steps):
            self.loss = model.train_on_batch(x, y)
        return time.perf_counter() - t0


class TorchBlock:
    def __init__(self, seed):
        torch.manual_seed(seed)
        self.net = torch.nn.TransformerEncoderLayer(ARGS.d_model, ARGS.heads, dim_feedforward=ARGS.ff,
                                                    dropout=ARGS.dropout, batch_first=True,
                                                    norm_first=False)
        _common.keras_init_(self.net)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-4, eps=1e-7)
        self.loss_fn = torch.nn.MSELoss()
        x, y = data()
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)

    def run(self):
        self.net.train()
        t0 = time.perf_counter()
        for _ in range(ARGS.steps):
            self.opt.zero_grad()
            loss = self.loss_fn(self.net(self.x), self.y)
            loss.backward()
            self.opt.step()
        self.loss = float(loss.detach())
        return time.perf_counter() - t0


def main():
    corenn.set_num_threads(ARGS.threads)
    contenders = {"corenn": CorennBlock}
    if torch is not None:
        torch.set_num_threads(ARGS.threads)
        contenders[f"torch {torch.__version__}"] = TorchBlock
    else:
        print("(PyTorch not installed: pip install torch==2.13.0 to compare; timing corenn only)")
    if not ARGS.smoke:
        _common.wait_for_quiet_host()
    print(f"CPU: {_common.cpu_line()}; corenn ISA path: {_common.corenn_isa(corenn)}; "
          f"{ARGS.threads} threads")
    print(_common.versions(corenn, torch))
    print(f"Transformer encoder block: d_model {ARGS.d_model}, {ARGS.heads} heads, seq {ARGS.seq}, "
          f"batch {ARGS.batch}, FFN {ARGS.ff}, dropout {ARGS.dropout}; one training step = forward + MSE "
          f"+ backward + Adam; {ARGS.steps} steps per round, {ARGS.rounds} alternated rounds, best "
          f"clean round counts{' (SMOKE RUN: tiny sizes, numbers mean nothing)' if ARGS.smoke else ''}\n",
          flush=True)
    runs = {name: cls(seed=0) for name, cls in contenders.items()}

    def progress(r, results):
        print(f"  round {r + 1}: " + ", ".join(
            f"{name} {1e3 * res[-1][0] / ARGS.steps:.2f}" + ("" if res[-1][1] is None or res[-1][1] < 0.05 else
                                                             f" [others {100 * res[-1][1]:.0f}%]")
            for name, res in results.items()) + " ms/step", flush=True)

    results = _common.alternate({name: run.run for name, run in runs.items()}, ARGS.rounds, progress)
    best, rows = {}, []
    for name, res in results.items():
        seconds, n_clean, n = _common.best_clean(res)
        best[name] = seconds / ARGS.steps
        rows.append([name, f"{1e3 * best[name]:.2f}", f"{n_clean}/{n}",
                     f"{1e3 * np.median([t for t, _ in res]) / ARGS.steps:.2f}",
                     f"{float(runs[name].loss):.4f}"])
    print()
    print(_common.markdown_table(["framework", "best ms/step", "clean rounds", "median ms/step",
                                  "last loss"], rows))
    print("\nBest of the clean rounds: those in which other processes took < 5% of the CPUs "
          "(all rounds if none was clean).")
    if len(best) == 2:
        a, b = best.values()
        print(f"\nspeed-up corenn vs torch (best, time ratio torch / corenn): **{b / a:.2f}x** (target >= 1.5)")


if __name__ == "__main__":
    main()
