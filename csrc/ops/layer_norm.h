// Layer normalization over the trailing axes: x viewed as (R, D), D = product of the last
// `norm_ndim` axes, one mean / variance per row (Keras 3 LayerNormalization, rms_scaling=False).
//
//   forward   mean_r = sum_j x[r,j] / D,  var_r = sum_j (x[r,j] - mean_r)^2 / D   (biased)
//             inv_std_r = 1 / sqrt(var_r + eps),  xhat = (x - mean) * inv_std
//             y = gamma * xhat + beta                  gamma, beta have the trailing shape (D)
//   backward  g = dy * gamma
//             dx = inv_std * (g - sum_j g / D - xhat * sum_j g * xhat / D)      per row
//             dgamma = sum_r dy * xhat,  dbeta = sum_r dy                      per feature
// gamma and beta are optional (scale=False / center=False); so are dx, dgamma and dbeta.
#pragma once

#include <cstdint>
#include <optional>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

// x, y (..., d1..dk) with k = norm_ndim; gamma, beta (d1..dk); mean, inv_std (R,), written.
void layer_norm_forward(const Tensor& x, const std::optional<Tensor>& gamma,
                        const std::optional<Tensor>& beta, const Tensor& y, const Tensor& mean,
                        const Tensor& inv_std, int64_t norm_ndim, double epsilon);
// mean / inv_std: what the forward wrote. dx may be dy itself (in place).
void layer_norm_backward(const Tensor& dy, const Tensor& x, const std::optional<Tensor>& gamma,
                         const Tensor& mean, const Tensor& inv_std, const std::optional<Tensor>& dx,
                         const std::optional<Tensor>& dgamma, const std::optional<Tensor>& dbeta,
                         int64_t norm_ndim);

namespace cpu {
void layer_norm_forward(const float* x, const float* gamma, const float* beta, float* y,
                        float* mean, float* inv_std, int64_t rows, int64_t d, double epsilon);
// dx, dgamma, dbeta may each be null (not computed); gamma null means 1.
void layer_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                         const float* inv_std, float* dx, float* dgamma, float* dbeta,
                         int64_t rows, int64_t d);

// The per-row loops, per ISA (layer_norm_rows_stub: cpu_ref in cpu/layer_norm.cpp, avx2 / avx512
// in cpu/layer_norm_avx2.cpp / layer_norm_avx512.cpp); the drivers above (threads, the chunked
// double partials of dgamma / dbeta) are shared. forward_row: one row's mean and inv_std (sums in
// double) and its y; backward_row: the row's dx (when dx is set) and its dgamma / dbeta terms
// added to the double partials pg / pb (each when set).
struct LayerNormRows {
  void (*forward_row)(const float* x, const float* gamma, const float* beta, float* y,
                      float* mean, float* inv_std, int64_t d, double epsilon);
  void (*backward_row)(const float* dy, const float* x, const float* gamma, float mean,
                       float inv_std, float* dx, double* pg, double* pb, int64_t d);
};
using LayerNormRowsRef = const LayerNormRows*;
CORENN_DECLARE_DISPATCH(LayerNormRowsRef, layer_norm_rows_stub);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/layer_norm.cpp registers cpu_ref.
using LayerNormForwardFn = decltype(&cpu::layer_norm_forward);
CORENN_DECLARE_DISPATCH(LayerNormForwardFn, layer_norm_forward_stub);
using LayerNormBackwardFn = decltype(&cpu::layer_norm_backward);
CORENN_DECLARE_DISPATCH(LayerNormBackwardFn, layer_norm_backward_stub);

}  // namespace corenn
