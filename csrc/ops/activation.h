// Activation functions, forward and backward: entries (checks + dispatch) and the CPU kernels.
//
// x, y, dy, dx all have one shape; softmax and log_softmax see it as (rows, cols) and normalise
// over the last axis (cols). y may be x itself (in-place forward) and dx may be dy itself.
#pragma once

#include <cstdint>
#include <string>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

enum class Activation {
  linear, relu, leaky_relu, elu, selu, sigmoid, tanh, gelu, swish, softplus, softmax, log_softmax,
  relu6, hard_sigmoid, hard_silu, mish, softsign, log_sigmoid, hard_tanh, celu, exponential,
  tanh_shrink, soft_shrink, hard_shrink, squareplus, sparse_plus
};

// ValueError listing the valid kinds when `name` is unknown.
Activation activation_from_name(const std::string& name);

// y = f(x); alpha is the leaky_relu negative slope, the elu and celu scale, relu6's ceiling (6 for
// Keras' relu6, any max_value of layers.ReLU), the soft / hard shrink threshold and squareplus' b,
// ignored elsewhere.
void activation_forward(const std::string& kind, const Tensor& x, const Tensor& y, float alpha);
// dx = dy * f'(x) (softmax / log_softmax: the Jacobian-vector product over the last axis).
void activation_backward(const std::string& kind, const Tensor& x, const Tensor& y,
                         const Tensor& dy, const Tensor& dx, float alpha);

// Kernels behind the entries, inputs validated and non-empty: cpu/activation.cpp (cpu_ref),
// cpu/activation_avx2.cpp (avx2), cuda/activation.cu (cuda).
using ActivationForwardFn = void (*)(Activation act, const Tensor& x, const Tensor& y, float alpha);
using ActivationBackwardFn = void (*)(Activation act, const Tensor& x, const Tensor& y,
                                      const Tensor& dy, const Tensor& dx, float alpha);
CORENN_DECLARE_DISPATCH(ActivationForwardFn, activation_forward_stub);
CORENN_DECLARE_DISPATCH(ActivationBackwardFn, activation_backward_stub);

namespace cpu {
constexpr float kSeluAlpha = 1.67326324f;
constexpr float kSeluScale = 1.05070098f;
// parallel_for grains of the activation kernels (every ISA): elements per thread at least, for
// max/mul-like kinds, and for kinds that call exp/erf/log per element; softmax rows by width.
constexpr int64_t kCheapGrain = 32768;
constexpr int64_t kExpGrain = 4096;
inline int64_t row_grain(int64_t cols) {
  const int64_t rows = kExpGrain / (cols > 1 ? cols : 1);
  return rows > 1 ? rows : 1;
}

// The reference kernels (cpu_ref slot), also what the vector kernels fall back to for the kinds
// they do not vectorize.
void activation_forward(Activation act, const float* x, float* y, int64_t rows, int64_t cols,
                        float alpha);
void activation_backward(Activation act, const float* x, const float* y, const float* dy,
                         float* dx, int64_t rows, int64_t cols, float alpha);
}  // namespace cpu

}  // namespace corenn
