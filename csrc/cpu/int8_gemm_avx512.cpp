// The avx512 slot of int8_gemm_rows_stub (ops/int8_gemm.h) on CPUs without AVX512_VNNI: the tiles
// of cpu/int8_gemm_avx512_tiles.h with VPMADDWD + VPADDD. int8_gemm_avx512_vnni.cpp is the same
// with VPDPWSSD; cpu/isa_registry.cpp installs that one where cpuid reports VNNI.
#include <immintrin.h>

#include <cstdint>

#include "cpu/isa_kernels.h"
#include "ops/int8_gemm.h"

namespace corenn::cpu::avx512 {

namespace {
#include "cpu/int8_gemm_avx512_tiles.h"
}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const Int8GemmRows kInt8GemmRows{32, rows<false>, quantize_pairs, dequantize};

}  // namespace corenn::cpu::avx512
