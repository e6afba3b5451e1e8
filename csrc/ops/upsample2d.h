// Upsampling of NHWC images by integer factors (Keras UpSampling2D; UpSampling1D is the W = 1
// case), and its gradient.
//
//   y (N, H*sh, W*sw, C)
//   nearest   y[n, i, j, c] = x[n, i / sh, j / sw, c]
//             dx[n, h, w, c] = sum over the sh x sw block of dy at (h*sh, w*sw)
//   bilinear  half-pixel centres, edge clamped (Keras/TF resize, torch align_corners=False):
//             src(i) = max((i + 0.5) / sh - 0.5, 0), h0 = floor(src), h1 = min(h0 + 1, H - 1),
//             a = src - h0 (same along W with b), y = (1-a)(1-b) x00 + (1-a) b x01 + a(1-b) x10 + a b x11
//             dx: the transpose of that linear map (each dy value spread back with the same weights)
#pragma once

#include <cstdint>
#include <string>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

// interpolation: "nearest" or "bilinear".
void upsample2d_forward(const Tensor& x, const Tensor& y, int64_t sh, int64_t sw,
                        const std::string& interpolation);
void upsample2d_backward(const Tensor& dy, const Tensor& dx, int64_t sh, int64_t sw,
                         const std::string& interpolation);

namespace cpu {
// x (n, h, w, c), y (n, h*sh, w*sw, c).
void upsample2d_nearest_forward(const float* x, float* y, int64_t n, int64_t h, int64_t w,
                                int64_t c, int64_t sh, int64_t sw);
void upsample2d_nearest_backward(const float* dy, float* dx, int64_t n, int64_t h, int64_t w,
                                 int64_t c, int64_t sh, int64_t sw);
void upsample2d_bilinear_forward(const float* x, float* y, int64_t n, int64_t h, int64_t w,
                                 int64_t c, int64_t sh, int64_t sw);
void upsample2d_bilinear_backward(const float* dy, float* dx, int64_t n, int64_t h, int64_t w,
                                  int64_t c, int64_t sh, int64_t sw);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/upsample2d.cpp registers cpu_ref.
// (n, h, w, c) is the small side (the input forward, dx backward).
using Upsample2dFn = void (*)(bool bilinear, const float* src, float* dst, int64_t n, int64_t h,
                          int64_t w, int64_t c, int64_t sh, int64_t sw);
CORENN_DECLARE_DISPATCH(Upsample2dFn, upsample2d_forward_stub);
CORENN_DECLARE_DISPATCH(Upsample2dFn, upsample2d_backward_stub);

}  // namespace corenn
