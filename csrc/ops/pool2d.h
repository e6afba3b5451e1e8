// 2-D pooling over NHWC images: max, average, and their global (whole-image) forms.
//
//   x (N, H, W, C) -> y (N, OH, OW, C); window KH x KW, strides SH, SW; padding 'valid' or 'same'
//   with TensorFlow's rule (pad_total = max((ceil(H/SH) - 1) SH + KH - H, 0), half before, the
//   extra one after). Padded cells never win a max and are not counted by an average (as Keras).
//   max keeps argmax (N, OH, OW, C) int32: the flat spatial index h*W + w of the winner in x.
//   global pooling: x (N, H, W, C) -> y (N, C), global max keeps argmax (N, C) int32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace corenn {

// One pooling problem, flattened to plain integers (shared by all kernels in cpu/pool2d.cpp).
struct Pool2dGeom {
  int64_t n, h, w, c;     // input
  int64_t oh, ow;         // output
  int64_t kh, kw, sh, sw;
  int64_t pad_top, pad_left;
};

void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                        const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                        const std::string& padding);
void max_pool2d_backward(const Tensor& dy, const Tensor& argmax, const Tensor& dx,
                         const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                         const std::string& padding);
void avg_pool2d_forward(const Tensor& x, const Tensor& y, const std::vector<int64_t>& pool_size,
                        const std::vector<int64_t>& strides, const std::string& padding);
void avg_pool2d_backward(const Tensor& dy, const Tensor& dx, const std::vector<int64_t>& pool_size,
                         const std::vector<int64_t>& strides, const std::string& padding);
void global_avg_pool2d_forward(const Tensor& x, const Tensor& y);
void global_avg_pool2d_backward(const Tensor& dy, const Tensor& dx);
void global_max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax);
void global_max_pool2d_backward(const Tensor& dy, const Tensor& argmax, const Tensor& dx);

// (OH, OW) for an input (H, W); raises naming `op` when the window does not fit ('valid').
std::vector<int64_t> pool2d_output_hw(const char* op, int64_t h, int64_t w,
                                      const std::vector<int64_t>& pool_size,
                                      const std::vector<int64_t>& strides, const std::string& padding);

// Raises naming `op` unless every argmax entry (CPU tensor) is a cell of its own window of `g`.
void check_max_pool_argmax(const char* op, const Tensor& argmax, const Pool2dGeom& g);

namespace cpu {
void max_pool2d_forward(const Pool2dGeom& g, const float* x, float* y, int32_t* argmax);
// True when it verified that every argmax entry was a cell of its window (the tiled AVX2 path
// counts the entries it routed); false when it could not tell.
bool max_pool2d_backward(const Pool2dGeom& g, const float* dy, const int32_t* argmax, float* dx);
void avg_pool2d_forward(const Pool2dGeom& g, const float* x, float* y);
void avg_pool2d_backward(const Pool2dGeom& g, const float* dy, float* dx);
void global_avg_pool2d_forward(int64_t n, int64_t hw, int64_t c, const float* x, float* y);
void global_avg_pool2d_backward(int64_t n, int64_t hw, int64_t c, const float* dy, float* dx);
void global_max_pool2d_forward(int64_t n, int64_t hw, int64_t c, const float* x, float* y,
                               int32_t* argmax);
void global_max_pool2d_backward(int64_t n, int64_t hw, int64_t c, const float* dy,
                                const int32_t* argmax, float* dx);
// The flat index of the first argmax entry that is not a cell of its own window, or -1.
int64_t max_pool2d_first_bad_argmax(const Pool2dGeom& g, const int32_t* argmax);
int64_t global_max_pool2d_first_bad_argmax(int64_t n, int64_t hw, int64_t c, const int32_t* argmax);
}  // namespace cpu

}  // namespace corenn
