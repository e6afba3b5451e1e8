// Entry for batch normalization: checks, then the per-channel scalars (double) around the CPU
// passes of cpu/batch_norm.cpp. x is (..., C) with at least one row; every vector is (C,).
#include "ops/batch_norm.h"

#include <cmath>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(BatchNormForwardTrainFn, batch_norm_forward_train_stub,
                       "batch_norm_forward_train");
CORENN_DEFINE_DISPATCH(BatchNormForwardInferFn, batch_norm_forward_infer_stub,
                       "batch_norm_forward_infer");
CORENN_DEFINE_DISPATCH(BatchNormBackwardFn, batch_norm_backward_stub, "batch_norm_backward");
CORENN_DEFINE_DISPATCH(BatchNormAddReluForwardFn, batch_norm_add_relu_forward_stub,
                       "batch_norm_add_relu_forward");
CORENN_DEFINE_DISPATCH(BatchNormAddReluBackwardFn, batch_norm_add_relu_backward_stub,
                       "batch_norm_add_relu_backward");

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

// A per-image (N, C) array for x (N, ..., C): N = x's first axis, C its last.
void check_pooled(const char* op, const char* arg, const Tensor& t, const Tensor& x) {
  check_float32(op, arg, t);
  CORENN_CHECK(x.dim() >= 3 && t.dim() == 2 && t.size(0) == x.size(0) && t.size(1) == x.size(-1),
               op, ": ", arg, " must have shape (", x.size(0), ", ", x.size(-1),
               ") (per image and channel of x ", x.shape_str(), "), got ", t.shape_str());
  check_same_device(op, "x", x, arg, t);
}

// The checks both backward entries share: the per-channel vectors, dgamma / dbeta, and dx (x's
// shape, writable, not x, mean or inv_std: pass 2 reads them after pass 1).
void check_backward_outputs(const char* op, const Tensor& x, const std::optional<Tensor>& gamma,
                            const Tensor& mean, const Tensor& inv_std,
                            const std::optional<Tensor>& dx, const std::optional<Tensor>& dgamma,
                            const std::optional<Tensor>& dbeta) {
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
    check_no_alias(op, "x", x, "dx", *dx);
    check_no_alias(op, "dx", *dx, "mean", mean);
    check_no_alias(op, "dx", *dx, "inv_std", inv_std);
  }
  if (dgamma && dbeta) check_no_alias(op, "dgamma", *dgamma, "dbeta", *dbeta);
}

void check_epsilon(const char* op, double epsilon) {
  CORENN_CHECK(std::isfinite(epsilon) && epsilon > 0.0, op, ": epsilon must be > 0, got ", epsilon);
}

// The checks of a training-mode forward (both ops): x -> y, the per-channel vectors, the moving
// statistics and their arguments.
void check_forward_train(const char* op, const Tensor& x, const std::optional<Tensor>& gamma,
                         const std::optional<Tensor>& beta, const Tensor& y, const Tensor& mean,
                         const Tensor& inv_std, const std::optional<Tensor>& moving_mean,
                         const std::optional<Tensor>& moving_var, double momentum,
                         double epsilon) {
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
}

}  // namespace

void batch_norm_forward_train(const Tensor& x, const std::optional<Tensor>& gamma,
                              const std::optional<Tensor>& beta, const Tensor& y, const Tensor& mean,
                              const Tensor& inv_std, const std::optional<Tensor>& moving_mean,
                              const std::optional<Tensor>& moving_var, double momentum, double epsilon) {
  check_forward_train("batch_norm_forward_train", x, gamma, beta, y, mean, inv_std, moving_mean,
                      moving_var, momentum, epsilon);
  batch_norm_forward_train_stub(x.device())(x, gamma, beta, y, mean, inv_std, moving_mean,
                                            moving_var, momentum, epsilon);
}

