// CUDA zero padding behind ops/pad2d (math in pad2d.cu). Inputs validated.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "ops/pad2d.h"

namespace corenn::cuda {

// Same arguments as cpu::zero_pad2d_forward / backward; pointers on `like`'s device.
void zero_pad2d_forward(const Tensor& like, int64_t n, int64_t h, int64_t w, int64_t c, int64_t top,
                        int64_t left, int64_t bh, int64_t bw, const float* x, float* y);
void zero_pad2d_backward(const Tensor& like, int64_t n, int64_t h, int64_t w, int64_t c, int64_t top,
                         int64_t left, int64_t bh, int64_t bw, const float* dy, float* dx);

}  // namespace corenn::cuda
