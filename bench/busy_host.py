"""MLP training throughput on a quiet host and with one core busy with another process.

    python bench/busy_host.py [--samples 60000] [--repeats 3] [--busy-cpu N] [--no-torch]
    python bench/busy_host.py --smoke        # seconds: a tiny epoch, to check the script runs

The model and training of bench/compare.py's MLP (Flatten -> Dense(512, relu) -> Dense(256, relu)
-> Dense(10), Adam(1e-3), batch 128, from-logits sparse categorical cross-entropy on
Fashion-MNIST), one epoch of --samples images, corenn at 1 and 2 threads and PyTorch at 2 threads
for reference. Each configuration runs quiet, then while a spinning `python -c 'while True:
pass'` process pinned to one CPU (--busy-cpu, default the second CPU this process may use) holds
that core. Runs alternate (A B C A B C ...) and the best of --repeats samples/s is kept.

Why: with OpenMP's fork-join per kernel, a thread the OS did not schedule held its whole share of
every kernel and everyone waited at the barrier (2-core Xeon, one core busy: corenn 2 threads
8,191 samples/s, 1 thread 19,909). The work-claiming pool (csrc/core/thread_pool.h) should keep
"2 threads, busy" near "1 thread, busy". Ratios printed: busy/quiet per configuration and
2 threads / 1 thread.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

import corenn  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=60000, help="training images per timed epoch")
    p.add_argument("--repeats", type=int, default=3, help="alternated rounds; best is kept")
    p.add_argument("--busy-cpu", type=int, default=None,
                   help="CPU the spinning process is pinned to (default: the second allowed CPU)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    p.add_argument("--smoke", action="store_true",
                   help="tiny run (256 samples, 1 round, random data if Fashion-MNIST is missing, "
                        "no waiting for a quiet host): checks the script, measures nothing")
    return p.parse_args()


def load_data(n, smoke):
    try:
        (x, y), _ = _common.load_fashion(n)
    except Exception as exc:  # no dataset on this machine
        if not smoke:
            raise
        print(f"(Fashion-MNIST unavailable: {exc!s:.80}; random data)")
        rng = np.random.default_rng(0)
        x = rng.random((n, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, size=n).astype(np.int64)
    return x[:n], y[:n]


def corenn_epoch(x, y, threads):
    corenn.set_num_threads(threads)
    corenn.utils.set_random_seed(0)
    model = corenn.Sequential([
        corenn.layers.Input(shape=(28, 28)),
        corenn.layers.Flatten(),
        corenn.layers.Dense(512, activation="relu"),
        corenn.layers.Dense(256, activation="relu"),
        corenn.layers.Dense(10),
    ])
    model.compile(optimizer=corenn.optimizers.Adam(1e-3),
                  loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.train_on_batch(x[:128], y[:128])  # first-call costs (allocation, workers) off the clock
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=1, verbose=0, shuffle=False)
    return time.perf_counter() - t0


def torch_epoch(x, y, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Flatten(),
        torch.nn.Linear(784, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )
    _common.keras_init_(net)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step(xb, yb):
        opt.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()

    step(xt[:128], yt[:128])
    t0 = time.perf_counter()
    for i in range(0, len(xt), 128):
        step(xt[i:i + 128], yt[i:i + 128])
    return time.perf_counter() - t0


def start_spinner(cpu):
    """A process that keeps `cpu` busy until it is terminated."""
    code = f"import os\nos.sched_setaffinity(0, {{{cpu}}})\nwhile True: pass\n"
    proc = subprocess.Popen([sys.executable, "-c", code])
    time.sleep(0.3)  # let it start and settle on its CPU
    if proc.poll() is not None:
        raise SystemExit(f"the spinning process exited at once (rc {proc.returncode}); "
                         f"is CPU {cpu} allowed?")
    return proc


def main():
    args = parse_args()
    if args.smoke:
        args.samples, args.repeats = 256, 1
    elif _common.compiler_running():
        _common.wait_for_quiet_host()
    cpus = sorted(os.sched_getaffinity(0))
    busy_cpu = args.busy_cpu if args.busy_cpu is not None else cpus[min(1, len(cpus) - 1)]
    if len(cpus) < 2:
        print(f"warning: this process may use only {len(cpus)} CPU; the busy runs share it")
    x, y = load_data(args.samples, args.smoke)
    print(_common.cpu_line())
    print(f"corenn {corenn.__version__} ({_common.corenn_isa(corenn)}), "
          f"torch {torch.__version__ if torch else 'not installed'}; {len(x)} samples per epoch, "
          f"best of {args.repeats}; busy: a spinning process pinned to CPU {busy_cpu}")

    runs = {"corenn 1 thread": lambda: corenn_epoch(x, y, 1),
            "corenn 2 threads": lambda: corenn_epoch(x, y, 2)}
    if torch is not None and not args.no_torch:
        runs["torch 2 threads"] = lambda: torch_epoch(x, y, 2)
    best = {}
    for state in ("quiet", "busy"):
        spinner = start_spinner(busy_cpu) if state == "busy" else None
        try:
            for _ in range(args.repeats):
                for name, fn in runs.items():
                    time.sleep(0 if args.smoke else _common.PAUSE_S)
                    best[name, state] = min(best.get((name, state), float("inf")), fn())
        finally:
            if spinner is not None:
                spinner.terminate()
                spinner.wait()
    corenn.set_num_threads(0)

    rate = {k: len(x) / t for k, t in best.items()}
    print(f"\n| {'samples/s':<18} | {'quiet':>9} | {'1 core busy':>11} | {'busy/quiet':>10} |")
    print(f"|{'-' * 20}|{'-' * 10}:|{'-' * 12}:|{'-' * 11}:|")
    for name in runs:
        q, b = rate[name, "quiet"], rate[name, "busy"]
        print(f"| {name:<18} | {q:>9,.0f} | {b:>11,.0f} | {b / q:>10.2f} |")
    for state in ("quiet", "busy"):
        two, one = rate["corenn 2 threads", state], rate["corenn 1 thread", state]
        line = f"{state}: corenn 2 threads / 1 thread = {two / one:.2f}"
        if ("torch 2 threads", state) in rate:
            line += f"; corenn 2 threads / torch 2 threads = {two / rate['torch 2 threads', state]:.2f}"
        print(line)
    if args.smoke:
        print("(smoke run: too small to mean anything)")


if __name__ == "__main__":
    main()
