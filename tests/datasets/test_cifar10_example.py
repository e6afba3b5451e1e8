"""examples/train_cifar10_cnn.py: a clear message without data, a full run on a tiny archive."""
import os
import subprocess
import sys

import numpy as np

from test_cifar import cifar10_archive

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "examples", "train_cifar10_cnn.py")


def run(tmp_path, *args):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), MPLBACKEND="Agg")
    env.pop("CORENN_DATA", None)
    return subprocess.run([sys.executable, SCRIPT, "--no-download", "--out",
                           str(tmp_path / "out"), *args], capture_output=True, text=True,
                          env=env, timeout=300)


def test_without_data_says_how_to_get_it(tmp_path):
    result = run(tmp_path)
    assert result.returncode == 2
    assert "cifar-10-binary.tar.gz" in result.stderr and "--data PATH" in result.stderr
    assert "Traceback" not in result.stderr


def test_trains_on_a_tiny_archive(tmp_path):
    archive = tmp_path / "tiny.tar.gz"
    cifar10_archive(np.random.default_rng(0), archive, sizes=(8, 8, 8, 8, 8), n_test=8)
    result = run(tmp_path, "--data", str(archive), "--epochs", "1", "--batch-size", "16")
    assert result.returncode == 0, result.stderr
    assert "test accuracy:" in result.stdout
    assert os.path.isfile(tmp_path / "out" / "cifar10_cnn.weights.npz")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert os.path.isfile(tmp_path / "out" / "cifar10_cnn_history.png")
