// CUDA pooling behind ops/pool2d (math in pool2d.cu). Inputs validated; `like` names the device.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "ops/pool2d.h"

namespace corenn::cuda {

void max_pool2d_forward(const Tensor& like, const Pool2dGeom& g, const float* x, float* y, int32_t* argmax);
void max_pool2d_backward(const Tensor& like, const Pool2dGeom& g, const float* dy, const int32_t* argmax, float* dx);
void avg_pool2d_forward(const Tensor& like, const Pool2dGeom& g, const float* x, float* y);
void avg_pool2d_backward(const Tensor& like, const Pool2dGeom& g, const float* dy, float* dx);
void global_avg_pool2d_forward(const Tensor& like, int64_t n, int64_t hw, int64_t c, const float* x, float* y);
void global_avg_pool2d_backward(const Tensor& like, int64_t n, int64_t hw, int64_t c, const float* dy, float* dx);
void global_max_pool2d_forward(const Tensor& like, int64_t n, int64_t hw, int64_t c, const float* x,
                               float* y, int32_t* argmax);
void global_max_pool2d_backward(const Tensor& like, int64_t n, int64_t hw, int64_t c, const float* dy,
                                const int32_t* argmax, float* dx);

}  // namespace corenn::cuda
