// Entry for batch normalization: checks, then the per-channel scalars (double) around the CPU
// passes of cpu/batch_norm.cpp. x is (..., C) with at least one row; every vector is (C,).
#include "ops/batch_norm.h"

#include <cmath>
#include <vector>

#include "ops/elementwise_common.h"
#ifdef CORENN_WITH_CUDA
#include "cuda/batch_norm.h"
#endif

namespace corenn {

namespace {

void check_channels(const char* op, const char* arg, const Tensor& t, const Tensor& x) {
  check_float32(op, arg, t);
  CORENN_CHECK(t.dim() == 1 && t.size(0) == x.size(-1), op, ": ", arg, " must have shape (",
               x.size(-1), ",) to match the last axis of x ", x.shape_str(), ", got ", t.shape_str());
  check_same_device(op, "x", x, arg, t);
}

void check_optional_channels(const char* op, const char* arg, const std::optional<Tensor>& t,
                             const Tensor& x) {
  if (t) check_channels(op, arg, *t, x);
}

void check_input(const char* op, const Tensor& x) {
  check_float32(op, "x", x);
  check_min_dim(op, "x", x, 1);
  check_nonempty(op, "x", x);
}

void check_epsilon(const char* op, double epsilon) {
  CORENN_CHECK(std::isfinite(epsilon) && epsilon > 0.0, op, ": epsilon must be > 0, got ", epsilon);
}

const float* ptr(const std::optional<Tensor>& t) { return t ? t->data<float>() : nullptr; }

// scale = gamma * inv_std, shift = beta (missing gamma = 1, missing beta = 0).
void affine(int64_t cols, const float* gamma, const float* beta, const float* inv_std,
            std::vector<float>& scale, std::vector<float>& shift) {
  scale.resize(cols);
  shift.resize(cols);
  for (int64_t c = 0; c < cols; ++c) {
    scale[c] = (gamma ? gamma[c] : 1.0f) * inv_std[c];
    shift[c] = beta ? beta[c] : 0.0f;
  }
}

}  // namespace

void batch_norm_forward_train(const Tensor& x, const std::optional<Tensor>& gamma,
                              const std::optional<Tensor>& beta, const Tensor& y, const Tensor& mean,
                              const Tensor& inv_std, const std::optional<Tensor>& moving_mean,
                              const std::optional<Tensor>& moving_var, double momentum, double epsilon) {
  const char* op = "batch_norm_forward_train";
  check_input(op, x);
  check_float32(op, "y", y);
  check_same_shape(op, "x", x, "y", y);
  check_same_device(op, "x", x, "y", y);
  check_same_or_disjoint(op, "x", x, "y", y);
  check_optional_channels(op, "gamma", gamma, x);
  check_optional_channels(op, "beta", beta, x);
  check_channels(op, "mean", mean, x);
  check_channels(op, "inv_std", inv_std, x);
  check_optional_channels(op, "moving_mean", moving_mean, x);
  check_optional_channels(op, "moving_var", moving_var, x);
  check_writable(op, "y", y);
  check_writable(op, "mean", mean);
  check_writable(op, "inv_std", inv_std);
  if (moving_mean) check_writable(op, "moving_mean", *moving_mean);
  if (moving_var) check_writable(op, "moving_var", *moving_var);
  CORENN_CHECK(moving_mean.has_value() == moving_var.has_value(), op,
               ": pass both moving_mean and moving_var, or neither");
  check_epsilon(op, epsilon);
  CORENN_CHECK(std::isfinite(momentum) && momentum >= 0.0 && momentum <= 1.0, op,
               ": momentum must be in [0, 1], got ", momentum);
  check_no_alias(op, "mean", mean, "inv_std", inv_std);
  check_no_alias(op, "y", y, "mean", mean);
  check_no_alias(op, "y", y, "inv_std", inv_std);
  check_no_alias(op, "x", x, "mean", mean);
  check_no_alias(op, "x", x, "inv_std", inv_std);
#ifdef CORENN_WITH_CUDA
  if (!x.device().is_cpu())
    return cuda::batch_norm_forward_train(x, gamma, beta, y, mean, inv_std, moving_mean, moving_var,
                                          momentum, epsilon);
#endif
  check_cpu(op, "x", x);

  const int64_t rows = x.rows(), cols = x.cols();
  std::vector<double> m(cols), v(cols);
  cpu::batch_norm_stats(x.data<float>(), rows, cols, m.data(), v.data());
  float* mean_p = mean.data<float>();
  float* inv_p = inv_std.data<float>();
  for (int64_t c = 0; c < cols; ++c) {
    mean_p[c] = static_cast<float>(m[c]);
    inv_p[c] = static_cast<float>(1.0 / std::sqrt(v[c] + epsilon));
  }
  std::vector<float> scale, shift;
  affine(cols, ptr(gamma), ptr(beta), inv_p, scale, shift);
  cpu::batch_norm_apply(x.data<float>(), y.data<float>(), rows, cols, mean_p, scale.data(),
                        shift.data());
  if (moving_mean) {  // after y: x may be y, the statistics are already taken
    float* mm = moving_mean->data<float>();
    float* mv = moving_var->data<float>();
    const float keep = static_cast<float>(momentum), take = static_cast<float>(1.0 - momentum);
    for (int64_t c = 0; c < cols; ++c) {
      mm[c] = mm[c] * keep + static_cast<float>(m[c]) * take;
      mv[c] = mv[c] * keep + static_cast<float>(v[c]) * take;
    }
  }
}

void batch_norm_forward_infer(const Tensor& x, const std::optional<Tensor>& gamma,
                              const std::optional<Tensor>& beta, const Tensor& moving_mean,
                              const Tensor& moving_var, const Tensor& y, double epsilon) {
  const char* op = "batch_norm_forward_infer";
  check_input(op, x);
  check_float32(op, "y", y);
  check_same_shape(op, "x", x, "y", y);
  check_same_device(op, "x", x, "y", y);
  check_same_or_disjoint(op, "x", x, "y", y);
  check_optional_channels(op, "gamma", gamma, x);
  check_optional_channels(op, "beta", beta, x);
  check_channels(op, "moving_mean", moving_mean, x);
  check_channels(op, "moving_var", moving_var, x);
  check_writable(op, "y", y);
  check_epsilon(op, epsilon);
#ifdef CORENN_WITH_CUDA
  if (!x.device().is_cpu())
    return cuda::batch_norm_forward_infer(x, gamma, beta, moving_mean, moving_var, y, epsilon);
#endif
  check_cpu(op, "x", x);
  const int64_t cols = x.cols();
  const float* mv = moving_var.data<float>();
  std::vector<float> inv(cols);
  for (int64_t c = 0; c < cols; ++c) {
    CORENN_CHECK(mv[c] + epsilon > 0.0, op, ": moving_var[", c, "] + epsilon must be > 0, got ",
                 mv[c] + epsilon);
    inv[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(mv[c]) + epsilon));
  }
  std::vector<float> scale, shift;
  affine(cols, ptr(gamma), ptr(beta), inv.data(), scale, shift);
  cpu::batch_norm_apply(x.data<float>(), y.data<float>(), x.rows(), cols, moving_mean.data<float>(),
                        scale.data(), shift.data());
}

