// Unit (L2) normalization (Keras 3 UnitNormalization): x is viewed as (R, D, B), D the product of
// the normalised axes (a contiguous run of axes), R of the axes before them, B of those after.
// For each (r, b), over d:
//
//   forward   s = sum_d x^2,  inv = 1 / sqrt(max(s, 1e-12)),  y = x * inv
//   backward  where s > 1e-12:  dx = inv * dy - x * inv^3 * sum_d (dy * x)
//             where s <= 1e-12: dx = inv * dy              (the clamp is constant there)
//
// Nothing is kept between the passes: backward recomputes s from x (one read of x), so the
// clamped case is decided exactly as in the forward.
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

constexpr double kUnitNormMinSquareSum = 1e-12;  // Keras' floor under the squared norm

// Axes [first_axis, first_axis + num_axes) of x are normalised together. y may be x (in place).
void unit_norm_forward(const Tensor& x, const Tensor& y, int64_t first_axis, int64_t num_axes);
// dx may be dy (in place).
void unit_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& dx, int64_t first_axis,
                        int64_t num_axes);

namespace cpu {
void unit_norm_forward(const float* x, float* y, int64_t r, int64_t d, int64_t b);
void unit_norm_backward(const float* dy, const float* x, float* dx, int64_t r, int64_t d, int64_t b);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/unit_norm.cpp registers cpu_ref.
using UnitNormForwardFn = decltype(&cpu::unit_norm_forward);
CORENN_DECLARE_DISPATCH(UnitNormForwardFn, unit_norm_forward_stub);
using UnitNormBackwardFn = decltype(&cpu::unit_norm_backward);
CORENN_DECLARE_DISPATCH(UnitNormBackwardFn, unit_norm_backward_stub);

}  // namespace corenn
