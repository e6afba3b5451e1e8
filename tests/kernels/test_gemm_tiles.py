"""GEMM edges of every micro-tile (6 x 16 for ref / avx2, 12 x 32 for avx512, and avx512's narrow
12 x 16 for N <= 16) under every ISA.

Each size straddles a tile boundary of one of the kernels: M around 6 and 12 (the row tiles and
the small-M in-place path, m <= 12), N around 16, 32 and 64 (the column tiles, masked tails, and
the direct-A path for n <= 2 NR), K from 1 up past KC (multi-step accumulation: beta on the first
step, bias / relu on the last). All against the float64 NumPy reference (reference.gemm).
"""
import numpy as np
import pytest

import corenn
from corenn import _C, kernels
from reference import gemm as ref_gemm

from conftest import ISAS

EDGE = [1, 2, 5, 6, 7, 11, 12, 13, 15, 16, 17, 23, 24, 25, 31, 32, 33, 40]


def _close(got, want, k):
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * scale * max(1.0, np.sqrt(k / 16)))


def _operands(rng, m, n, k, ta, tb):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    return a, b


def test_every_isa_of_this_cpu_is_tested():
    assert ("avx512" in ISAS) == _C.cpu_has_avx512()
    assert ("avx2" in ISAS) == _C.cpu_has_avx2_fma()


@pytest.mark.parametrize("m", EDGE)
def test_gemm_m_tails(isa, rng, m):
    for n, k in ((33, 9), (64, 40), (16, 1)):
        a, b = _operands(rng, m, n, k, False, False)
        _close(kernels.gemm(a, b).numpy(), ref_gemm(a, b), k)


@pytest.mark.parametrize("n", EDGE + [48, 63, 64, 65, 95, 97])
def test_gemm_n_tails(isa, rng, n):
    for m, k in ((13, 17), (1, 8), (40, 33)):
        a, b = _operands(rng, m, n, k, False, False)
        _close(kernels.gemm(a, b).numpy(), ref_gemm(a, b), k)


@pytest.mark.parametrize("k", list(range(1, 41)) + [383, 384, 385, 511, 513, 800])
def test_gemm_k_tails(isa, rng, k):
    a, b = _operands(rng, 25, 37, k, False, False)
    _close(kernels.gemm(a, b).numpy(), ref_gemm(a, b), k)


@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("m,n,k", [(12, 32, 16), (13, 33, 17), (11, 31, 9), (5, 70, 40),
                                   (37, 100, 45), (100, 37, 390), (7, 16, 3), (300, 130, 40)])
def test_gemm_trans_flags_beta_bias_relu(isa, rng, ta, tb, m, n, k):
    a, b = _operands(rng, m, n, k, ta, tb)
    c0 = rng.standard_normal((m, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    c = c0.copy()
    kernels.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=0.75, beta=-0.5, bias=bias,
                 activation="relu")
    want = ref_gemm(a, b, c0, trans_a=ta, trans_b=tb, alpha=0.75, beta=-0.5, bias=bias,
                    activation="relu")
    assert (want == 0).any() and (want > 0).any()  # relu cut some entries and kept others
    _close(c, want, k)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("m,n,k", [(400, 97, 300), (30, 700, 50), (128, 512, 784)])
def test_gemm_blocked_and_threaded(isa, rng, threads, m, n, k):
    """Past MC (336 rows on avx512) and KC, with the row split (shared B) and column split."""
    a, b = _operands(rng, m, n, k, False, False)
    bias = rng.standard_normal(n).astype(np.float32)
    corenn.set_num_threads(threads)
    try:
        got = kernels.gemm(a, b, bias=bias).numpy()
    finally:
        corenn.set_num_threads(0)
    _close(got, ref_gemm(a, b, bias=bias), k)


def test_gemm_beta_zero_ignores_nan_in_c_on_edges(isa, rng):
    a, b = _operands(rng, 13, 33, 20, False, False)
    c = np.full((13, 33), np.nan, np.float32)
    kernels.gemm(a, b, c, beta=0.0)
    _close(c, ref_gemm(a, b), 20)



@pytest.mark.parametrize("n", list(range(1, 17)))
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_narrow_n(isa, rng, n, ta, tb):
    """N <= 16 (a Dense(10) head; avx512 runs its 12 x 16 set): row tails, in-place A (forward) and
    transposed A (the weight gradient), past MC and KC, with beta, bias and relu."""
    for m, k in ((1, 7), (12, 16), (13, 300), (257, 256), (700, 40), (40, 800)):
        a, b = _operands(rng, m, n, k, ta, tb)
        c0 = rng.standard_normal((m, n)).astype(np.float32)
        bias = rng.standard_normal(n).astype(np.float32)
        c = c0.copy()
        kernels.gemm(a, b, c, trans_a=ta, trans_b=tb, alpha=1.25, beta=0.5, bias=bias,
                     activation="relu")
        _close(c, ref_gemm(a, b, c0, trans_a=ta, trans_b=tb, alpha=1.25, beta=0.5, bias=bias,
                           activation="relu"), k)
        _close(kernels.gemm(a, b, trans_a=ta, trans_b=tb).numpy(),
               ref_gemm(a, b, trans_a=ta, trans_b=tb), k)


@pytest.mark.parametrize("n", [3, 10, 16])
def test_gemm_narrow_n_same_bits_threads_and_kept_b(isa, rng, n):
    """The narrow set gives the same bits on 1 and 2 threads and with B kept packed (a Dense
    kernel between predict calls) or packed per call."""
    a, b = _operands(rng, 300, n, 520, False, False)
    bt = kernels.Tensor.from_numpy(b)
    outs = []
    try:
        for threads in (1, 2):
            corenn.set_num_threads(threads)
            outs.append(kernels.gemm(a, bt).numpy())
            outs.append(kernels.gemm(a, bt, keep_b_packed=True).numpy())
            outs.append(kernels.gemm(a, bt, keep_b_packed=True).numpy())   # the kept panels
    finally:
        corenn.set_num_threads(0)
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])
    _close(outs[0], ref_gemm(a, b), 520)


