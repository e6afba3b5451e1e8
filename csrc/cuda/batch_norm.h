// CUDA batch normalization behind ops/batch_norm (math in ops/batch_norm.h). Inputs validated by
// the entries: float32, x (..., C) with at least one row, every per-channel tensor (C,), all on
// x's device.
#pragma once

#include <optional>

#include "core/tensor.h"
#include "ops/batch_norm.h"

namespace corenn::cuda {

void batch_norm_forward_train(const Tensor& x, const std::optional<Tensor>& gamma,
                              const std::optional<Tensor>& beta, const Tensor& y, const Tensor& mean,
                              const Tensor& inv_std, const std::optional<Tensor>& moving_mean,
                              const std::optional<Tensor>& moving_var, double momentum, double epsilon);
// Checks moving_var + epsilon > 0 on the host (copies the C variances back: one small sync).
void batch_norm_forward_infer(const Tensor& x, const std::optional<Tensor>& gamma,
                              const std::optional<Tensor>& beta, const Tensor& moving_mean,
                              const Tensor& moving_var, const Tensor& y, double epsilon);
void batch_norm_backward(const Tensor& dy, const Tensor& x, const std::optional<Tensor>& gamma,
                         const Tensor& mean, const Tensor& inv_std, const std::optional<Tensor>& dx,
                         const std::optional<Tensor>& dgamma, const std::optional<Tensor>& dbeta,
                         bool training);

}  // namespace corenn::cuda
