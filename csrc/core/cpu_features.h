// Which instruction set the CPU kernels use, decided once at run time.
//
// Isa::avx2 needs AVX2 and FMA (cpuid) and exists only in x86-64 builds: the *_avx2 kernel files
// are compiled only there (CMakeLists.txt), and code that names one of their symbols sits under
// #ifdef CORENN_X86_64. Isa::ref is the portable C++ path every CPU runs (aarch64 included).
//
// The environment variable CORENN_ISA picks the ISA at import: "ref" forces the portable path
// (tests run both), "avx2" asks for AVX2/FMA, "auto" (or unset) takes the best the CPU has. A
// request this build or CPU cannot honour ("avx2" on aarch64 or on an x86 without AVX2, "avx512",
// a typo) falls back to the automatic choice and leaves a note (isa_env_note) that the bindings
// turn into a RuntimeWarning at import: an environment variable must not make `import corenn`
// fail on another machine. set_isa() does the same from Python (corenn._C.set_isa) for tests that
// compare the ISAs in one process; there an impossible request raises.
#pragma once

#include <string>

namespace corenn {

enum class Isa { ref, avx2 };

bool cpu_has_avx2_fma();  // false on every non-x86 build
Isa active_isa();
void set_isa(const std::string& name);  // "ref" | "avx2" | "auto"; avx2 without AVX2 throws
const char* isa_name(Isa isa);
// Why CORENN_ISA was not honoured at import, or "" when it was (or was unset).
const std::string& isa_env_note();

}  // namespace corenn
