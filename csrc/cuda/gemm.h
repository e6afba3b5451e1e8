// CUDA SGEMM behind ops/gemm (see gemm.cu for the algorithm). Inputs already validated.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "ops/gemm.h"

namespace corenn::cuda {

// C := act(alpha * op(A) @ op(B) + beta * C + bias); relu when `relu`; bias may be null.
void sgemm(const Tensor& like, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
           float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
           float* c, int64_t ldc, const float* bias, bool relu);

}  // namespace corenn::cuda
