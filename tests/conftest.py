import numpy as np
import pytest

from corenn import _C

# Every CPU kernel with an ISA-specific fast path is tested on every ISA this CPU has (a kernel
# without an AVX-512 path runs its AVX2 one under "avx512").
ISAS = (["ref"] + (["avx2"] if _C.cpu_has_avx2_fma() else [])
        + (["avx512"] if _C.cpu_has_avx512() else []))


@pytest.fixture
def floatx64():
    """keras.config.set_floatx("float64") for the test (float64 layers), float32 again after it."""
    from corenn import keras
    keras.backend.set_floatx("float64")
    try:
        yield
    finally:
        keras.backend.set_floatx("float32")


@pytest.fixture
def rng():
    """A fresh, fixed-seed NumPy generator per test: failures reproduce."""
    return np.random.default_rng(1234)


# The fixture lists every ISA corenn has kernels for; one the CPU lacks is skipped (and says so)
# rather than silently left out.
_ISA_PARAMS = [pytest.param(name, marks=pytest.mark.skipif(name not in ISAS,
                                                          reason=f"this CPU cannot run {name}"))
               for name in ("ref", "avx2", "avx512")]


@pytest.fixture(params=_ISA_PARAMS)
def isa(request):
    """Run the test with the given micro-kernel ISA forced, restoring the previous one after."""
    old = _C.get_isa()
    _C.set_isa(request.param)
    yield request.param
    _C.set_isa(old)
