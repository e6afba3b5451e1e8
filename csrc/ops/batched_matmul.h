// Batched matrix product (keras.ops.matmul on > 2-D tensors, the Dot layer).
//
//   y[..., :, :] = op(a[..., :, :]) @ op(b[..., :, :])
//   a (..., M, K), or (..., K, M) with trans_a;  b (..., K, N), or (..., N, K) with trans_b;
//   y (batch..., M, N) where batch = broadcast(a's batch dims, b's batch dims) (NumPy's matmul
//   rule; a rank-2 operand is one matrix shared by every batch item).
// Each batch item is one call of the GEMM engine (cpu/gemm), which threads a big product itself.
// K == 0 gives zeros. y shares memory with neither operand.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace corenn {

std::vector<int64_t> batched_matmul_output_shape(const std::vector<int64_t>& a,
                                                 const std::vector<int64_t>& b, bool trans_a,
                                                 bool trans_b);
void batched_matmul(const Tensor& a, const Tensor& b, const Tensor& y, bool trans_a, bool trans_b);

}  // namespace corenn
