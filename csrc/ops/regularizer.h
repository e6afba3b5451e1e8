// L1/L2 weight penalty: returns l1 sum|w| + l2 sum w^2 and optionally adds its gradient
// l1 sign(w) + 2 l2 w into grad.
#pragma once

#include <cstdint>
#include <optional>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

double regularizer_penalty(const Tensor& w, const std::optional<Tensor>& grad, double l1, double l2);

// The kernel behind the entry: cpu/regularizer.cpp (cpu_ref), cuda/regularizer.cu (cuda).
using RegularizerPenaltyFn = double (*)(const Tensor& like, const float* w, float* grad, int64_t n,
                                        float l1, float l2);
CORENN_DECLARE_DISPATCH(RegularizerPenaltyFn, regularizer_penalty_stub);

namespace cpu {
double regularizer_penalty(const float* w, float* grad, int64_t n, float l1, float l2);
}  // namespace cpu

}  // namespace corenn
