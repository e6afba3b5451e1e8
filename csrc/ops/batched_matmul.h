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

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

std::vector<int64_t> batched_matmul_output_shape(const std::vector<int64_t>& a,
                                                 const std::vector<int64_t>& b, bool trans_a,
                                                 bool trans_b);
void batched_matmul(const Tensor& a, const Tensor& b, const Tensor& y, bool trans_a, bool trans_b);

namespace cpu {
// y (y_batch..., m, n) from a (a_batch..., m, k) and b (b_batch..., k, n) (each transposed in
// memory when trans_*), the batch dims broadcast as NumPy's matmul; k == 0 writes zeros.
void batched_matmul(const float* a, const std::vector<int64_t>& a_batch, const float* b,
                    const std::vector<int64_t>& b_batch, float* y,
                    const std::vector<int64_t>& y_batch, int64_t m, int64_t n, int64_t k,
                    bool trans_a, bool trans_b);
}  // namespace cpu

// The kernel behind batched_matmul (dispatch table): cpu/batched_matmul.cpp registers cpu_ref.
using BatchedMatmulFn = decltype(&cpu::batched_matmul);
CORENN_DECLARE_DISPATCH(BatchedMatmulFn, batched_matmul_stub);

}  // namespace corenn
