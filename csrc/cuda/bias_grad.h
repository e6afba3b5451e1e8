// CUDA bias gradient behind ops/bias_grad: db[j] = sum_r dy[r, j]. Inputs validated.
#pragma once

#include "core/tensor.h"

namespace corenn::cuda {

void bias_grad(const Tensor& dy, const Tensor& db);

}  // namespace corenn::cuda
