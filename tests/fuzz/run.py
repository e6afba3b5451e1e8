"""Command line of the fuzz suite.

    python -m tests.fuzz.run --calls 50000 [--seed 1] [--ops gemm,conv2d] [--json out.json]
    python -m tests.fuzz.run --repro 'KEY'      # one call, in a child, with its traceback/report

Prints the summary (calls, ok, rejected, BAD by category with examples and a reproducer line per
BAD category) and exits 1 when any call is BAD. CORENN_FUZZ_CALLS / CORENN_FUZZ_SEED give the
defaults of --calls / --seed.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

if __package__ in (None, "", "tests.fuzz"):  # make the package importable as ``fuzz``
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fuzz import harness  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--calls", type=int, default=int(os.environ.get("CORENN_FUZZ_CALLS", "50000")))
    p.add_argument("--seed", type=int, default=int(os.environ.get("CORENN_FUZZ_SEED", "1")))
    p.add_argument("--ops", default="", help="comma-separated subset of ops (default: all)")
    p.add_argument("--json", default="", help="write every BAD result here")
    p.add_argument("--repro", default="", help="run one case key in a child and show it")
    p.add_argument("--no-confirm", action="store_true", help="do not re-run crashes alone")
    a = p.parse_args(argv)
    if a.repro:
        env = dict(os.environ, PYTHONPATH=harness.TESTS_DIR)
        rc = subprocess.call([sys.executable, "-m", "fuzz.worker", "--repro", a.repro],
                             cwd=harness.TESTS_DIR, env=env)
        print(f"exit status {rc}" + (" (killed by a signal)" if rc < 0 else ""))
        return 0 if rc == 0 else 1
    from fuzz.specs import SPECS
    ops = a.ops.split(",") if a.ops else sorted(SPECS)
    keys = harness.keys_for(a.calls, a.seed, ops)
    t0 = time.time()
    w = harness.Worker()
    results = w.run(keys)
    w.stop()
    if not a.no_confirm:
        harness.confirm_crashes(results)
    elapsed = time.time() - t0
    print(harness.format_report(results, elapsed))
    print(f"(child processes started: {w.starts})")
    bad = [r for r in results if harness.verdict(r) == "bad"]
    if a.json:
        with open(a.json, "w") as f:
            json.dump(bad, f, indent=1, default=str)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
