// n-ary sum of equal-shaped tensors (gradient accumulation, the Add layer) and scaling (Average).
//
//   sum_n   y = x_0 + x_1 + ... + x_{n-1}     every x_i and y of one shape, n >= 1
//   scale   y = alpha * x
//   sum_n_relu_grad   dz = dy * relu'(y) with dy = dy_0 + dy_1 + ...: the gradient a relu output
//           y receives from several consumers, summed and masked in one pass (the graph hands a
//           fused-relu layer its unsummed gradients: models/fusion.py rule 5). relu' from y as
//           the activation kernels: dy where y > 0, dy * y elsewhere (a NaN reaches dz).
// y may be one of the inputs itself (accumulate in place); a partial overlap is refused.
#pragma once

#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

void sum_n(const std::vector<Tensor>& xs, const Tensor& y);
void scale(const Tensor& x, float alpha, const Tensor& y);
void sum_n_relu_grad(const std::vector<Tensor>& dys, const Tensor& y, const Tensor& dz);

namespace cpu {
void sum_n(const std::vector<const float*>& xs, float* y, int64_t n);
void sum_n_relu_grad(const std::vector<const float*>& dys, const float* y, float* dz, int64_t n);
void scale(const float* x, float alpha, float* y, int64_t n);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/sum_n.cpp registers cpu_ref.
using SumNFn = decltype(&cpu::sum_n);
CORENN_DECLARE_DISPATCH(SumNFn, sum_n_stub);
using ScaleFn = decltype(&cpu::scale);
CORENN_DECLARE_DISPATCH(ScaleFn, scale_stub);
using SumNReluGradFn = decltype(&cpu::sum_n_relu_grad);
CORENN_DECLARE_DISPATCH(SumNReluGradFn, sum_n_relu_grad_stub);

}  // namespace corenn
