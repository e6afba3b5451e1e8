// Unary elementwise math (keras.ops names) and its gradient.
//
//   kind        y = f(x)      dx = dy * f'(x)
//   exp         e^x           dy * y
//   log         ln x          dy / x
//   sqrt        sqrt x        dy * 0.5 / y
//   square      x^2           dy * 2x
//   abs         |x|           dy * sign(x)       (sign(0) = 0, as PyTorch and TensorFlow)
//   negative    -x            -dy
//   reciprocal  1 / x         -dy * y^2
//   sin         sin x         dy * cos x
//   cos         cos x         -dy * sin x
// tanh, sigmoid, relu ... are activations (activation_forward / activation_backward).
// NaN propagates; the IEEE values elsewhere (log 0 = -inf, sqrt(-1) = NaN, 1 / 0 = inf).
#pragma once

#include <string>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

enum class UnaryKind : int8_t { exp, log, sqrt, square, abs, negative, reciprocal, sin, cos };
UnaryKind unary_kind_from_name(const char* op, const std::string& name);

// y may be x itself (in place).
void unary_forward(const std::string& kind, const Tensor& x, const Tensor& y);
// x and y are the forward's input and output (each kind reads the one it needs); dx may be dy.
void unary_backward(const std::string& kind, const Tensor& x, const Tensor& y, const Tensor& dy,
                    const Tensor& dx);

namespace cpu {
void unary_forward(UnaryKind kind, const float* x, float* y, int64_t n);
void unary_backward(UnaryKind kind, const float* x, const float* y, const float* dy, float* dx,
                    int64_t n);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/unary.cpp registers cpu_ref.
using UnaryForwardFn = decltype(&cpu::unary_forward);
CORENN_DECLARE_DISPATCH(UnaryForwardFn, unary_forward_stub);
using UnaryBackwardFn = decltype(&cpu::unary_backward);
CORENN_DECLARE_DISPATCH(UnaryBackwardFn, unary_backward_stub);

}  // namespace corenn
