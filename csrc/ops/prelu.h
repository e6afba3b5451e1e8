// prelu: parametric ReLU (Keras PReLU), forward and fused backward.
//
// Shapes: x, y, dy, dx (N, d1, ..., dk); alpha (a1, ..., ak) with each ai == di or ai == 1
//         (1 on Keras's shared_axes: alpha is broadcast there and over the batch).
//   y  = x            if x > 0,  alpha[i] * x otherwise
//   dx = dy           if x > 0,  alpha[i] * dy otherwise          (PyTorch's rule at x == 0)
//   dalpha[a] = sum over the positions broadcast onto a of dy * x * [x <= 0]
// i is x's position with the broadcast axes of alpha set to 0.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

void prelu_forward(const Tensor& x, const Tensor& alpha, const Tensor& y);
// dx and / or dalpha (each may be absent; both overwritten).
void prelu_backward(const Tensor& x, const Tensor& alpha, const Tensor& dy,
                    const std::optional<Tensor>& dx, const std::optional<Tensor>& dalpha);

namespace cpu {
// x viewed as rows of `inner` values (the last axis); row r uses alpha + row_offset(r), and
// within a row alpha advances by `inner_step` (1, or 0 when the last axis is shared).
struct PreluLayout {
  int64_t rows, inner, inner_step, alpha_size;
  std::vector<int64_t> outer_dims;     // x's sizes of axes 0 .. k-1 (batch first)
  std::vector<int64_t> outer_strides;  // alpha's element stride along each of them (0: broadcast)
  int64_t row_offset(int64_t r) const;
};
void prelu_forward(const PreluLayout& l, const float* x, const float* alpha, float* y);
void prelu_backward(const PreluLayout& l, const float* x, const float* alpha, const float* dy,
                    float* dx, float* dalpha);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/prelu.cpp registers cpu_ref.
using PreluForwardFn = decltype(&cpu::prelu_forward);
CORENN_DECLARE_DISPATCH(PreluForwardFn, prelu_forward_stub);
using PreluBackwardFn = decltype(&cpu::prelu_backward);
CORENN_DECLARE_DISPATCH(PreluBackwardFn, prelu_backward_stub);

}  // namespace corenn
