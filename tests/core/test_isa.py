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
    assert _C.isas_built == (("ref", "avx2") if X86 else ("ref",))
    if not X86:
        assert not HAS_AVX2
    assert _C.get_isa() in _C.isas_built


def test_set_isa_avx2_raises_where_impossible_and_auto_picks_the_best():
    old = _C.get_isa()
    try:
        if HAS_AVX2:
            _C.set_isa("avx2")
            assert _C.get_isa() == "avx2"
        else:
            with pytest.raises(ValueError, match="AVX2"):
                _C.set_isa("avx2")
        _C.set_isa("auto")
        assert _C.get_isa() == ("avx2" if HAS_AVX2 else "ref")
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


def test_env_unknown_value_falls_back_with_a_warning():
    isa, warned = _import_with("avx512")
    assert isa == ("avx2" if HAS_AVX2 else "ref")
    assert len(warned) == 1 and "CORENN_ISA=avx512 ignored" in warned[0]
