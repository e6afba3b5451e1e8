// AVX-512 rows of depthwise_conv2d with depth multiplier 1: simd/depthwise_rows.h on 16 lanes (the
// channel tail under a __mmask16), for the avx512 slot of depthwise_rows_stub. Compiled with
// -mavx512f/vl/bw/dq.
#include "cpu/depthwise_conv2d_rows.h"
#include "cpu/isa_kernels.h"
#include "cpu/simd/depthwise_rows.h"
#include "cpu/simd/f32_avx512.h"

namespace corenn::cpu::avx512 {

namespace {
using Rows = simd::DepthwiseRowsDm1<F32>;
}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const DepthwiseRows kDepthwiseRows{true, Rows::forward_rows, Rows::data_rows,
                                          Rows::weights_rows};

}  // namespace corenn::cpu::avx512
