"""The softmax cross-entropy from logits, value and fused gradient, on each ISA path corenn has here.

    python bench/loss_rows.py [--threads 2] [--rounds 7]

kernels.loss_forward('sparse_categorical_crossentropy', logits, labels, grad, from_logits=True)
at a classifier's shapes (batch x 10 classes) and a language model's (1,000 and 10,000 classes),
with the micro-kernel ISA forced to ref (the scalar double reference row), avx2 and avx512 in
turn (those the CPU has), alternated each round, best of --rounds rounds; a round is at least
0.1 s of calls. Optionally PyTorch's F.cross_entropy forward + backward on the same logits.
Prints a Markdown table with the CPU model; times in microseconds per call.
"""
import argparse
import os
import sys
import time

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--threads", type=int, default=2)
p.add_argument("--rounds", type=int, default=7)
ARGS = p.parse_args()
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

import corenn  # noqa: E402
from corenn import kernels  # noqa: E402
from _common import cpu_line, markdown_table  # noqa: E402

try:
    import torch  # noqa: E402
    import torch.nn.functional as F  # noqa: E402
    torch.set_num_threads(ARGS.threads)
except ImportError:
    torch = None

corenn.set_num_threads(ARGS.threads)
ISAS = [isa for isa, ok in (("ref", True), ("avx2", corenn._C.cpu_has_avx2_fma()),
                            ("avx512", corenn._C.cpu_has_avx512())) if ok]
SHAPES = [(32, 10), (128, 10), (32, 1000), (64, 10000)]


def per_call_us(f):
    f()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 0.1:
        f()
        n += 1
    return (time.perf_counter() - t0) / n * 1e6


rng = np.random.default_rng(0)
rows = []
default_isa = corenn._C.get_isa()
for batch, classes in SHAPES:
    logits = (rng.standard_normal((batch, classes)) * 3).astype(np.float32)
    labels = rng.integers(0, classes, batch)
    grad = np.empty_like(logits)
    runs = {}
    for isa in ISAS:
        def run(isa=isa):
            corenn._C.set_isa(isa)
            kernels.loss_forward("sparse_categorical_crossentropy", logits, labels, grad, from_logits=True)
        runs[isa] = run
    if torch is not None:
        tl, ty = torch.tensor(logits, requires_grad=True), torch.tensor(labels)

        def torch_run():
            tl.grad = None
            F.cross_entropy(tl, ty).backward()
        runs["torch"] = torch_run
    best = {k: float("inf") for k in runs}
    for _ in range(ARGS.rounds):
        for k, f in runs.items():
            best[k] = min(best[k], per_call_us(f))
    corenn._C.set_isa(default_isa)
    rows.append([f"{batch} x {classes}"] + [f"{best[isa]:.2f}" for isa in ISAS]
                + ([f"{best['torch']:.2f}"] if torch is not None else [])
                + [f"{best['ref'] / best[ISAS[-1]]:.1f}x"])

print(f"CPU: {cpu_line()}; {ARGS.threads} threads; corenn's default ISA path: {default_isa}")
print(markdown_table(["logits"] + [f"corenn {isa} (us)" for isa in ISAS]
                     + (["torch F.cross_entropy fwd+bwd (us)"] if torch is not None else [])
                     + [f"ref / {ISAS[-1]}"], rows))
