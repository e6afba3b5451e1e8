// AVX2/FMA row kernels of depthwise_conv2d for depth multiplier 1 (depthwise_conv2d_avx2.cpp; DM > 1
// runs them on channel-repeated input, see depthwise_conv2d.cpp):
// the channel axis is contiguous in x, w and y alike, so every tap is an elementwise FMA over 8
// channels at a time. Call only when active_isa() >= Isa::avx2; the reference rows in
// depthwise_conv2d.cpp compute the same sums.
#pragma once

#include <cstdint>

#include "ops/conv2d.h"

namespace corenn::cpu::avx2 {

// y rows [r_lo, r_hi) of (n, oh).
void depthwise_forward_rows_dm1(const Conv2dGeometry& g, const float* x, const float* w,
                                const float* bias, float* y, int64_t r_lo, int64_t r_hi);
// dx rows [r_lo, r_hi) of (n, ih).
void depthwise_data_rows_dm1(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                             int64_t r_lo, int64_t r_hi);
// dw (KH*KW, C) += and db (C,) += (when not nullptr) over output rows [r_lo, r_hi) of (n, oh).
void depthwise_weights_rows_dm1(const Conv2dGeometry& g, const float* x, const float* dy,
                                float* dw, float* db, int64_t r_lo, int64_t r_hi);

}  // namespace corenn::cpu::avx2
