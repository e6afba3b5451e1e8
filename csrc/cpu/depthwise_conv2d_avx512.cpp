// AVX-512 rows of depthwise_conv2d with depth multiplier 1: simd/depthwise_rows.h on 16 lanes (the
// channel tail under a __mmask16), registered in the avx512 slot of depthwise_rows_stub. Compiled
// with -mavx512f/vl/bw/dq.
#include "cpu/depthwise_conv2d_rows.h"
#include "cpu/simd/depthwise_rows.h"
#include "cpu/simd/f32_avx512.h"

namespace corenn::cpu::avx512 {

namespace {
using Rows = simd::DepthwiseRowsDm1<F32>;
constexpr DepthwiseRows kAvx512Rows{true, Rows::forward_rows, Rows::data_rows, Rows::weights_rows};
}  // namespace

CORENN_REGISTER_KERNEL(depthwise_rows_stub, Slot::avx512, &kAvx512Rows);

}  // namespace corenn::cpu::avx512
