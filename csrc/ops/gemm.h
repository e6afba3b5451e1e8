// gemm: the public entry (checks + dispatch by device) of C := act(alpha*op(A) @ op(B) + beta*C + bias).
#pragma once

#include <optional>
#include <string>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

// The kernel behind the entry, on plain row-major matrices (lda / ldb / ldc leading dimensions):
// cpu/gemm/gemm.cpp (cpu_ref: the blocked driver, which picks its micro-kernel from its own stub,
// cpu::gemm::sgemm_context_stub), cuda/gemm.cu (cuda). keep_b: b's Storage when the caller asks
// for op(B) to be packed once and kept on it (the CPU kernel's packed-weight cache; the CUDA
// kernel packs nothing and ignores it), else nullptr.
using SgemmFn = void (*)(const Tensor& like, bool trans_a, bool trans_b, int64_t m, int64_t n,
                         int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                         int64_t ldb, float beta, float* c, int64_t ldc, const float* bias,
                         bool relu, const Storage* keep_b);
CORENN_DECLARE_DISPATCH(SgemmFn, sgemm_stub);

// a (M, K) or (K, M) if trans_a; b (K, N) or (N, K) if trans_b; c (M, N) written in place;
// bias (N,) or none; activation "none" | "relu". All float32, one device, c distinct from a and b.
// When beta == 0, c is never read. keep_b_packed: b is a weight that later calls will multiply
// by again (a layer's kernel at inference); the CPU kernel keeps op(B) packed on b's storage,
// keyed by its write version (cpu/gemm/gemm.h, kept_packed_b). The result is the same either way.
void gemm(const Tensor& a, const Tensor& b, const Tensor& c, bool trans_a, bool trans_b,
          float alpha, float beta, const std::optional<Tensor>& bias, const std::string& activation,
          bool keep_b_packed = false);

}  // namespace corenn
