// The avx512 slot of int8_gemm_rows_stub (ops/int8_gemm.h) on CPUs with AVX512_VNNI: the tiles of
// cpu/int8_gemm_avx512_tiles.h with VPDPWSSD (the pair multiply-add and the accumulation in one
// instruction; the same exact integers as VPMADDWD + VPADDD). This file is compiled with the
// AVX-512 flags plus the target below; cpu/isa_registry.cpp installs its table only where cpuid
// reports VNNI (cpu_has_avx512_vnni), so no VNNI instruction runs elsewhere.
#pragma GCC target("avx512vnni")

#include <immintrin.h>

#include <cstdint>

#include "cpu/isa_kernels.h"
#include "ops/int8_gemm.h"

namespace corenn::cpu::avx512 {

namespace {
#include "cpu/int8_gemm_avx512_tiles.h"
}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const Int8GemmRows kInt8GemmRowsVnni{32, rows<true>, quantize_pairs, dequantize};

}  // namespace corenn::cpu::avx512
