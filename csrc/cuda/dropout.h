// CUDA dropout behind ops/dropout (math in dropout.cu). Inputs validated.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "ops/dropout.h"

namespace corenn::cuda {

void dropout_forward(const Tensor& x, const Tensor& y, const Tensor& mask, float rate, uint64_t seed);
void dropout_backward(const Tensor& dy, const Tensor& mask, const Tensor& dx);

}  // namespace corenn::cuda
