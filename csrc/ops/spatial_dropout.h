// Spatial dropout: one keep/drop decision per (sample, channel), shared by every position.
//
//   mask[n, c] = u(seed, n * C + c) >= rate ? 1 / (1 - rate) : 0
//   forward  y[n, s, c] = x[n, s, c] * mask[n, c]      (s runs over all middle axes, e.g. H*W)
//   backward dx[n, s, c] = dy[n, s, c] * mask[n, c]
// x, y, dy, dx are (N, ..., C) (NHWC for SpatialDropout2D); mask is (N, C).
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

void spatial_dropout_forward(const Tensor& x, const Tensor& y, const Tensor& mask, double rate,
                             uint64_t seed);
void spatial_dropout_backward(const Tensor& dy, const Tensor& mask, const Tensor& dx);

namespace cpu {
void spatial_dropout_mask(float* mask, int64_t n, float rate, uint64_t seed);
// mask (batch, channels) drawn as spatial_dropout_mask, then y = x * mask broadcast over spatial.
void spatial_dropout_forward(const float* x, float* y, float* mask, int64_t batch, int64_t spatial,
                             int64_t channels, float rate, uint64_t seed);
// y[(b*S + s)*C + c] = x[...] * mask[b*C + c] for b < batch, s < spatial.
void broadcast_channel_mul(const float* x, const float* mask, float* y, int64_t batch,
                           int64_t spatial, int64_t channels);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/spatial_dropout.cpp registers cpu_ref.
using SpatialDropoutForwardFn = decltype(&cpu::spatial_dropout_forward);
CORENN_DECLARE_DISPATCH(SpatialDropoutForwardFn, spatial_dropout_forward_stub);
using SpatialDropoutBackwardFn = decltype(&cpu::broadcast_channel_mul);
CORENN_DECLARE_DISPATCH(SpatialDropoutBackwardFn, spatial_dropout_backward_stub);

}  // namespace corenn
