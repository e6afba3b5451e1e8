"""The kernels' thread pool (csrc/core/thread_pool.*, parallel.*): chunking, reproducibility,
errors raised inside a parallel region, nesting, concurrent callers, fork, and the default thread
count (CORENN_NUM_THREADS, OMP_NUM_THREADS, CPU affinity)."""
import contextlib
import multiprocessing
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import corenn
from corenn import _C, kernels


@contextlib.contextmanager
def threads(n):
    old = corenn.get_num_threads()
    corenn.set_num_threads(n)
    try:
        yield
    finally:
        corenn.set_num_threads(old)


# ---- chunking -----------------------------------------------------------------------------------

@pytest.mark.parametrize("nthreads", [2, 3, 5])
@pytest.mark.parametrize("n,grain", [(1, 1), (7, 1), (100, 7), (1000, 1), (12345, 100), (50, 30)])
def test_chunks_cover_the_range_once_and_depend_only_on_range_grain_threads(nthreads, n, grain):
    with threads(nthreads):
        first = _C._parallel_for_probe(n, grain)
        for _ in range(5):
            assert _C._parallel_for_probe(n, grain) == first
    chunks, visits, _ = first
    assert visits == [1] * n
    assert chunks[0][0] == 0 and chunks[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    assert len(chunks) <= 4 * nthreads
    most = max(1, min(n // grain, 4 * nthreads))
    # a whole number of chunks per thread when there are at least as many chunks as threads,
    # so an even claim gives every thread the same share
    assert len(chunks) == (most // nthreads * nthreads if most >= nthreads else most)
    if len(chunks) > 1:
        assert min(hi - lo for lo, hi in chunks) >= grain


def test_one_thread_and_small_ranges_run_as_one_chunk():
    with threads(1):
        assert _C._parallel_for_probe(10000, 1)[0] == [(0, 10000)]
    with threads(3):
        assert _C._parallel_for_probe(15, 8)[0] == [(0, 15)]


def test_nested_parallel_for_runs_inline():
    with threads(3):
        chunks, visits, nested_inline = _C._parallel_for_probe(600, 1, nested=True)
    assert len(chunks) == 12 and visits == [1] * 600
    assert nested_inline


@pytest.mark.parametrize("fail_at", [0, 333, 599])
def test_an_error_inside_a_parallel_region_raises_on_the_caller(fail_at):
    with threads(3):
        with pytest.raises(ValueError, match="fails on purpose"):
            _C._parallel_for_probe(600, 1, fail_at=fail_at)
        # The pool is still usable afterwards.
        chunks, visits, _ = _C._parallel_for_probe(600, 1)
    assert visits == [1] * 600 and len(chunks) == 12


# ---- reproducibility ----------------------------------------------------------------------------

def _reductions(rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    x = rng.normal(size=(4099, 37)).astype(np.float32)
    y = rng.normal(size=x.shape).astype(np.float32)
    labels = rng.integers(0, 37, size=4099).astype(np.int32)
    out = {}
    g = kernels.empty(x.shape)
    out["mse"] = kernels.loss_forward("mean_squared_error", x, y, grad=g)
    out["mse_grad"] = np.asarray(g).copy()
    g = kernels.empty(x.shape)
    out["sce"] = kernels.loss_forward("sparse_categorical_crossentropy", x, labels, grad=g,
                                      from_logits=True)
    out["sce_grad"] = np.asarray(g).copy()
    out["bias_grad"] = np.asarray(kernels.bias_grad(x)).copy()
    _, mean, inv_std = kernels.batch_norm_forward_train(x, None, None)
    out["bn_mean"], out["bn_inv_std"] = np.asarray(mean).copy(), np.asarray(inv_std).copy()
    out["sum_all"] = np.asarray(kernels.reduce_forward("sum", x)).copy()
    out["sum_rows"] = np.asarray(kernels.reduce_forward("sum", x, axes=(0,))).copy()
    return out


def _assert_same_bits(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]), err_msg=k)


@pytest.mark.parametrize("nthreads", [2, 3])
def test_reductions_are_bit_identical_run_to_run(nthreads):
    with threads(nthreads):
        first = _reductions()
        for _ in range(4):
            _assert_same_bits(first, _reductions())
    # And they are right (float64 reference; loose: float32 accumulation orders differ).
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4099, 37))
    np.testing.assert_allclose(first["bias_grad"], x.sum(0), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(first["bn_mean"], x.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(first["sum_all"], x.sum(), rtol=1e-4, atol=1e-2)


@pytest.mark.parametrize("m,n,k,trans_a,trans_b", [
    (300, 200, 784, False, False),   # row split, one depth group
    (8, 1000, 300, False, True),     # few rows: column split
    (48, 2048, 1100, True, False),   # several depth steps and depth groups
    (97, 33, 64, False, False),      # narrow
])
def test_gemm_gives_the_same_bits_for_any_thread_count(m, n, k, trans_a, trans_b):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.normal(size=(n, k) if trans_b else (k, n)).astype(np.float32)
    bias = rng.normal(size=n).astype(np.float32)
    results = []
    for nthreads in (1, 2, 3, 4):
        with threads(nthreads):
            for _ in range(2):
                c = kernels.gemm(a, b, trans_a=trans_a, trans_b=trans_b, bias=bias,
                                 activation="relu")
                results.append(np.asarray(c).copy())
    for r in results[1:]:
        np.testing.assert_array_equal(results[0], r)
    a64 = a.T.astype(np.float64) if trans_a else a.astype(np.float64)
    b64 = b.T.astype(np.float64) if trans_b else b.astype(np.float64)
    np.testing.assert_allclose(results[0], np.maximum(a64 @ b64 + bias, 0), rtol=1e-4, atol=1e-3)


def _train(seed, recurrent):
    corenn.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    if recurrent:
        x = rng.normal(size=(96, 8, 5)).astype(np.float32)
        model = corenn.Sequential([corenn.layers.Input((8, 5)), corenn.layers.LSTM(16),
                                   corenn.layers.Dense(3)])
    else:
        x = rng.normal(size=(256, 20)).astype(np.float32)
        model = corenn.Sequential([corenn.layers.Input((20,)), corenn.layers.Dense(64, activation="relu"),
                                   corenn.layers.BatchNormalization(), corenn.layers.Dropout(0.2),
                                   corenn.layers.Dense(3)])
    y = rng.integers(0, 3, size=len(x))
    model.compile(optimizer="adam", loss=corenn.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=48, epochs=2, verbose=0)
    return [w.copy() for w in model.get_weights()]


@pytest.mark.parametrize("recurrent", [False, True], ids=["mlp_bn_dropout", "lstm"])
def test_training_is_bitwise_reproducible_at_a_fixed_thread_count(recurrent):
    with threads(2):
        first = _train(3, recurrent)
        second = _train(3, recurrent)
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # The seed matters (the comparison above could not pass vacuously).
    with threads(2):
        other = _train(4, recurrent)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))


# ---- callers on several threads, fork ----------------------------------------------------------

def test_concurrent_callers_get_correct_results():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(200, 300)).astype(np.float32)
    b = rng.normal(size=(300, 150)).astype(np.float32)
    with threads(2):
        expected = np.asarray(kernels.gemm(a, b)).copy()
        errors = []

        def work():
            try:
                for _ in range(20):
                    np.testing.assert_array_equal(np.asarray(kernels.gemm(a, b)), expected)
                    assert _C._parallel_for_probe(1000, 1)[1] == [1] * 1000
            except BaseException as exc:  # reported below
                errors.append(exc)

        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    assert not errors, errors[0]


