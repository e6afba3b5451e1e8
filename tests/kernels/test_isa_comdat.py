"""tools/check_isa_comdat.py: the build step that keeps AVX-512 / AVX2 copies of shared inline
functions off the narrower paths (ARCHITECTURE.md, "link order"). The build runs it on corenn's
own objects; here it is held to small objects made to have, and not to have, the hazard."""
import importlib.util
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

spec = importlib.util.spec_from_file_location("check_isa_comdat", ROOT / "tools" / "check_isa_comdat.py")
checker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(checker)

CXX = shutil.which("g++") or shutil.which("c++")
needs_toolchain = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64") or CXX is None
    or shutil.which("objdump") is None or shutil.which("nm") is None,
    reason="needs an x86-64 C++ compiler, objdump and nm")

# One inline function whose body depends on the ISA it is compiled for, as a template over a
# vector type would; `NS` names the namespace it lives in. noinline keeps an out-of-line (weak)
# copy in each object, as a kernel's larger helpers get.
SHARED = """
#include <immintrin.h>
namespace NS {
__attribute__((noinline)) inline void twice(float* p) {
#if defined(__AVX512F__)
  _mm512_storeu_ps(p, _mm512_add_ps(_mm512_loadu_ps(p), _mm512_loadu_ps(p)));
#elif defined(__AVX2__)
  _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p)));
#else
  for (int i = 0; i < 16; ++i) p[i] += p[i];
#endif
}
}
void ENTRY(float* p) { NS::twice(p); }
"""


def build(tmp_path, name, flags, ns):
    src = tmp_path / f"{name}.cpp"
    src.write_text(SHARED.replace("ENTRY", f"entry_{name}").replace("NS", ns))
    obj = tmp_path / f"{name}.cpp.o"
    subprocess.run([CXX, "-O2", "-c", *flags, str(src), "-o", str(obj)], check=True)
    return str(obj)


AVX512 = ["-mavx512f", "-mavx2", "-mfma"]
AVX2 = ["-mavx2", "-mfma"]


@needs_toolchain
def test_shared_name_across_avx512_and_baseline_fails(tmp_path):
    objs = [build(tmp_path, "plain", [], "shared"), build(tmp_path, "k_avx512", AVX512, "shared")]
    problems = checker.check(objs)
    assert len(problems) == 1
    assert "twice" in problems[0] and "k_avx512" in problems[0] and "EVEX" in problems[0]
    assert checker.main(objs) == 1


@needs_toolchain
def test_shared_name_across_avx2_and_baseline_fails(tmp_path):
    objs = [build(tmp_path, "plain", [], "shared"), build(tmp_path, "k_avx2", AVX2, "shared")]
    problems = checker.check(objs)
    assert len(problems) == 1 and "VEX" in problems[0] and "EVEX" not in problems[0]


@needs_toolchain
def test_shared_name_across_avx512_and_avx2_fails(tmp_path):
    objs = [build(tmp_path, "k_avx2", AVX2, "shared"), build(tmp_path, "k_avx512", AVX512, "shared")]
    problems = checker.check(objs)
    assert len(problems) == 1 and "EVEX" in problems[0] and "(avx512)" in problems[0]


@needs_toolchain
def test_per_isa_namespaces_pass(tmp_path):
    objs = [build(tmp_path, "plain", [], "base"), build(tmp_path, "k_avx2", AVX2, "avx2"),
            build(tmp_path, "k_avx512", AVX512, "avx512")]
    assert checker.check(objs) == []
    assert checker.main(objs) == 0


def test_encoding_reads_the_opcode_after_legacy_prefixes():
    assert checker.encoding("62 f1 7c 48 58 c0") == "evex"      # vaddps zmm
    assert checker.encoding("c5 fc 58 c0") == "vex"             # vaddps ymm
    assert checker.encoding("c4 e2 7d 18 c0") == "vex"
    assert checker.encoding("66 0f 58 c0") is None              # addpd xmm (SSE2)
    assert checker.encoding("67 62 f1 7c 48 10 00") == "evex"   # address-size prefix first
    assert checker.encoding("48 89 c7") is None                 # mov rdi, rax


# A file-scope object built at load time by a loop the compiler vectorizes (VEX / EVEX under the
# ISA flags), as a kernel table computed in a constructor would be.
STATIC_INIT = """
struct Table { float v[64]; Table(float s) { for (int i = 0; i < 64; ++i) v[i] = s * i; } };
float scale();
Table the_table(scale());
"""

# The same file done right: the table of kernels is constant-initialized, nothing runs at load.
CONSTANT_INIT = """
float twice(float x) { return x + x; }
struct Set { float (*f)(float); };
constexpr Set the_set{twice};
const Set* the_set_address() { return &the_set; }
"""


def build_static_init(tmp_path, name, flags, constant):
    src = tmp_path / f"{name}.cpp"
    src.write_text(CONSTANT_INIT if constant else STATIC_INIT)
    obj = tmp_path / f"{name}.cpp.o"
    subprocess.run([CXX, "-O3", "-c", *flags, str(src), "-o", str(obj)], check=True)
    return str(obj)


@needs_toolchain
def test_static_initializer_of_an_isa_file_must_not_use_wide_instructions(tmp_path):
    for name, flags, enc in (("init_avx512", AVX512, "EVEX"), ("init_avx2", AVX2, "VEX")):
        problems = checker.check([build_static_init(tmp_path, name, flags, constant=False)])
        assert len(problems) == 1
        assert "static initializer" in problems[0] and name in problems[0] and enc in problems[0]


@needs_toolchain
def test_constant_initialized_isa_file_passes(tmp_path):
    obj = build_static_init(tmp_path, "init_avx512", AVX512, constant=True)
    assert checker.check([obj]) == []


@needs_toolchain
def test_isa_object_without_machine_code_is_an_error(tmp_path):
    src = tmp_path / "k_avx512.cpp"
    src.write_text("float twice(float x) { return x + x; }\n")
    obj = tmp_path / "k_avx512.cpp.o"
    subprocess.run([CXX, "-O2", "-flto", "-fno-fat-lto-objects", "-c", *AVX512, str(src), "-o", str(obj)],
                   check=True)
    problems = checker.check([str(obj)])
    assert len(problems) == 1 and "no machine code" in problems[0]
