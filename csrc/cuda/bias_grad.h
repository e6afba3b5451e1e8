// CUDA bias gradient behind ops/bias_grad: db[j] = sum_r dy[r, j]. Inputs validated.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "ops/bias_grad.h"

namespace corenn::cuda {

void bias_grad(const Tensor& dy, const Tensor& db);
// The same on raw device pointers (conv2d's db): dy (rows, cols) on `like`'s device.
void bias_grad(const Tensor& like, const float* dy, float* db, int64_t rows, int64_t cols);

}  // namespace corenn::cuda