@pytest.mark.parametrize("m", [1, 2])
@pytest.mark.parametrize("n", [64, 100, 128, 160, 256, 300, 512])
@pytest.mark.parametrize("ta", [False, True])
def test_gemm_one_or_two_rows_wide_tile_same_bits(isa, rng, m, n, ta):
    """m <= 2 rows (batch-1 inference) run the wide tile (128 columns on avx512, 64 on avx2) over
    whole groups and the regular tile over the rest. Each row must equal, bit for bit, the same
    row computed in a 3- or 4-row call (the regular in-place tile), on 1 and 2 threads, with
    beta, bias and relu, and match the float64 reference."""
    k = 300
    a, b = _operands(rng, m + 2, n, k, ta, False)
    c0 = rng.standard_normal((m + 2, n)).astype(np.float32)
    bias = rng.standard_normal(n).astype(np.float32)
    few = np.ascontiguousarray(a[:, :m] if ta else a[:m])
    for threads in (1, 2):
        corenn.set_num_threads(threads)
        try:
            for beta, bi, act in ((0.0, None, "none"), (0.5, bias, "relu")):
                more = kernels.gemm(a, b, c0.copy(), trans_a=ta, beta=beta, bias=bi,
                                    activation=act).numpy()
                got = kernels.gemm(few, b, c0[:m].copy(), trans_a=ta, beta=beta, bias=bi,
                                   activation=act).numpy()
                np.testing.assert_array_equal(got, more[:m])
                _close(got, ref_gemm(few, b, c0[:m], trans_a=ta, beta=beta, bias=bi,
                                     activation=act), k)
        finally:
            corenn.set_num_threads(0)


@pytest.mark.parametrize("n", [512, 700])
def test_gemm_rows_same_bits_at_every_batch_size_kept_or_not(isa, rng, n):
    """A row of op(A) @ B has the same bits whether it is multiplied alone (the wide tile), among
    2-12 rows (B in place, or a kept B when B is larger than L2: kept_b_beats_in_place) or among
    40 (packed blocks), kept or packed per call, on 1 and 2 threads: every path sums the same
    depth steps (K = 784 > KC: two of them) in the same order. So `predict` gives a sample the
    same output at any batch size, on its first call and on later ones. 784 x 700 floats is
    2.2 MB, past the L2 of the CPUs we know; 784 x 512 is past Zen 3's 512 KiB."""
    k = 784
    a, b = _operands(rng, 40, n, k, False, False)
    bias = rng.standard_normal(n).astype(np.float32)
    c0 = rng.standard_normal((40, n)).astype(np.float32)
    bt = kernels.Tensor.from_numpy(b)
    want = ref_gemm(a, b, c0, beta=0.5, bias=bias, activation="relu")
    for threads in (1, 2):
        corenn.set_num_threads(threads)
        try:
            full = kernels.gemm(a, bt, c0.copy(), beta=0.5, bias=bias, activation="relu").numpy()
            _close(full, want, k)
            for m in (1, 2, 3, 6, 8, 12, 13):
                for keep in (False, True, True):   # the second keep serves the kept panels
                    got = kernels.gemm(np.ascontiguousarray(a[:m]), bt, c0[:m].copy(), beta=0.5,
                                       bias=bias, activation="relu", keep_b_packed=keep).numpy()
                    np.testing.assert_array_equal(got, full[:m], err_msg=f"m={m} keep={keep}")
        finally:
            corenn.set_num_threads(0)