void batch_norm_add_relu_forward(const Tensor& x, const std::optional<Tensor>& gamma,
                                 const std::optional<Tensor>& beta, const Tensor& r,
                                 const Tensor& y, const Tensor& mean, const Tensor& inv_std,
                                 const std::optional<Tensor>& moving_mean,
                                 const std::optional<Tensor>& moving_var, double momentum,
                                 double epsilon, const std::optional<Tensor>& pooled) {
  const char* op = "batch_norm_add_relu_forward";
  check_forward_train(op, x, gamma, beta, y, mean, inv_std, moving_mean, moving_var, momentum,
                      epsilon);
  check_float32(op, "r", r);
  check_same_shape(op, "x", x, "r", r);
  check_same_device(op, "x", x, "r", r);
  check_same_or_disjoint(op, "r", r, "y", y);
  check_no_alias(op, "r", r, "mean", mean);
  check_no_alias(op, "r", r, "inv_std", inv_std);
  if (pooled) {
    check_pooled(op, "pooled", *pooled, x);
    check_writable(op, "pooled", *pooled);
    for (const Tensor* t : {&x, &r, &y, &mean, &inv_std})
      check_no_alias(op, "pooled", *pooled, "x / r / y / mean / inv_std", *t);
  }
  batch_norm_add_relu_forward_stub(x.device())(x, gamma, beta, r, y, mean, inv_std, moving_mean,
                                               moving_var, momentum, epsilon, pooled);
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
  batch_norm_forward_infer_stub(x.device())(x, gamma, beta, moving_mean, moving_var, y, epsilon);
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
  check_backward_outputs(op, x, gamma, mean, inv_std, dx, dgamma, dbeta);
  if (dx) check_same_or_disjoint(op, "dy", dy, "dx", *dx);  // dx may be dy only
  batch_norm_backward_stub(x.device())(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, training);
}

void batch_norm_add_relu_backward(const Tensor& dy, const Tensor& x, const Tensor& y,
                                  const std::optional<Tensor>& gamma, const Tensor& mean,
                                  const Tensor& inv_std, const Tensor& dr,
                                  const std::optional<Tensor>& dx,
                                  const std::optional<Tensor>& dgamma,
                                  const std::optional<Tensor>& dbeta,
                                  const std::optional<Tensor>& dy2) {
  const char* op = "batch_norm_add_relu_backward";
  check_input(op, x);
  if (dy.dim() == 2 && x.dim() > 2) {   // the gradient of y's per-image mean (the pooled forward)
    CORENN_CHECK(!dy2, op, ": dy2 (a second part of y's gradient) needs dy of y's shape ",
                 x.shape_str(), ", got a pooled dy of shape ", dy.shape_str());
    check_pooled(op, "dy", dy, x);
  } else {
    check_float32(op, "dy", dy);
    check_same_shape(op, "x", x, "dy", dy);
    check_same_device(op, "x", x, "dy", dy);
  }
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"y", &y}, {"dr", &dr}}) {
    check_float32(op, name, *t);
    check_same_shape(op, "x", x, name, *t);
    check_same_device(op, "x", x, name, *t);
  }
  check_backward_outputs(op, x, gamma, mean, inv_std, dx, dgamma, dbeta);
  check_writable(op, "dr", dr);
  if (dy2) {
    check_float32(op, "dy2", *dy2);
    check_same_shape(op, "x", x, "dy2", *dy2);
    check_same_device(op, "x", x, "dy2", *dy2);
    check_same_or_disjoint(op, "dy2", *dy2, "dr", dr);
  }
  // pass 1 reads dy (+ dy2), y, x and writes dr element by element; pass 2 reads dr and x, writes dx
  check_same_or_disjoint(op, "dy", dy, "dr", dr);
  check_same_or_disjoint(op, "y", y, "dr", dr);
  check_no_alias(op, "x", x, "dr", dr);
  for (const Tensor* t : {&mean, &inv_std}) check_no_alias(op, "dr", dr, "mean / inv_std", *t);
  if (dx) check_no_alias(op, "dr", dr, "dx", *dx);   // dr is the residual's gradient, returned too
  for (const auto* t : {&dgamma, &dbeta})
    if (*t) check_no_alias(op, "dr", dr, "dgamma / dbeta", **t);
  batch_norm_add_relu_backward_stub(x.device())(dy, dy2, x, y, gamma, mean, inv_std, dr, dx,
                                                dgamma, dbeta);
}

}  // namespace corenn
