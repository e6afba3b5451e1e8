// Which instruction set the CPU kernels use, decided once at run time.
//
// Isa::avx2 needs AVX2 and FMA (cpuid); Isa::ref is the portable C++ path every CPU runs. The
// environment variable CORENN_ISA=ref forces the portable path (tests run both); set_isa() does
// the same from Python (corenn._C.set_isa) for tests that compare the two in one process.
#pragma once

#include <string>

namespace corenn {

enum class Isa { ref, avx2 };

bool cpu_has_avx2_fma();
Isa active_isa();
void set_isa(const std::string& name);  // "ref" | "avx2" | "auto"; avx2 on a CPU without it throws
const char* isa_name(Isa isa);

}  // namespace corenn
