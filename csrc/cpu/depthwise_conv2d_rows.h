// The row kernels of depthwise_conv2d, per ISA (depthwise_rows_stub): the reference rows of
// depthwise_conv2d.cpp (cpu_ref, any depth multiplier) and, for depth multiplier 1, one template
// (simd/depthwise_rows.h) instantiated on 8 lanes by depthwise_conv2d_avx2.cpp (avx2) and on 16 by
// depthwise_conv2d_avx512.cpp (avx512): the channel axis is contiguous in x, w and y alike, so
// every tap is an elementwise FMA over 8 (16) channels at a time; DM > 1 runs them on
// channel-repeated input (dm1_only, see depthwise_conv2d.cpp). All compute the same sums.
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
