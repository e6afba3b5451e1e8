"""Seeded mutation fuzzing of both file formats (see fuzz_files.py): bit flips, byte overwrites,
truncations, declared-size and deflate zip bombs, .npy header edits and JSON edits (huge /
negative / float / list / null units, unknown class names, nested junk, out-of-range optimizer
hyper-parameters). Each mutant must load cleanly or raise ValueError naming the file, and the
loads must not take more memory than ~2x the weights the file declares plus a fixed slack.

CORENN_FUZZ_COUNT=<n> runs more (or fewer) mutants per format; the default is 2,000.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
COUNT = int(os.environ.get("CORENN_FUZZ_COUNT", "2000"))
RSS_SLACK = 32 << 20  # interpreter noise; the defects this guards against took 0.2-4.6 GB


def test_mutated_files_raise_only_value_error_in_bounded_memory(tmp_path):
    env = dict(os.environ, CORENN_NUM_THREADS="1", OMP_NUM_THREADS="1")
    procs = {}
    for kind, seed in (("keras", 20240), ("npz", 20241)):  # both formats at once: 2 cores
        work = tmp_path / kind
        work.mkdir()
        procs[kind] = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "fuzz_files.py"), kind, str(COUNT), str(seed),
             str(work)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for kind, proc in procs.items():
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, f"{kind} worker failed:\n{err[-4000:]}"
        report = json.loads(out.strip().splitlines()[-1])
        assert report["n_problems"] == 0, (f"{kind}: {report['n_problems']} mutants did not give "
                                           f"a clean load or a ValueError naming the file:\n"
                                           + "\n".join(report["problems"]))
        outcomes = report["outcomes"]
        assert outcomes["ValueError"] + outcomes["loaded"] == COUNT
        assert outcomes["ValueError"] >= 0.8 * COUNT  # the mutants are mostly bad: it fuzzes
        bound = 2 * max(report["declared"], report["file_size"]) + RSS_SLACK
        assert report["rss_growth"] <= bound, (f"{kind}: loading the mutants grew the peak RSS "
                                               f"by {report['rss_growth']} bytes (> {bound})")
