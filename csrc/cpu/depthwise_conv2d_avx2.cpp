// AVX2/FMA rows of depthwise_conv2d with depth multiplier 1: simd/depthwise_rows.h on 8 lanes,
// registered in the avx2 slot of depthwise_rows_stub. Compiled with -mavx2 -mfma.
#include "cpu/depthwise_conv2d_rows.h"
#include "cpu/simd/depthwise_rows.h"
#include "cpu/simd/f32_avx2.h"

namespace corenn::cpu::avx2 {

namespace {
using Rows = simd::DepthwiseRowsDm1<F32>;
constexpr DepthwiseRows kAvx2Rows{true, Rows::forward_rows, Rows::data_rows, Rows::weights_rows};
}  // namespace

CORENN_REGISTER_KERNEL(depthwise_rows_stub, Slot::avx2, &kAvx2Rows);

}  // namespace corenn::cpu::avx2
