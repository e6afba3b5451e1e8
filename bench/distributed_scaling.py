"""Data-parallel scaling on one machine (2 ranks x 1 thread vs 1 process x 1 thread) and a model
of scaling to N machines.

    python bench/distributed_scaling.py [--samples 12000] [--batch-size 128] [--ranks 2]
    python bench/distributed_scaling.py --smoke     # seconds, synthetic data: checks the script runs

For the Fashion-MNIST CNN of examples/train_fashion_cnn.py and the MLP of bench/compare.py
(Flatten -> Dense(512) -> Dense(256) -> Dense(10), Adam, global batch --batch-size): one epoch of
--samples images in one process with one thread, then under ``mpiexec -n --ranks`` with one
thread per rank, twice: gradient buckets reduced while backward runs (overlap) and all reduced
after backward (after). Printed, as Markdown tables with the CPU model:
- samples/s and the speed-up over one process (target for the CNN on 2 ranks: >= 1.8x);
- per step: gradient bytes per rank, the time the optimizer waited for the reduction (exposed),
  the reduction's span from the first bucket started to the last done, and the share of the
  reduction hidden behind backward: 1 - exposed / span (overlap mode), with the "after" mode's
  step time as the comparison;
- the scaling model: per node per step compute t_c = (one process's time per sample) x B / N,
  ring allreduce t_r = 2 (N - 1) / N x bytes / bandwidth (10 and 100 Gbit/s, no overlap assumed,
  latency ignored), efficiency t_c / (t_c + t_r) at 2, 8 and 64 nodes for the measured global
  batch, and the smallest global batch keeping >= 90 % efficiency:
  B >= 9 x t_r x N / t_sample.
A fourth run, the ceiling, starts the same ranks with no communication at all: each trains its
share of the samples at its share of the batch, so its speed-up is what this machine allows two
processes (shared caches, memory bandwidth, the host's scheduling of the VM's cores).
The four runs alternate for --rounds rounds and the fastest epoch of each is reported.
The worker mode (--worker) is what mpiexec runs; it prints one JSON line per measurement.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

NODES = (2, 8, 64)
BANDWIDTHS_GBIT = (10, 100)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=12000, help="training images per timed epoch")
    p.add_argument("--batch-size", type=int, default=128, help="global batch")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3,
                   help="alternated rounds (single, overlap, after, single, ...); the best epoch of each is kept")
    p.add_argument("--models", default="cnn,mlp")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, synthetic data")
    p.add_argument("--synthetic", action="store_true", help="random images instead of Fashion-MNIST")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mode", default="overlap", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.smoke:
        a.samples, a.synthetic = 512, True
    return a


def build(kind):
    import corenn
    from corenn import layers
    corenn.utils.set_random_seed(0)
    if kind == "cnn":
        stack = [layers.Input(shape=(28, 28, 1)), layers.Conv2D(32, (3, 3), activation="relu"),
                 layers.MaxPooling2D((2, 2)), layers.Conv2D(64, (3, 3), activation="relu"),
                 layers.MaxPooling2D((2, 2)), layers.Conv2D(64, (3, 3), activation="relu"),
                 layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(10)]
    else:
        stack = [layers.Input(shape=(28, 28, 1)), layers.Flatten(), layers.Dense(512, activation="relu"),
                 layers.Dense(256, activation="relu"), layers.Dense(10)]
    model = corenn.Sequential(stack)
    model.compile(optimizer=corenn.optimizers.Adam(1e-3),
                  loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def data(args):
    if args.synthetic:
        rng = np.random.default_rng(0)
        return (rng.random((args.samples, 28, 28, 1), dtype=np.float32),
                rng.integers(0, 10, args.samples).astype(np.int64))
    (x, y), _ = _common.load_fashion(args.samples)
    return x.reshape(-1, 28, 28, 1), y


def worker(args):
    """One measurement per model: prints JSON lines (rank 0 only under MPI)."""
    import corenn
    x, y = data(args)
    distributed = "OMPI_COMM_WORLD_SIZE" in os.environ or "PMI_SIZE" in os.environ
    for kind in args.models.split(","):
        model = build(kind)
        model.fit(x[:args.batch_size * 2], y[:args.batch_size * 2], batch_size=args.batch_size, verbose=0)  # warm
        if distributed and args.mode == "independent":
            # The machine's own ceiling: every rank trains its share of the samples at its share of
            # the batch with no communication at all, so what this loses against one process is
            # what two processes cost each other (cores, caches, memory bandwidth), not MPI.
            import corenn.distributed as dist
            dist.init()
            xs, ys = x[dist.rank()::dist.size()], y[dist.rank()::dist.size()]
            dist.barrier()
            t0 = time.perf_counter()
            model.fit(xs, ys, batch_size=args.batch_size // dist.size(), epochs=1, verbose=0)
            seconds = float(dist.allreduce(np.array([time.perf_counter() - t0]), op="max")[0])
            if dist.rank() == 0:
                print(json.dumps({"model": kind, "mode": args.mode, "ranks": dist.size(), "seconds": seconds,
                                  "samples": len(x)}), flush=True)
        elif distributed:
            import corenn.distributed as dist
            strategy = dist.DataParallel(overlap=args.mode == "overlap")
            with strategy:
                dist.barrier()
                t0 = time.perf_counter()
                model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)
                seconds = time.perf_counter() - t0
            st = strategy.reducer.stats
            if dist.rank() == 0:
                print(json.dumps({"model": kind, "mode": args.mode, "ranks": dist.size(), "seconds": seconds,
                                  "samples": len(x), "steps": st.steps, "bytes_per_step": st.bytes / max(1, st.steps),
                                  "wait_s_per_step": st.wait_s / max(1, st.steps),
                                  "span_s_per_step": st.launch_to_done_s / max(1, st.steps)}), flush=True)
        else:
            t0 = time.perf_counter()
            model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)
            seconds = time.perf_counter() - t0
            print(json.dumps({"model": kind, "mode": "single", "ranks": 1, "seconds": seconds, "samples": len(x),
                              "steps": -(-len(x) // args.batch_size)}), flush=True)


def run_worker(args, ranks, mode):
    here = os.path.abspath(__file__)
    cmd = [sys.executable, here, "--worker", "--mode", mode, "--samples", str(args.samples),
           "--batch-size", str(args.batch_size), "--models", args.models] + (["--synthetic"] if args.synthetic else [])
    env = dict(os.environ, CORENN_NUM_THREADS="1")
    if ranks > 1:
        mpiexec = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
        if mpiexec is None:
            sys.exit("no mpiexec: pip install 'corenn[distributed]'")
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        cmd = [mpiexec, "-n", str(ranks), "--oversubscribe", "--bind-to", "core"] + cmd
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        sys.exit(f"worker failed ({' '.join(cmd)}):\n{out.stdout[-2000:]}{out.stderr[-4000:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def main():
    args = parse_args()
    if args.worker:
        worker(args)
        return
    import corenn
    print(f"CPU: {_common.cpu_line()}; corenn {corenn.__version__}, kernels {_common.corenn_isa(corenn)}")
    print(f"one epoch of {args.samples} {'synthetic' if args.synthetic else 'Fashion-MNIST'} images, "
          f"global batch {args.batch_size}, 1 thread per process, best of {args.rounds} alternated rounds\n")
    # A B C A B C ...: a noisy moment hurts one round of each contender, not one contender
    best = {"single": {}, "overlap": {}, "after": {}, "independent": {}}
    for _ in range(1 if args.smoke else args.rounds):
        for mode in best:
            for r in run_worker(args, 1 if mode == "single" else args.ranks, mode):
                if r["model"] not in best[mode] or r["seconds"] < best[mode][r["model"]]["seconds"]:
                    best[mode][r["model"]] = r
    single = best["single"]
    runs = {mode: best[mode] for mode in ("overlap", "after")}
    rows, comm_rows, model_rows = [], [], []
    for kind in args.models.split(","):
        s, o, a = single[kind], runs["overlap"][kind], runs["after"][kind]
        ind = best["independent"][kind]
        sps = lambda r: r["samples"] / r["seconds"]  # noqa: E731
        rows.append([kind.upper(), f"{sps(s):,.0f}", f"{sps(o):,.0f}", f"{sps(o) / sps(s):.2f}x",
                     f"{sps(a):,.0f}", f"{sps(a) / sps(s):.2f}x", f"{sps(ind):,.0f}", f"{sps(ind) / sps(s):.2f}x"])
        step_o, step_a = o["seconds"] / o["steps"] * 1e3, a["seconds"] / a["steps"] * 1e3
        hidden = 1 - o["wait_s_per_step"] / o["span_s_per_step"] if o["span_s_per_step"] > 0 else 0.0
        comm_rows.append([kind.upper(), f"{o['bytes_per_step'] / 2**20:.2f}", f"{o['wait_s_per_step'] * 1e3:.3f}",
                          f"{o['span_s_per_step'] * 1e3:.3f}", f"{hidden:.0%}", f"{a['wait_s_per_step'] * 1e3:.3f}",
                          f"{step_o:.2f}", f"{step_a:.2f}"])
        t_sample = s["seconds"] / s["samples"]
        nbytes = o["bytes_per_step"]
        for gbit in BANDWIDTHS_GBIT:
            bw = gbit * 1e9 / 8
            cells = [kind.upper(), f"{gbit} Gbit/s"]
            for n in NODES:
                t_r = 2 * (n - 1) / n * nbytes / bw
                t_c = t_sample * args.batch_size / n
                b90 = 9 * t_r * n / t_sample
                cells.append(f"{t_c / (t_c + t_r):.0%} (B>={int(np.ceil(b90)):,})")
            model_rows.append(cells)
    print(f"## Throughput: {args.ranks} ranks x 1 thread vs 1 process x 1 thread\n")
    print(_common.markdown_table(["model", "1 proc samples/s", "overlap samples/s", "speed-up",
                                  "after-backward samples/s", "speed-up",
                                  "no-communication ceiling samples/s", "ceiling speed-up"], rows))
    print("\n## Gradient reduction per step (rank 0)\n")
    print(_common.markdown_table(["model", "MiB/step", "overlap: exposed ms", "overlap: span ms", "hidden",
                                  "after: exposed ms", "step ms overlap", "step ms after"], comm_rows))
    print(f"\n## Model: efficiency at global batch {args.batch_size} on N nodes (ring allreduce, no overlap), "
          "and the global batch for >= 90 %\n")
    print(_common.markdown_table(["model", "link"] + [f"N={n}" for n in NODES], model_rows))


if __name__ == "__main__":
    main()
