"""Helpers shared by bench/tape_loop.py and bench/residual_cnn.py (not a benchmark itself).

The machine line (CPU model, the ISA path corenn dispatches to), the Fashion-MNIST arrays as
float32 in [0, 1], a guard against timing while a compiler runs on the host, the alternation of
timed runs (A B A B ..., best of the rounds), Keras' default initialization for PyTorch modules,
and a Markdown table printer.
"""
import os
import subprocess
import sys
import time

import numpy as np

# Both libraries' idle worker threads spin for a while after a call; a run started while the other
# library's threads still spin would be timed on a half-occupied machine.
PAUSE_S = 0.5


def cpu_line():
    """'AMD EPYC (family 25, model 1), 2 CPUs, AVX2 FMA' from /proc/cpuinfo (Linux)."""
    fields, flags = {}, set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "cpu family", "model") and key not in fields:
                    fields[key] = value.strip()
                if key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        return "unknown CPU (no /proc/cpuinfo)"
    isa = " ".join(name.upper() for name in ("avx2", "fma", "avx512f") if name in flags)
    return (f"{fields.get('model name', '?')} (family {fields.get('cpu family', '?')}, model "
            f"{fields.get('model', '?')}), {os.cpu_count()} CPUs, {isa or 'no AVX2'}")


def corenn_isa(corenn):
    """The kernel path corenn dispatches to (chosen once by cpuid; CORENN_ISA overrides)."""
    try:
        return corenn._C.get_isa()
    except AttributeError:
        return "unknown"


def compiler_running():
    """Whether a C/C++ compiler or CMake runs on this host (timings would be meaningless)."""
    out = subprocess.run(["pgrep", "-f", r"cmake|c\+\+|cc1plus"], capture_output=True, text=True)
    return [p for p in out.stdout.split() if int(p) != os.getpid()]


def wait_for_quiet_host(max_wait_s=1800, poll_s=15):
    """Block while a compiler runs (another engineer's build); give up after max_wait_s."""
    waited = 0
    while compiler_running() and waited < max_wait_s:
        if waited == 0:
            print(f"(a C++ build is running on this host; waiting up to {max_wait_s} s before timing)",
                  flush=True)
        time.sleep(poll_s)
        waited += poll_s
    if compiler_running():
        raise SystemExit("a C++ build is still running; timings would not be meaningful, try later")


def load_fashion(train_size=None):
    """((x, y), (x_test, y_test)): float32 images in [0, 1], shape (N, 28, 28), int64 labels;
    the first train_size training images when given (a fixed subset)."""
    import corenn
    (x, y), (xt, yt) = corenn.datasets.fashion_mnist.load_data()
    if train_size:
        x, y = x[:train_size], y[:train_size]
    return ((x.astype(np.float32) / 255.0, y.astype(np.int64)),
            (xt.astype(np.float32) / 255.0, yt.astype(np.int64)))


def _cpu_ticks():
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values[:8]), idle


def host_busy(interval=0.3):
    """Fraction of all CPUs busy over ``interval`` seconds (we are idle meanwhile, so this is
    everyone else: another engineer's benchmark or build); 0.0 where /proc/stat is missing."""
    try:
        t0, i0 = _cpu_ticks()
        time.sleep(interval)
        t1, i1 = _cpu_ticks()
    except OSError:
        time.sleep(interval)
        return 0.0
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def wait_until_idle(limit=0.25, max_wait_s=900):
    """Before a timed run: wait (up to max_wait_s) until the other processes on the host use less
    than ``limit`` of its CPUs. Returns the busy fraction seen last (reported per round).
    CORENN_BENCH_MAX_WAIT (seconds) overrides max_wait_s (0: never wait, on a host that stays busy)."""
    max_wait_s = float(os.environ.get("CORENN_BENCH_MAX_WAIT", max_wait_s))
    busy, waited = host_busy(), 0.0
    while busy >= limit and waited < max_wait_s:
        if waited == 0.0:
            print(f"  (host {100 * busy:.0f}% busy with other processes; waiting)",
                  file=sys.stderr, flush=True)
        time.sleep(2.0)
        waited += 2.3
        busy = host_busy()
    return busy


def others_share(fn):
    """Run ``fn()`` (which returns its seconds) and measure the share of the host's CPU time that
    other processes took meanwhile: busy ticks of /proc/stat minus this process's own CPU time
    (and its waited-for children's: fn may run the workload in a subprocess).
    Returns (seconds, share); share None where /proc/stat is missing."""
    try:
        t0, i0 = _cpu_ticks()
    except OSError:
        return fn(), None
    c0 = os.times()
    seconds = fn()
    c1 = os.times()
    t1, i1 = _cpu_ticks()
    hz = os.sysconf("SC_CLK_TCK")
    ours = sum(b - a for a, b in zip(c0[:4], c1[:4]))  # user, system, children's user and system
    busy = ((t1 - t0) - (i1 - i0)) / hz
    return seconds, max(0.0, busy - ours) / max(1e-9, (t1 - t0) / hz)


def alternate(runs, rounds, on_round=None):
    """Call each ``runs[name]()`` in turn, A B A B ..., ``rounds`` times; each call returns its
    seconds. Before each call: a pause, then a wait until the host is idle (wait_until_idle);
    during it, the share of the CPUs other processes took (others_share).
    Returns {name: [(seconds, others' share) per round]}."""
    results = {name: [] for name in runs}
    for r in range(rounds):
        for name, fn in runs.items():
            time.sleep(PAUSE_S)
            wait_until_idle()
            results[name].append(others_share(fn))
        if on_round:
            on_round(r, results)
    return results


def best_clean(runs, max_share=0.05):
    """The shortest time among the rounds that other processes left alone (their share of the
    CPUs under ``max_share``); all rounds when none was. Returns (seconds, clean rounds, rounds)."""
    clean = [t for t, share in runs if share is None or share < max_share]
    return min(clean or [t for t, _ in runs]), len(clean), len(runs)


def keras_init_(module):
    """Keras' defaults on a PyTorch module: Glorot-uniform weights of Linear / Conv2d, zero biases
    (BatchNorm keeps gamma 1, beta 0, as in both libraries)."""
    import torch
    for mod in module.modules():
        if isinstance(mod, (torch.nn.Linear, torch.nn.Conv2d)):
            torch.nn.init.xavier_uniform_(mod.weight)
            if mod.bias is not None:
                torch.nn.init.zeros_(mod.bias)


def markdown_table(header, rows):
    """A Markdown table; numeric columns (all but the first) right-aligned."""
    align = ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def versions(corenn, torch):
    import platform
    tv = torch.__version__ if torch is not None else "not installed"
    return (f"corenn {corenn.__version__} ({corenn.__file__.rsplit('/python/', 1)[0]}), "
            f"torch {tv}, numpy {np.__version__}, python {platform.python_version()}")
