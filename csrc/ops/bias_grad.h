// Bias gradient: db[j] = sum over rows of dy[r, j], dy viewed as (rows, C).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace corenn {

void bias_grad(const Tensor& dy, const Tensor& db);

namespace cpu {
void bias_grad(const float* dy, float* db, int64_t rows, int64_t cols);
}  // namespace cpu

}  // namespace corenn
