// Batch normalization over the last axis: x viewed as (rows, C), one mean / variance per channel.
//
//   training   mean_c = sum_r x[r,c] / N,  var_c = sum_r (x[r,c] - mean_c)^2 / N   (biased)
//              inv_std_c = 1 / sqrt(var_c + eps),  xhat = (x - mean) * inv_std
//              y = gamma * xhat + beta
//              moving_mean = moving_mean * momentum + mean * (1 - momentum)   (Keras 3; same for
//              moving_var with the biased var)
//   inference  y = gamma * (x - moving_mean) / sqrt(moving_var + eps) + beta
//   backward   dbeta = sum_r dy,  dgamma = sum_r dy * xhat
//              training:  dx = gamma * inv_std * (dy - dbeta / N - xhat * dgamma / N)
//              inference: dx = gamma * inv_std * dy   (mean and inv_std are constants there)
// gamma and beta are optional (scale=False / center=False: gamma = 1, beta = 0); so are the moving
// statistics in training (no update) and dx / dgamma / dbeta in backward (not computed).
#pragma once

#include <cstdint>
#include <optional>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

// Kernels behind the entries, same arguments (validated): cpu/batch_norm.cpp (cpu_ref; its passes
// run per-ISA loops of its own stub, "batch_norm.loops"), cuda/batch_norm.cu (cuda).
using BatchNormForwardTrainFn = void (*)(const Tensor& x, const std::optional<Tensor>& gamma,
                                         const std::optional<Tensor>& beta, const Tensor& y,
                                         const Tensor& mean, const Tensor& inv_std,
                                         const std::optional<Tensor>& moving_mean,
                                         const std::optional<Tensor>& moving_var, double momentum,
                                         double epsilon);
using BatchNormForwardInferFn = void (*)(const Tensor& x, const std::optional<Tensor>& gamma,
                                         const std::optional<Tensor>& beta,
                                         const Tensor& moving_mean, const Tensor& moving_var,
                                         const Tensor& y, double epsilon);
using BatchNormBackwardFn = void (*)(const Tensor& dy, const Tensor& x,
                                     const std::optional<Tensor>& gamma, const Tensor& mean,
                                     const Tensor& inv_std, const std::optional<Tensor>& dx,
                                     const std::optional<Tensor>& dgamma,
                                     const std::optional<Tensor>& dbeta, bool training);
CORENN_DECLARE_DISPATCH(BatchNormForwardTrainFn, batch_norm_forward_train_stub);
CORENN_DECLARE_DISPATCH(BatchNormForwardInferFn, batch_norm_forward_infer_stub);
CORENN_DECLARE_DISPATCH(BatchNormBackwardFn, batch_norm_backward_stub);

// x, y (..., C); gamma, beta, mean, inv_std, moving_* (C,). mean and inv_std are written.
void batch_norm_forward_train(const Tensor& x, const std::optional<Tensor>& gamma,
                              const std::optional<Tensor>& beta, const Tensor& y, const Tensor& mean,
                              const Tensor& inv_std, const std::optional<Tensor>& moving_mean,
                              const std::optional<Tensor>& moving_var, double momentum, double epsilon);
void batch_norm_forward_infer(const Tensor& x, const std::optional<Tensor>& gamma,
                              const std::optional<Tensor>& beta, const Tensor& moving_mean,
                              const Tensor& moving_var, const Tensor& y, double epsilon);
// mean / inv_std are the statistics the forward used (batch ones in training mode).
void batch_norm_backward(const Tensor& dy, const Tensor& x, const std::optional<Tensor>& gamma,
                         const Tensor& mean, const Tensor& inv_std, const std::optional<Tensor>& dx,
                         const std::optional<Tensor>& dgamma, const std::optional<Tensor>& dbeta,
                         bool training);

namespace cpu {
// Per-channel mean and biased variance of x (rows, C), in double.
void batch_norm_stats(const float* x, int64_t rows, int64_t cols, double* mean, double* var);
// y = (x - mean) * scale + shift per channel.
void batch_norm_apply(const float* x, float* y, int64_t rows, int64_t cols, const float* mean,
                      const float* scale, const float* shift);
// sum_dy[c] = sum_r dy, sum_dyxhat[c] = sum_r dy * (x - mean) * inv_std, in double.
void batch_norm_grad_sums(const float* dy, const float* x, int64_t rows, int64_t cols,
                          const float* mean, const float* inv_std, double* sum_dy, double* sum_dyxhat);
// dx = scale * (dy - mean_dy - (x - mean) * inv_std * mean_dyxhat) per channel.
void batch_norm_input_grad(const float* dy, const float* x, float* dx, int64_t rows, int64_t cols,
                           const float* mean, const float* inv_std, const float* scale,
                           const float* mean_dy, const float* mean_dyxhat);
}  // namespace cpu

}  // namespace corenn
