// Activation functions, forward and backward: entries (checks + dispatch) and the CPU kernels.
//
// x, y, dy, dx all have one shape; softmax and log_softmax see it as (rows, cols) and normalise
// over the last axis (cols). y may be x itself (in-place forward) and dx may be dy itself.
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace corenn {

enum class Activation {
  linear, relu, leaky_relu, elu, selu, sigmoid, tanh, gelu, swish, softplus, softmax, log_softmax
};

// ValueError listing the valid kinds when `name` is unknown.
Activation activation_from_name(const std::string& name);

// y = f(x); alpha is the leaky_relu negative slope and the elu scale, ignored elsewhere.
void activation_forward(const std::string& kind, const Tensor& x, const Tensor& y, float alpha);
// dx = dy * f'(x) (softmax / log_softmax: the Jacobian-vector product over the last axis).
void activation_backward(const std::string& kind, const Tensor& x, const Tensor& y,
                         const Tensor& dy, const Tensor& dx, float alpha);

namespace cpu {
void activation_forward(Activation act, const float* x, float* y, int64_t rows, int64_t cols,
                        float alpha);
void activation_backward(Activation act, const float* x, const float* y, const float* dy,
                         float* dx, int64_t rows, int64_t cols, float alpha);
}  // namespace cpu

}  // namespace corenn
