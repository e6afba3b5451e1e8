// L1/L2 weight penalty: returns l1 sum|w| + l2 sum w^2 and optionally adds its gradient
// l1 sign(w) + 2 l2 w into grad.
#pragma once

#include <cstdint>
#include <optional>

#include "core/tensor.h"

namespace corenn {

double regularizer_penalty(const Tensor& w, const std::optional<Tensor>& grad, double l1, double l2);

namespace cpu {
double regularizer_penalty(const float* w, float* grad, int64_t n, float l1, float l2);
}  // namespace cpu

}  // namespace corenn
