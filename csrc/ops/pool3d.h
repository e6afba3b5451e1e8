// 3-D pooling over NDHWC volumes (Keras' MaxPooling3D / AveragePooling3D), forward and backward.
//
//   x (N, D, H, W, C) -> y (N, OD, OH, OW, C); window KD x KH x KW, strides SD, SH, SW; padding
//   'valid' or 'same' with TensorFlow's rule per axis (pad_total = max((O - 1) S + K - size, 0),
//   half before, the extra one after). Padded cells never win a max and are not counted by an
//   average (as Keras).
//   max keeps argmax (N, OD, OH, OW, C) int32: the flat index (d*H + h)*W + w of the winner in its
//   volume (the first maximum in window order; NaN wins as in max_pool2d).
// The global 3-D poolings run the 2-D global kernels on (N, D, H*W, C) views (python layer).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

struct Pool3dGeom {
  int64_t n, d, h, w, c;   // input
  int64_t od, oh, ow;      // output
  int64_t kd, kh, kw;      // window
  int64_t sd, sh, sw;      // strides
  int64_t pf, pt, pl;      // leading padding (front, top, left)
};

// pool_size and strides are (D, H, W) triples.
void max_pool3d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                        const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                        const std::string& padding);
void max_pool3d_backward(const Tensor& dy, const Tensor& argmax, const Tensor& dx,
                         const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                         const std::string& padding);
void avg_pool3d_forward(const Tensor& x, const Tensor& y, const std::vector<int64_t>& pool_size,
                        const std::vector<int64_t>& strides, const std::string& padding);
void avg_pool3d_backward(const Tensor& dy, const Tensor& dx, const std::vector<int64_t>& pool_size,
                         const std::vector<int64_t>& strides, const std::string& padding);

// (OD, OH, OW) for an input (D, H, W); raises naming `op` when the window does not fit ('valid').
std::vector<int64_t> pool3d_output_dhw(const char* op, const std::vector<int64_t>& dhw,
                                       const std::vector<int64_t>& pool_size,
                                       const std::vector<int64_t>& strides,
                                       const std::string& padding);

namespace cpu {
void max_pool3d_forward(const Pool3dGeom& g, const float* x, float* y, int32_t* argmax);
// Returns the flat position of the first argmax entry that is not a cell of its own window
// (its gradient is dropped), or -1.
int64_t max_pool3d_backward(const Pool3dGeom& g, const float* dy, const int32_t* argmax,
                            float* dx);
void avg_pool3d_forward(const Pool3dGeom& g, const float* x, float* y);
void avg_pool3d_backward(const Pool3dGeom& g, const float* dy, float* dx);
}  // namespace cpu

// ---- kernels (dispatch table) -------------------------------------------------------------------
// cpu/pool3d.cpp (cpu_ref) and cuda/pool3d.cu (cuda; its max backward does not verify argmax).
using Pool3dFn = void (*)(const Tensor& like, const Pool3dGeom& g, const float* x, float* y);
using MaxPool3dForwardFn = void (*)(const Tensor& like, const Pool3dGeom& g, const float* x,
                                    float* y, int32_t* argmax);
using MaxPool3dBackwardFn = int64_t (*)(const Tensor& like, const Pool3dGeom& g, const float* dy,
                                        const int32_t* argmax, float* dx);
CORENN_DECLARE_DISPATCH(MaxPool3dForwardFn, max_pool3d_forward_stub);
CORENN_DECLARE_DISPATCH(MaxPool3dBackwardFn, max_pool3d_backward_stub);
CORENN_DECLARE_DISPATCH(Pool3dFn, avg_pool3d_forward_stub);
CORENN_DECLARE_DISPATCH(Pool3dFn, avg_pool3d_backward_stub);

}  // namespace corenn
