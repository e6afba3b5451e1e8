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
//
// The tail of a residual block, BatchNormalization -> Add(skip) -> ReLU, as one op (the graph's
// fusion pass runs it: python/corenn/models/fusion.py), training mode:
//   forward    y = relu(gamma * xhat + beta + r)      statistics and moving updates as above;
//              the normalized x and the sum are never stored (2 passes over x, 1 over r and y,
//              where the three layers make 8)
//   backward   dr = dy * relu'(y)  (relu' from y as the activation kernels: dy where y > 0,
//              dy * y elsewhere, so a NaN in y or dy reaches dr), the residual's gradient;
//              then dx, dgamma, dbeta as the backward above with dy = dr; the sums are taken in
//              the pass that writes dr.
// With a GlobalAveragePooling2D after the ReLU (a network's last block), the op also pools:
//   forward    pooled[n, c] = mean of y over image n's rows (x viewed as (N, HW, C)), summed in
//              the pass that writes y;
//   backward   dy is then pooled's gradient (N, C): the ReLU output's gradient is its broadcast
//              dy[n, c] / HW, read from the small array instead of a full-size tensor.
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
using BatchNormAddReluForwardFn = void (*)(const Tensor& x, const std::optional<Tensor>& gamma,
                                           const std::optional<Tensor>& beta, const Tensor& r,
                                           const Tensor& y, const Tensor& mean,
                                           const Tensor& inv_std,
                                           const std::optional<Tensor>& moving_mean,
                                           const std::optional<Tensor>& moving_var,
                                           double momentum, double epsilon,
                                           const std::optional<Tensor>& pooled);
using BatchNormAddReluBackwardFn = void (*)(const Tensor& dy, const std::optional<Tensor>& dy2,
                                            const Tensor& x, const Tensor& y,
                                            const std::optional<Tensor>& gamma, const Tensor& mean,
                                            const Tensor& inv_std, const Tensor& dr,
                                            const std::optional<Tensor>& dx,
                                            const std::optional<Tensor>& dgamma,
                                            const std::optional<Tensor>& dbeta);
CORENN_DECLARE_DISPATCH(BatchNormForwardTrainFn, batch_norm_forward_train_stub);
CORENN_DECLARE_DISPATCH(BatchNormAddReluForwardFn, batch_norm_add_relu_forward_stub);
CORENN_DECLARE_DISPATCH(BatchNormAddReluBackwardFn, batch_norm_add_relu_backward_stub);
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

// x, r, y, dy, dr, dx (..., C), one shape; the vectors as above. y may be x or r, dr may be dy.
// pooled (N, C), optional: also the per-image mean of y (x is then (N, ..., C)); dy (N, C) in
// backward says y's gradient is that mean's.
void batch_norm_add_relu_forward(const Tensor& x, const std::optional<Tensor>& gamma,
                                 const std::optional<Tensor>& beta, const Tensor& r,
                                 const Tensor& y, const Tensor& mean, const Tensor& inv_std,
                                 const std::optional<Tensor>& moving_mean,
                                 const std::optional<Tensor>& moving_var, double momentum,
                                 double epsilon, const std::optional<Tensor>& pooled);
void batch_norm_add_relu_backward(const Tensor& dy, const Tensor& x, const Tensor& y,
                                  const std::optional<Tensor>& gamma, const Tensor& mean,
                                  const Tensor& inv_std, const Tensor& dr,
                                  const std::optional<Tensor>& dx,
                                  const std::optional<Tensor>& dgamma,
                                  const std::optional<Tensor>& dbeta,
                                  const std::optional<Tensor>& dy2 = std::nullopt);

namespace cpu {
// Per-channel mean and biased variance of x (rows, C), in double.
void batch_norm_stats(const float* x, int64_t rows, int64_t cols, double* mean, double* var);
// y = (x - mean) * scale + shift per channel.
void batch_norm_apply(const float* x, float* y, int64_t rows, int64_t cols, const float* mean,
                      const float* scale, const float* shift);
// sum_dy[c] = sum_r dy, sum_dyxhat[c] = sum_r dy * (x - mean) * inv_std, in double.
void batch_norm_grad_sums(const float* dy, const float* x, int64_t rows, int64_t cols,
                          const float* mean, const float* inv_std, double* sum_dy, double* sum_dyxhat);
// y = relu((x - mean) * scale + shift + r) per channel; pooled (images, cols) when not null: the
// mean of y over each image's rows / images rows.
void batch_norm_apply_add_relu(const float* x, const float* r, float* y, int64_t rows, int64_t cols,
                               const float* mean, const float* scale, const float* shift,
                               float* pooled, int64_t images);
// dr = dy * relu'(y), and the sums of batch_norm_grad_sums with dr for dy, in one pass. hw > 0:
// dy is (rows / hw, cols), and row r's gradient is dy[r / hw] / hw. dy2 not null (hw == 0): y's
// gradient is dy + dy2.
void batch_norm_relu_grad_sums(const float* dy, const float* dy2, const float* y, const float* x,
                               float* dr,
                               int64_t rows, int64_t cols, const float* mean,
                               const float* inv_std, double* sum_dr, double* sum_drxhat,
                               int64_t hw);
// dx = scale * (dy - mean_dy - (x - mean) * inv_std * mean_dyxhat) per channel.
void batch_norm_input_grad(const float* dy, const float* x, float* dx, int64_t rows, int64_t cols,
                           const float* mean, const float* inv_std, const float* scale,
                           const float* mean_dy, const float* mean_dyxhat);
}  // namespace cpu

}  // namespace corenn
