"""Write versions of tensor storage, and the GEMM's kept packed B (cpu/gemm/packed_b_cache.cpp).

Every op entry that writes a tensor advances its storage's version (check_writable), and so does
the end of every writable NumPy / DLPack export; while such an export lives, or when the memory is
borrowed, the version cannot vouch for the contents and the cache is bypassed. A GEMM with
keep_b_packed gives the same bits as without, packs on the second sight of a (weight, version)
and hits from then on.
"""
import gc

import numpy as np
import pytest

import corenn
from corenn import Tensor, kernels

import reference as ref
from test_readonly_outputs import CASES

ISAS = ["ref"] + (["avx2"] if corenn._C.cpu_has_avx2_fma() else []) + \
    (["avx512"] if corenn._C.cpu_has_avx512() else [])


def _stats():
    return kernels._packed_b_stats()


def _x(n=64, seed=1):
    return np.random.default_rng(seed).standard_normal((n, 20)).astype(np.float32)


# ---- the cache is used and gives the same bits -------------------------------------------------

@pytest.mark.parametrize("isa_name", ISAS)
@pytest.mark.parametrize("m, k, n, trans_b", [(64, 20, 40, False), (64, 784, 512, False),
                                              (37, 300, 33, False), (50, 129, 70, True),
                                              (13, 8, 16, False), (200, 1000, 10, False)])
@pytest.mark.parametrize("threads", [1, 2])
def test_gemm_keep_b_packed_is_bit_identical_and_hits(isa_name, m, k, n, trans_b, threads):
    old_isa, old_threads = corenn._C.get_isa(), corenn.get_num_threads()
    corenn._C.set_isa(isa_name)
    corenn.set_num_threads(threads)
    try:
        rng = np.random.default_rng(0)
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = kernels.Tensor.from_numpy(rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32))
        w = kernels.empty(tuple(b.shape))   # corenn-owned storage: its versions can vouch for it
        w.copy_(b)
        bias = rng.standard_normal(n).astype(np.float32)
        plain = kernels.gemm(a, w, trans_b=trans_b, bias=bias, activation="relu").numpy()
        np.testing.assert_allclose(plain, ref.gemm(a, b.numpy(), trans_b=trans_b, bias=bias, activation="relu"),
                                   rtol=1e-4, atol=1e-4)
        before = _stats()
        outs = [kernels.gemm(a, w, trans_b=trans_b, bias=bias, activation="relu", keep_b_packed=True).numpy()
                for _ in range(4)]
        after = _stats()
        for out in outs:
            np.testing.assert_array_equal(out, plain)   # same depth steps, same order: same bits
        if m > 12 or trans_b:   # a few rows with B in place never pack B at all
            assert after["packs"] - before["packs"] == 1
            assert after["hits"] - before["hits"] == 2
            nr = 32 if isa_name == "avx512" and n > 16 else 16
            assert kernels._packed_b_bytes(w) == k * (-(-n // nr) * nr) * 4
    finally:
        corenn._C.set_isa(old_isa)
        corenn.set_num_threads(old_threads)


def test_borrowed_weights_are_never_cached():
    """A weight whose memory belongs to a NumPy array can change without corenn seeing it."""
    a = np.random.default_rng(0).standard_normal((20, 16)).astype(np.float32)
    w = Tensor.from_numpy(a)
    x = _x()
    before = _stats()
    for _ in range(3):
        np.testing.assert_allclose(kernels.gemm(x, w, keep_b_packed=True).numpy(), ref.gemm(x, a),
                                   rtol=1e-4, atol=1e-4)
    a[...] = 2.0
    np.testing.assert_allclose(kernels.gemm(x, w, keep_b_packed=True).numpy(), ref.gemm(x, a),
                               rtol=1e-4, atol=1e-4)
    assert _stats()["untrusted"] - before["untrusted"] == 4
    assert kernels._packed_b_bytes(w) == 0


# ---- every op that writes a tensor advances its version ----------------------------------------

class _Writable:
    """Stands in for ReadOnly: corenn-owned writable Tensors whose versions are recorded."""

    def __init__(self):
        self.made = []

    def __call__(self, shape, dtype=np.float32):
        t = Tensor.zeros(list(shape), np.dtype(dtype).name)
        self.made.append((t, t._version))
        return t


@pytest.mark.parametrize("op, arg, call", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_op_output_bumps_the_version(op, arg, call):
    made = _Writable()
    try:
        call(made)
    except ValueError:
        pass   # a zero-filled stand-in may be refused later (a bad argmax): the check ran first
    assert made.made, "the case made no output"
    for t, version in made.made:
        assert t._version > version, f"{op} wrote {arg} without advancing its version"


def test_fill_and_copy_bump_the_version_and_exports_bump_on_release():
    t = kernels.zeros((3, 4))
    v0 = t._version
    t.fill_(1.0)
    v1 = t._version
    t.copy_(Tensor.from_numpy(np.ones((3, 4), np.float32)))
    v2 = t._version
    assert v0 < v1 < v2
    a = np.asarray(t)
    assert t._version == v2 and not t._versions_trusted
    del a
    gc.collect()
    assert t._version > v2 and t._versions_trusted
    assert not Tensor.from_numpy(np.ones(3, np.float32))._versions_trusted   # borrowed memory
