// RepeatVector (Keras): each sample's vector repeated n times, and its gradient.
//
//   forward   y (N, n, D):  y[b, r, :] = x[b, :]
//   backward  dx (N, D):    dx[b, :] = sum_r dy[b, r, :]      (summed in r order)
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

void repeat_vector_forward(const Tensor& x, const Tensor& y);     // n = y.size(1)
void repeat_vector_backward(const Tensor& dy, const Tensor& dx);

namespace cpu {
void repeat_vector_forward(const float* x, float* y, int64_t n, int64_t repeats, int64_t d);
void repeat_vector_backward(const float* dy, float* dx, int64_t n, int64_t repeats, int64_t d);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/repeat_vector.cpp registers cpu_ref.
using RepeatVectorForwardFn = decltype(&cpu::repeat_vector_forward);
CORENN_DECLARE_DISPATCH(RepeatVectorForwardFn, repeat_vector_forward_stub);
using RepeatVectorBackwardFn = decltype(&cpu::repeat_vector_backward);
CORENN_DECLARE_DISPATCH(RepeatVectorBackwardFn, repeat_vector_backward_stub);

}  // namespace corenn
