// Inverted dropout: mask[i] = (u(seed, i) >= rate) / (1 - rate), y = x * mask; dx = dy * mask.
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

void dropout_forward(const Tensor& x, const Tensor& y, const Tensor& mask, double rate, uint64_t seed);
void dropout_backward(const Tensor& dy, const Tensor& mask, const Tensor& dx);

// Kernels behind the entries: cpu/dropout.cpp (cpu_ref), cpu/dropout_avx2.cpp (avx2),
// cuda/dropout.cu (cuda). The mask holds 0 or 1 / (1 - rate).
using DropoutForwardFn = void (*)(const Tensor& x, const Tensor& y, const Tensor& mask, float rate,
                                  uint64_t seed);
using DropoutBackwardFn = void (*)(const Tensor& dy, const Tensor& mask, const Tensor& dx);
CORENN_DECLARE_DISPATCH(DropoutForwardFn, dropout_forward_stub);
CORENN_DECLARE_DISPATCH(DropoutBackwardFn, dropout_backward_stub);

namespace cpu {
constexpr int64_t kDropoutRngGrain = 8192;  // parallel_for grain: one 64-bit hash per element
void dropout_forward(const float* x, float* y, float* mask, int64_t n, float rate, uint64_t seed);
void dropout_backward(const float* dy, const float* mask, float* dx, int64_t n);
}  // namespace cpu

}  // namespace corenn
