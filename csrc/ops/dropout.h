// Inverted dropout: mask[i] = (u(seed, i) >= rate) / (1 - rate), y = x * mask; dx = dy * mask.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace corenn {

void dropout_forward(const Tensor& x, const Tensor& y, const Tensor& mask, double rate, uint64_t seed);
void dropout_backward(const Tensor& dy, const Tensor& mask, const Tensor& dx);

namespace cpu {
void dropout_forward(const float* x, float* y, float* mask, int64_t n, float rate, uint64_t seed);
void dropout_backward(const float* dy, const float* mask, float* dx, int64_t n);
}  // namespace cpu

}  // namespace corenn
