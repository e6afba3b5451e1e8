// Group normalization (Keras 3 GroupNormalization, Wu & He 2018). x is viewed as (N, A, C, B):
// N the batch, C the channel axis, A the axes before it and B the axes after it (channels-last
// inputs have B = 1). The C channels fall into G groups of Cg = C / G consecutive channels; each
// (sample n, group g) has one mean and one variance over its M = A * Cg * B values.
//
//   forward   mean_ng = sum x / M,  var_ng = sum (x - mean_ng)^2 / M            (biased, as Keras)
//             inv_std_ng = 1 / sqrt(var_ng + eps),  xhat = (x - mean_ng) * inv_std_ng
//             y = gamma_c * xhat + beta_c                      gamma, beta are (C,), per channel
//   backward  g = dy * gamma_c
//             dx = inv_std_ng * (g - sum_ng g / M - xhat * sum_ng (g * xhat) / M)
//             dgamma_c = sum_{n,a,b} dy * xhat,  dbeta_c = sum_{n,a,b} dy
// gamma and beta are optional (scale=False / center=False); so are dx, dgamma and dbeta.
#pragma once

#include <cstdint>
#include <optional>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

// x, y of any rank >= 2; `axis` (0 < axis < rank, non-negative) is the channel axis, its size a
// multiple of `groups`. gamma, beta (C,); mean, inv_std (N, G), written.
void group_norm_forward(const Tensor& x, const std::optional<Tensor>& gamma,
                        const std::optional<Tensor>& beta, const Tensor& y, const Tensor& mean,
                        const Tensor& inv_std, int64_t axis, int64_t groups, double epsilon);
// mean / inv_std: what the forward wrote. dx may be dy itself (in place).
void group_norm_backward(const Tensor& dy, const Tensor& x, const std::optional<Tensor>& gamma,
                         const Tensor& mean, const Tensor& inv_std, const std::optional<Tensor>& dx,
                         const std::optional<Tensor>& dgamma, const std::optional<Tensor>& dbeta,
                         int64_t axis, int64_t groups);

namespace cpu {
// The (N, A, C, B) problem of the header comment, G groups.
struct GroupNormShape {
  int64_t n, a, c, b, groups;
};
void group_norm_forward(const float* x, const float* gamma, const float* beta, float* y,
                        float* mean, float* inv_std, const GroupNormShape& s, double epsilon);
// dx, dgamma, dbeta may each be null (not computed); gamma null means 1.
void group_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                         const float* inv_std, float* dx, float* dgamma, float* dbeta,
                         const GroupNormShape& s);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/group_norm.cpp registers cpu_ref.
using GroupNormForwardFn = decltype(&cpu::group_norm_forward);
CORENN_DECLARE_DISPATCH(GroupNormForwardFn, group_norm_forward_stub);
using GroupNormBackwardFn = decltype(&cpu::group_norm_backward);
CORENN_DECLARE_DISPATCH(GroupNormBackwardFn, group_norm_backward_stub);

}  // namespace corenn