void batch_norm_backward(const Tensor& dy, const Tensor& x, const std::optional<Tensor>& gamma,
                         const Tensor& mean, const Tensor& inv_std, const std::optional<Tensor>& dx,
                         const std::optional<Tensor>& dgamma, const std::optional<Tensor>& dbeta,
                         bool training) {
  const char* op = "batch_norm_backward";
  check_input(op, x);
  check_float32(op, "dy", dy);
  check_same_shape(op, "x", x, "dy", dy);
  check_same_device(op, "x", x, "dy", dy);
  check_optional_channels(op, "gamma", gamma, x);
  check_channels(op, "mean", mean, x);
  check_channels(op, "inv_std", inv_std, x);
  check_optional_channels(op, "dgamma", dgamma, x);
  check_optional_channels(op, "dbeta", dbeta, x);
  if (dgamma) check_writable(op, "dgamma", *dgamma);
  if (dbeta) check_writable(op, "dbeta", *dbeta);
  if (dx) {
    check_float32(op, "dx", *dx);
    check_writable(op, "dx", *dx);
    check_same_shape(op, "x", x, "dx", *dx);
    check_same_device(op, "x", x, "dx", *dx);
    check_no_alias(op, "x", x, "dx", *dx);  // pass 2 reads x after pass 1; dx may be dy only
    check_same_or_disjoint(op, "dy", dy, "dx", *dx);
    check_no_alias(op, "dx", *dx, "mean", mean);
    check_no_alias(op, "dx", *dx, "inv_std", inv_std);
  }
  if (dgamma && dbeta) check_no_alias(op, "dgamma", *dgamma, "dbeta", *dbeta);
#ifdef CORENN_WITH_CUDA
  if (!x.device().is_cpu())
    return cuda::batch_norm_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, training);
#endif
  check_cpu(op, "x", x);

  const int64_t rows = x.rows(), cols = x.cols();
  const bool need_sums = dgamma || dbeta || (dx && training);
  std::vector<double> sum_dy(cols, 0.0), sum_dyxhat(cols, 0.0);
  if (need_sums) {
    cpu::batch_norm_grad_sums(dy.data<float>(), x.data<float>(), rows, cols, mean.data<float>(),
                              inv_std.data<float>(), sum_dy.data(), sum_dyxhat.data());
  }
  if (dx) {
    const float* g = ptr(gamma);
    const float* inv = inv_std.data<float>();
    std::vector<float> scale(cols), mean_dy(cols, 0.0f), mean_dyxhat(cols, 0.0f);
    for (int64_t c = 0; c < cols; ++c) {
      scale[c] = (g ? g[c] : 1.0f) * inv[c];
      if (training) {
        mean_dy[c] = static_cast<float>(sum_dy[c] / rows);
        mean_dyxhat[c] = static_cast<float>(sum_dyxhat[c] / rows);
      }
    }
    cpu::batch_norm_input_grad(dy.data<float>(), x.data<float>(), dx->data<float>(), rows, cols,
                               mean.data<float>(), inv, scale.data(), mean_dy.data(),
                               mean_dyxhat.data());
  }
  // written last: dgamma / dbeta may not alias dy or x, but nothing above reads them
  for (int64_t c = 0; c < cols; ++c) {
    if (dgamma) dgamma->data<float>()[c] = static_cast<float>(sum_dyxhat[c]);
    if (dbeta) dbeta->data<float>()[c] = static_cast<float>(sum_dy[c]);
  }
}

}  // namespace corenn
