// Zero padding of NHWC images (Keras ZeroPadding2D) and its gradient, a crop.
//
//   forward   y (N, top + H + bottom, left + W + right, C): y = 0, y[:, top:top+H, left:left+W] = x
//   backward  dx (N, H, W, C) = dy[:, top:top+H, left:left+W, :]
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

void zero_pad2d_forward(const Tensor& x, const Tensor& y, int64_t top, int64_t bottom, int64_t left,
                        int64_t right);
void zero_pad2d_backward(const Tensor& dy, const Tensor& dx, int64_t top, int64_t bottom,
                         int64_t left, int64_t right);

// Kernels behind the entries: cpu/pad2d.cpp (cpu_ref), cuda/pad2d.cu (cuda); arguments as in
// cpu:: below, `like` names the device.
using ZeroPad2dFn = void (*)(const Tensor& like, int64_t n, int64_t h, int64_t w, int64_t c,
                             int64_t top, int64_t left, int64_t bh, int64_t bw, const float* src,
                             float* dst);
CORENN_DECLARE_DISPATCH(ZeroPad2dFn, zero_pad2d_forward_stub);
CORENN_DECLARE_DISPATCH(ZeroPad2dFn, zero_pad2d_backward_stub);

namespace cpu {
// Rows of the small image (H rows of W*C floats) sit inside the big one (BH rows of BW*C floats)
// at (top, left). forward: big = 0 around, small copied in; backward: small = crop of big.
void zero_pad2d_forward(int64_t n, int64_t h, int64_t w, int64_t c, int64_t top, int64_t left,
                        int64_t bh, int64_t bw, const float* x, float* y);
void zero_pad2d_backward(int64_t n, int64_t h, int64_t w, int64_t c, int64_t top, int64_t left,
                         int64_t bh, int64_t bw, const float* dy, float* dx);
}  // namespace cpu

}  // namespace corenn
