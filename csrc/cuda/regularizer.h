// CUDA weight regularizer behind ops/regularizer_penalty (math in regularizer.cu). Validated.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "ops/regularizer.h"

namespace corenn::cuda {

// Returns l1 sum|w| + l2 sum w^2 and, when grad is not null, adds l1 sign(w) + 2 l2 w into it.
double regularizer_penalty(const Tensor& like, const float* w, float* grad, int64_t n, float l1,
                           float l2);

}  // namespace corenn::cuda
