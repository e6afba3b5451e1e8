// depthwise_conv2d: public entries (checks + dispatch) of the depthwise 2-D convolution and its
// gradients (Keras DepthwiseConv2D; SeparableConv2D's first half).
//
// Shapes: x (N, H, W, C) NHWC, w (KH, KW, C, DM) as Keras's depthwise_kernel (DM = depth
//         multiplier), bias (C*DM,), y / dy (N, OH, OW, C*DM). Output channel j = c*DM + m (TF's
//         order), so w viewed as (KH, KW, C*DM) is indexed by j directly.
//   y[n, oh, ow, c*DM + m] = bias[c*DM + m]
//       + sum_{kh, kw} x[n, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw, c] w[kh, kw, c, m]
// with x read as 0 outside the image. Padding is explicit (leading pt, pl), as for conv2d.
//   dx[n, ih, iw, c]  = sum over (oh, ow, kh, kw) hitting (ih, iw), m of dy[.., c*DM + m] w[kh, kw, c, m]
//   dw[kh, kw, c, m]  = sum over (n, oh, ow) of x[n, ih, iw, c] dy[n, oh, ow, c*DM + m]
//   db[j]             = sum over (n, oh, ow) of dy[n, oh, ow, j]
#pragma once

#include <cstdint>
#include <optional>

#include "core/dispatch.h"
#include "core/tensor.h"
#include "ops/conv2d.h"

namespace corenn {

void depthwise_conv2d_forward(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias,
                              const Tensor& y, int64_t stride_h, int64_t stride_w, int64_t pad_top,
                              int64_t pad_left, int64_t dil_h, int64_t dil_w);

// dx := dL/dx (overwritten).
void depthwise_conv2d_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                                    int64_t stride_h, int64_t stride_w, int64_t pad_top,
                                    int64_t pad_left, int64_t dil_h, int64_t dil_w);

// dw := dL/dw, db := column sums of dy when given (both overwritten).
void depthwise_conv2d_backward_weights(const Tensor& x, const Tensor& dy, const Tensor& dw,
                                       const std::optional<Tensor>& db, int64_t stride_h,
                                       int64_t stride_w, int64_t pad_top, int64_t pad_left,
                                       int64_t dil_h, int64_t dil_w);

namespace cpu {
// g.cin = C, g.cout = C*DM (g.kh, g.kw the kernel; the rest as for conv2d).
void depthwise_conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w,
                              const float* bias, float* y);
void depthwise_conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w,
                                    float* dx);
void depthwise_conv2d_backward_weights(const Conv2dGeometry& g, const float* x, const float* dy,
                                       float* dw, float* db);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/depthwise_conv2d.cpp registers cpu_ref.
using DepthwiseConv2dForwardFn = decltype(&cpu::depthwise_conv2d_forward);
CORENN_DECLARE_DISPATCH(DepthwiseConv2dForwardFn, depthwise_conv2d_forward_stub);
using DepthwiseConv2dBackwardDataFn = decltype(&cpu::depthwise_conv2d_backward_data);
CORENN_DECLARE_DISPATCH(DepthwiseConv2dBackwardDataFn, depthwise_conv2d_backward_data_stub);
using DepthwiseConv2dBackwardWeightsFn = decltype(&cpu::depthwise_conv2d_backward_weights);
CORENN_DECLARE_DISPATCH(DepthwiseConv2dBackwardWeightsFn, depthwise_conv2d_backward_weights_stub);

}  // namespace corenn
