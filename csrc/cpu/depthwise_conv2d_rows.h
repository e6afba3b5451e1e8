// The row kernels of depthwise_conv2d, per ISA (depthwise_rows_stub): the reference rows of
// depthwise_conv2d.cpp (cpu_ref, any depth multiplier) and, for depth multiplier 1, the AVX2/FMA
// rows of depthwise_conv2d_avx2.cpp (avx2) and the AVX-512 ones of depthwise_conv2d_avx512.cpp
// (avx512): the channel axis is contiguous in x, w and y alike, so every tap is an elementwise FMA
// over 8 (16) channels at a time; DM > 1 runs them on channel-repeated input (dm1_only, see
// depthwise_conv2d.cpp). All compute the same sums.
#pragma once

#include <cstdint>

#include "ops/conv2d.h"

#include "core/dispatch.h"

namespace corenn::cpu {

// Row ranges as below; a dm1_only set sees the expanded geometry (C*DM channels in and out).
struct DepthwiseRows {
  bool dm1_only;
  void (*forward_rows)(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                       float* y, int64_t r_lo, int64_t r_hi);
  void (*data_rows)(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                    int64_t r_lo, int64_t r_hi);
  void (*weights_rows)(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                       float* db, int64_t r_lo, int64_t r_hi);
};
using DepthwiseRowsRef = const DepthwiseRows*;
CORENN_DECLARE_DISPATCH(DepthwiseRowsRef, depthwise_rows_stub);

}  // namespace corenn::cpu

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
