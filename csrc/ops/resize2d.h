// Image resizing of NHWC images to any size (Keras Resizing / CenterCrop / smart_resize), and
// its gradient. A window of the input (top, left, wh, ww) is resized to the output, so a
// crop-then-resize (crop_to_aspect_ratio, CenterCrop) is one call; a window of the output's own
// size is an exact crop.
//
//   x / dx (N, H, W, C), y / dy (N, OH, OW, C), window rows [top, top+wh), cols [left, left+ww)
//   scale s = wh / OH along H (ww / OW along W), computed in float32 as TF does
//   bilinear  half-pixel centres, edges clamped (TF resize, torch align_corners=False):
//             src(o) = clamp((o + 0.5) s - 0.5, 0, wh - 1), i0 = floor(src), i1 = min(i0 + 1, wh - 1),
//             a = src - i0; y = (1-a)(1-b) x00 + (1-a) b x01 + a(1-b) x10 + a b x11
//   nearest   src(o) = min(floor((o + 0.5) s), wh - 1) (TF half-pixel nearest, torch "nearest-exact")
//   backward  dx = the transpose of that linear map; zero outside the window
#pragma once

#include <cstdint>
#include <string>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

// interpolation: "nearest" or "bilinear"; window (top, left, wh, ww) must lie inside x.
void resize2d_forward(const Tensor& x, const Tensor& y, int64_t top, int64_t left, int64_t wh,
                      int64_t ww, const std::string& interpolation);
void resize2d_backward(const Tensor& dy, const Tensor& dx, int64_t top, int64_t left, int64_t wh,
                       int64_t ww, const std::string& interpolation);

namespace cpu {
// The problem in plain numbers: images (n, h, w, c), window (top, left, wh, ww), output (oh, ow).
struct Resize2dShape {
  int64_t n, h, w, c, top, left, wh, ww, oh, ow;
};
void resize2d_forward(const float* x, float* y, const Resize2dShape& s, bool bilinear);
void resize2d_backward(const float* dy, float* dx, const Resize2dShape& s, bool bilinear);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/resize2d.cpp registers cpu_ref.
using Resize2dForwardFn = decltype(&cpu::resize2d_forward);
CORENN_DECLARE_DISPATCH(Resize2dForwardFn, resize2d_forward_stub);
using Resize2dBackwardFn = decltype(&cpu::resize2d_backward);
CORENN_DECLARE_DISPATCH(Resize2dBackwardFn, resize2d_backward_stub);

}  // namespace corenn
