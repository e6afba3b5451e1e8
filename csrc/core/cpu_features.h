// Which instruction set the CPU kernels use, decided once at run time, in this one place.
//
// Isa::avx2 needs AVX2 and FMA (cpuid); Isa::avx512 needs AVX512F/VL/BW/DQ (cpuid leaf 7) and an
// OS that saves the ZMM state (XGETBV: XCR0 bits 1, 2 for SSE/AVX and 5, 6, 7 for opmask and the
// 512-bit registers). Both exist only in x86-64 builds: the *_avx2 / *_avx512 kernel files are
// compiled only there (CMakeLists.txt), and code that names one of their symbols sits under
// #ifdef CORENN_X86_64. Isa::ref is the portable C++ path every CPU runs (aarch64 included).
//
// The ISAs are ordered: ref < avx2 < avx512, and an AVX-512 CPU runs AVX2 code. A kernel with an
// AVX2 path and no AVX-512 one tests `active_isa() >= Isa::avx2`, never `== Isa::avx2`, so an
// AVX-512 machine keeps its AVX2 kernels.
//
// The environment variable CORENN_ISA picks the ISA at import: "ref" forces the portable path
// (tests run every ISA), "avx2" / "avx512" ask for that ISA, "auto" (or unset) takes the best the
// CPU has. A request this build or CPU cannot honour ("avx512" on a CPU without it, a typo) falls
// back to the automatic choice and leaves a note (isa_env_note) that the bindings turn into a
// RuntimeWarning at import: an environment variable must not make `import corenn` fail on another
// machine. set_isa() does the same from Python (corenn._C.set_isa) for tests that compare the ISAs
// in one process; there an impossible request raises.
#pragma once

#include <string>
#include <vector>

namespace corenn {

enum class Isa { ref = 0, avx2 = 1, avx512 = 2 };

bool cpu_has_avx2_fma();  // false on every non-x86 build
bool cpu_has_avx512();    // AVX512F+VL+BW+DQ with OS ZMM support; false on every non-x86 build
bool cpu_has_avx512_vnni();  // cpu_has_avx512() and AVX512_VNNI (int8_gemm's VPDPWSSD tiles)
Isa active_isa();
void set_isa(const std::string& name);  // "ref" | "avx2" | "avx512" | "auto"; unsupported throws
const char* isa_name(Isa isa);
// Why CORENN_ISA was not honoured at import, or "" when it was (or was unset).
const std::string& isa_env_note();
// Why the active ISA is the one it is: "auto (best this CPU has)", "forced by CORENN_ISA=...",
// "set_isa('...')", or the fallback note. For corenn.show_config().
const std::string& isa_reason();

// What show_config() prints: the cpuid brand string ("" when unknown) and the ISA-relevant
// features found (cpuid and, for AVX/AVX-512, OS support through XGETBV).
std::string cpu_model_name();
std::vector<std::string> cpu_feature_names();

}  // namespace corenn
