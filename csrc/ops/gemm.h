// gemm: the public entry (checks + dispatch by device) of C := act(alpha*op(A) @ op(B) + beta*C + bias).
#pragma once

#include <optional>
#include <string>

#include "core/tensor.h"

namespace corenn {

// a (M, K) or (K, M) if trans_a; b (K, N) or (N, K) if trans_b; c (M, N) written in place;
// bias (N,) or none; activation "none" | "relu". All float32, one device, c distinct from a and b.
// When beta == 0, c is never read.
void gemm(const Tensor& a, const Tensor& b, const Tensor& c, bool trans_a, bool trans_b,
          float alpha, float beta, const std::optional<Tensor>& bias, const std::string& activation);

}  // namespace corenn
