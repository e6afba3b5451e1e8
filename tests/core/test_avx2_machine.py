"""corenn on a CPU with AVX2 and no AVX-512, emulated by valgrind (its virtual CPU reports AVX2
and executes no AVX-512 instruction). The wheel is one binary for every x86-64 CPU: an AVX-512
instruction reached on the AVX2 path (a load-time initializer in an _avx512 file, an inline
function the linker kept from one) kills the process with SIGILL on such machines. This happened:
a kernel table built by a dynamic initializer in conv2d_avx512.cpp made `import corenn` die on
AVX2-only CPUs while every test passed on the AVX-512 machines CI runs on.

CI installs valgrind (README, "Run the tests"), so this runs there; on x86-64 machines without it
the test is skipped with the reason."""
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SMOKE = Path(__file__).resolve().parents[2] / "tools" / "avx2_machine_smoke.py"


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="an x86-64 property")
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed (apt-get install valgrind)")
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="an AddressSanitizer build (tools/sanitize.sh) cannot run under valgrind; "
                           "the plain test run covers this")
def test_imports_and_trains_on_a_cpu_without_avx512():
    proc = subprocess.run(["valgrind", "--tool=none", "--error-exitcode=99", sys.executable, str(SMOKE)],
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert "Illegal opcode" not in out and "unhandled instruction" not in out, out[-3000:]
    assert proc.returncode == 0, out[-3000:]
    assert "isa avx2 avx512 False" in proc.stdout, proc.stdout   # the emulated CPU has no AVX-512
    assert "AVX2-MACHINE-SMOKE-OK" in proc.stdout, out[-3000:]
