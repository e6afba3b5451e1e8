// Bias gradient: db[j] = sum over rows of dy[r, j], dy viewed as (rows, C).
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

void bias_grad(const Tensor& dy, const Tensor& db);

// The kernel behind the entry: cpu/bias_grad.cpp (cpu_ref), cuda/bias_grad.cu (cuda).
using BiasGradFn = void (*)(const Tensor& like, const float* dy, float* db, int64_t rows,
                            int64_t cols);
CORENN_DECLARE_DISPATCH(BiasGradFn, bias_grad_stub);

namespace cpu {
void bias_grad(const float* dy, float* db, int64_t rows, int64_t cols);
}  // namespace cpu

}  // namespace corenn
