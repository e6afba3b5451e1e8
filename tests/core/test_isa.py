"""ISA selection (core/cpu_features): what CORENN_ISA and set_isa do on this CPU.

AVX2 kernels exist only in x86-64 builds; every other CPU (aarch64 ...) runs the portable 'ref'
kernels. A CORENN_ISA the build or CPU cannot honour falls back with a RuntimeWarning at import;
set_isa with an impossible ISA raises.
"""
import os
import platform
import subprocess
import sys

import pytest

from corenn import _C

HAS_AVX2 = _C.cpu_has_avx2_fma()
HAS_AVX512 = _C.cpu_has_avx512()
BEST = "avx512" if HAS_AVX512 else "avx2" if HAS_AVX2 else "ref"
X86 = platform.machine().lower() in ("x86_64", "amd64")


def _import_with(value):
    """get_isa() and the warnings of a fresh interpreter importing corenn with CORENN_ISA=value."""
    env = dict(os.environ, CORENN_ISA=value)
    script = (
        "import warnings\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    from corenn import _C\n"
        "print(_C.get_isa())\n"
        "for x in w: print(x.category.__name__, x.message)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    isa, *warned = out.stdout.strip().splitlines()
    return isa, warned


def test_builds_and_cpu_agree():
    assert _C.isas_built == (("ref", "avx2", "avx512") if X86 else ("ref",))
    if not X86:
        assert not HAS_AVX2 and not HAS_AVX512
    if HAS_AVX512:
        assert HAS_AVX2  # every AVX-512 CPU runs the AVX2 kernels too
    assert _C.get_isa() in _C.isas_built


def test_set_isa_avx2_raises_where_impossible_and_auto_picks_the_best():
    old = _C.get_isa()
    try:
        if HAS_AVX2:
            _C.set_isa("avx2")
            assert _C.get_isa() == "avx2"
        else:   # an x86-64 CPU without AVX2, or a build for another architecture
            with pytest.raises(ValueError, match="AVX2" if X86 else "x86-64"):
                _C.set_isa("avx2")
        if HAS_AVX512:
            _C.set_isa("avx512")
            assert _C.get_isa() == "avx512"
        else:
            with pytest.raises(ValueError, match="AVX-512" if X86 else "x86-64"):
                _C.set_isa("avx512")
        _C.set_isa("auto")
        assert _C.get_isa() == BEST
        with pytest.raises(ValueError, match="unknown ISA"):
            _C.set_isa("neon")
    finally:
        _C.set_isa(old)


def test_env_ref_is_honoured_silently():
    assert _import_with("ref") == ("ref", [])


def test_env_avx2_is_honoured_or_falls_back_with_a_warning():
    isa, warned = _import_with("avx2")
    if HAS_AVX2:
        assert (isa, warned) == ("avx2", [])
    else:
        assert isa == "ref"
        assert len(warned) == 1 and warned[0].startswith("RuntimeWarning")
        assert "CORENN_ISA=avx2 ignored" in warned[0]
        assert ("x86-64" if not X86 else "no AVX2") in warned[0]


def test_env_avx512_is_honoured_or_falls_back_with_a_warning():
    isa, warned = _import_with("avx512")
    if HAS_AVX512:
        assert (isa, warned) == ("avx512", [])
    else:
        assert isa == BEST
        assert len(warned) == 1 and "CORENN_ISA=avx512 ignored" in warned[0]


def test_env_unknown_value_falls_back_with_a_warning():
    isa, warned = _import_with("sse9")
    assert isa == BEST
    assert len(warned) == 1 and "CORENN_ISA=sse9 ignored" in warned[0]
    assert "'avx512'" in warned[0]


def test_show_config_reports_the_choice_and_why(capsys):
    import corenn
    cfg = corenn.show_config()
    out = capsys.readouterr().out
    assert cfg["isa"] == _C.get_isa() and cfg["isa"] in out
    assert cfg["threads"] == corenn.get_num_threads()
    if HAS_AVX512:  # (the reverse need not hold: AVX512F alone, without VL/BW/DQ, is not enough)
        assert {"avx512f", "avx512vl", "avx512bw", "avx512dq"} <= set(cfg["features"])
    assert ("avx2" in cfg["features"]) == HAS_AVX2
    assert set(cfg["gemm"]) == {"ref"} | ({"avx2"} if HAS_AVX2 else set()) | (
        {"avx512"} if HAS_AVX512 else set())
    for g in cfg["gemm"].values():
        assert g["mc"] % g["mr"] == 0 and g["nc"] % g["nr"] == 0 and g["kc"] > 0
    if HAS_AVX512:   # N <= 16 runs a 16-wide tile of the same height (its A panels are shared)
        assert cfg["gemm"]["avx512"]["narrow"] == (cfg["gemm"]["avx512"]["mr"], 16)
        assert "tile 12x32 (N <= 16: 12x16)" in out
    assert cfg["gemm"]["ref"]["narrow"] is None
    old = _C.get_isa()
    try:
        _C.set_isa("ref")
        assert corenn.show_config(print_out=False)["isa_reason"] == "set_isa('ref')"
    finally:
        _C.set_isa(old)


def test_env_forced_isa_is_named_in_show_config():
    env = dict(os.environ, CORENN_ISA="ref")
    out = subprocess.run([sys.executable, "-c", "import corenn; corenn.show_config()"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "isa:      ref (forced by CORENN_ISA=ref)" in out.stdout
