"""corenn.kernels.gemm (preallocated output, from Python) vs NumPy/OpenBLAS float32 in one run.

    python bench/kernels/gemm_vs_numpy.py [--threads 2]

Same cases as bench_gemm: square sizes and the three GEMMs of each Dense layer of a
784-512-256-10 MLP. Times are the best of repeated calls, each library in its own block (see
best_time for why not interleaved); ratio > 1 means corenn is faster.
Set OPENBLAS_NUM_THREADS to the same thread count for a fair comparison (done below when unset).
"""
import argparse
import os
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--budget", type=float, default=0.3, help="seconds per case and library")
args = parser.parse_args()
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))

import numpy as np  # noqa: E402  (after OPENBLAS_NUM_THREADS)

import corenn  # noqa: E402
from corenn import kernels  # noqa: E402


def best_time(f, budget):
    """Best time of f over repeated calls for about `budget` seconds.

    Each library is timed in its own block, after a pause: OpenBLAS's and OpenMP's worker threads
    busy-wait for a while after a call, so alternating calls of the two libraries makes each one's
    idle workers steal the other's cores (both slow down, erratically).
    """
    time.sleep(0.05)
    f()
    best, total, reps = float("inf"), 0.0, 0
    while total < budget or reps < 3:
        t0 = time.perf_counter()
        f()
        dt = time.perf_counter() - t0
        best, total, reps = min(best, dt), total + dt, reps + 1
    return best


def main():
    corenn.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    cases = [("square", False, False, n, n, n) for n in (256, 512, 1024, 2048)]
    for batch in (64, 128, 256):
        for k_in, k_out in ((784, 512), (512, 256), (256, 10)):
            cases += [("fwd NN", False, False, batch, k_out, k_in),
                      ("dW  TN", True, False, k_in, k_out, batch),
                      ("dX  NT", False, True, batch, k_in, k_out)]
    print(f"threads={args.threads}  isa={corenn.kernels._C.get_isa()}")
    print(f"{'case':8} {'M':>5} {'N':>5} {'K':>5} {'corenn GF/s':>12} {'numpy GF/s':>11} {'ratio':>6}")
    ratios = []
    for name, ta, tb, m, n, k in cases:
        a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
        b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
        c = np.empty((m, n), np.float32)
        at, bt, ct = kernels.as_tensor(a), kernels.as_tensor(b), kernels.as_tensor(c)
        a_op, b_op = (a.T if ta else a), (b.T if tb else b)
        t_corenn = best_time(lambda: kernels.gemm(at, bt, ct, trans_a=ta, trans_b=tb), args.budget)
        t_numpy = best_time(lambda: np.dot(a_op, b_op, out=c), args.budget)
        flops = 2.0 * m * n * k
        ratios.append(t_numpy / t_corenn)
        print(f"{name:8} {m:5d} {n:5d} {k:5d} {flops / t_corenn * 1e-9:12.1f} "
              f"{flops / t_numpy * 1e-9:11.1f} {t_numpy / t_corenn:6.2f}")
    print(f"geometric mean ratio: {np.exp(np.mean(np.log(ratios))):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
