"""Mutated Keras files (bit flips anywhere, flips inside the HDF5 member of an archive with valid
CRCs, truncations, config.json edits) load cleanly or raise ValueError; never another exception,
never a crash of the HDF5 library. The mutants are loaded in a subprocess (fuzz_keras_files.py)
so a crash fails this test instead of ending the run. More: python tests/interop/fuzz_keras_files.py
<count> <seed> <workdir>."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("h5py")

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_keras_files.py")


def test_mutated_keras_files_raise_only_value_error(tmp_path):
    env = dict(os.environ)
    package = os.path.dirname(os.path.dirname(os.path.abspath(__import__("corenn").__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package, env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, WORKER, "256", "11", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"the worker crashed ({proc.returncode}): {proc.stderr[-2000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["bad"] == [], "\n".join(report["bad"])
    assert report["outcomes"]["ValueError"] > report["count"] // 2   # the mutants were really bad