def _child_gemm(q):
    corenn.set_num_threads(2)
    a = np.arange(120 * 90, dtype=np.float32).reshape(120, 90) / 1000
    q.put(np.asarray(kernels.gemm(a, a, trans_b=True)).copy())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_gets_a_working_pool():
    with threads(2):
        _C._parallel_for_probe(1000, 1)  # the parent's pool has started its workers
        ctx = multiprocessing.get_context("fork")
        q = ctx.Queue()
        p = ctx.Process(target=_child_gemm, args=(q,))
        p.start()
        got = q.get(timeout=60)  # before join: the child exits only once its result is read
        p.join(timeout=60)
    assert p.exitcode == 0
    a = np.arange(120 * 90, dtype=np.float64).reshape(120, 90) / 1000
    np.testing.assert_allclose(got, a @ a.T, rtol=1e-5)


# ---- thread count --------------------------------------------------------------------------------

def _child_threads(env, affinity=None, code="print(corenn.get_num_threads())"):
    environ = {k: v for k, v in os.environ.items()
               if k not in ("CORENN_NUM_THREADS", "OMP_NUM_THREADS")}
    environ.update(env)
    pre = f"import os; os.sched_setaffinity(0, {sorted(affinity)!r}); " if affinity else ""
    out = subprocess.run([sys.executable, "-c", pre + "import corenn; " + code], env=environ,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_environment_sets_the_default_thread_count():
    assert _child_threads({"CORENN_NUM_THREADS": "1"}) == ["1"]
    assert _child_threads({"OMP_NUM_THREADS": "3"}) == ["3"]
    assert _child_threads({"OMP_NUM_THREADS": "3,2"}) == ["3"]
    assert _child_threads({"CORENN_NUM_THREADS": "5", "OMP_NUM_THREADS": "3"}) == ["5"]
    # set_num_threads overrides the environment; n <= 0 goes back to it.
    code = ("corenn.set_num_threads(1); a = corenn.get_num_threads(); corenn.set_num_threads(0); "
            "print(a, corenn.get_num_threads())")
    assert _child_threads({"CORENN_NUM_THREADS": "3"}, code=code) == ["1", "3"]


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only")
def test_default_thread_count_follows_cpu_affinity():
    cpus = sorted(os.sched_getaffinity(0))
    # Garbage in the variables is ignored: the affinity decides.
    assert _child_threads({"CORENN_NUM_THREADS": "abc", "OMP_NUM_THREADS": "0"}, cpus) == [str(len(cpus))]
    assert _child_threads({}, cpus[:1]) == ["1"]
    if len(cpus) >= 2:
        assert _child_threads({}, cpus[:2]) == ["2"]
    # The variables win over the affinity.
    assert _child_threads({"CORENN_NUM_THREADS": "4"}, cpus[:1]) == ["4"]


def test_set_num_threads_refuses_absurd_counts():
    with pytest.raises(ValueError, match="set_num_threads"):
        corenn.set_num_threads(10 ** 6)
    with threads(3):
        assert corenn.get_num_threads() == 3
        corenn.set_num_threads(0)
        assert corenn.get_num_threads() == _C.default_num_threads() >= 1
        corenn.set_num_threads(-5)
        assert corenn.get_num_threads() == _C.default_num_threads()
