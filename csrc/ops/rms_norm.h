// RMS normalization over the trailing axes (Keras 3 LayerNormalization(rms_scaling=True); Zhang &
// Sennrich, "Root Mean Square Layer Normalization", 2019): x viewed as (R, D), D = product of the
// last `norm_ndim` axes, no centring and no shift.
//
//   forward   inv_rms_r = 1 / sqrt(sum_j x[r,j]^2 / D + eps),  xhat = x * inv_rms
//             y = gamma * xhat                               gamma has the trailing shape (D)
//   backward  g = dy * gamma
//             dx = inv_rms * (g - xhat * sum_j g * xhat / D)                     per row
//             dgamma = sum_r dy * xhat                                           per feature
// It is layer normalization's math with the mean fixed at 0 (ops/layer_norm.h), which drops the
// sum_j g / D term of dx. gamma is optional (1); so are dx and dgamma.
#pragma once

#include <cstdint>
#include <optional>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

// x, y (..., d1..dk) with k = norm_ndim; gamma (d1..dk); inv_rms (R,), written. y may be x.
void rms_norm_forward(const Tensor& x, const std::optional<Tensor>& gamma, const Tensor& y,
                      const Tensor& inv_rms, int64_t norm_ndim, double epsilon);
// inv_rms: what the forward wrote. dx may be dy itself (in place).
void rms_norm_backward(const Tensor& dy, const Tensor& x, const std::optional<Tensor>& gamma,
                       const Tensor& inv_rms, const std::optional<Tensor>& dx,
                       const std::optional<Tensor>& dgamma, int64_t norm_ndim);

// The kernels of the dispatch table: cpu/rms_norm.cpp (cpu_ref) and cuda/rms_norm.cu (cuda), on
// the tensors' data as (rows, d) with rows, d > 0; `like` (x) names the device.
namespace cpu {
void rms_norm_forward(const Tensor& like, const float* x, const float* gamma, float* y,
                      float* inv_rms, int64_t rows, int64_t d, double epsilon);
// dx and dgamma may each be null (not computed); gamma null means 1.
void rms_norm_backward(const Tensor& like, const float* dy, const float* x, const float* gamma,
                       const float* inv_rms, float* dx, float* dgamma, int64_t rows, int64_t d);

// The per-row loops, per ISA (rms_norm_rows_stub: cpu_ref in cpu/rms_norm.cpp, avx2 / avx512 in
// cpu/rms_norm_avx2.cpp / rms_norm_avx512.cpp over cpu/simd/layer_norm_rows.h); the drivers
// above (threads, the chunked double partials of dgamma) are shared. forward_row: one row's
// inv_rms (sum in double) and its y; backward_row: the row's dx (when dx is set) and its dgamma
// terms added to the double partial pg (when set).
struct RmsNormRows {
  void (*forward_row)(const float* x, const float* gamma, float* y, float* inv_rms, int64_t d,
                      double epsilon);
  void (*backward_row)(const float* dy, const float* x, const float* gamma, float inv_rms,
                       float* dx, double* pg, int64_t d);
};
using RmsNormRowsRef = const RmsNormRows*;
CORENN_DECLARE_DISPATCH(RmsNormRowsRef, rms_norm_rows_stub);
}  // namespace cpu

using RmsNormForwardFn = decltype(&cpu::rms_norm_forward);
CORENN_DECLARE_DISPATCH(RmsNormForwardFn, rms_norm_forward_stub);
using RmsNormBackwardFn = decltype(&cpu::rms_norm_backward);
CORENN_DECLARE_DISPATCH(RmsNormBackwardFn, rms_norm_backward_stub);

}  // namespace corenn
