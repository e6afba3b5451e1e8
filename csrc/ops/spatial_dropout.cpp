// Entry for spatial dropout: x, y (and dy, dx) are (N, ..., C) with at least 2 axes, mask (N, C).
#include "ops/spatial_dropout.h"

#include <cmath>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(SpatialDropoutForwardFn, spatial_dropout_forward_stub,
                       "spatial_dropout_forward");
CORENN_DEFINE_DISPATCH(SpatialDropoutBackwardFn, spatial_dropout_backward_stub,
                       "spatial_dropout_backward");

namespace {

void check_mask(const char* op, const Tensor& x, const Tensor& mask) {
  check_float32(op, "mask", mask);
  CORENN_CHECK(mask.dim() == 2 && mask.size(0) == x.size(0) && mask.size(1) == x.size(-1), op,
               ": mask must have shape (", x.size(0), ", ", x.size(-1), ") for x of shape ",
               x.shape_str(), ", got ", mask.shape_str());
  check_same_device(op, "x", x, "mask", mask);
}

}  // namespace

void spatial_dropout_forward(const Tensor& x, const Tensor& y, const Tensor& mask, double rate,
                             uint64_t seed) {
  const char* op = "spatial_dropout_forward";
  CORENN_CHECK(std::isfinite(rate) && rate >= 0.0 && rate < 1.0, op,
               ": rate must be in [0, 1), got ", rate);
  check_float32(op, "x", x);
  check_float32(op, "y", y);
  check_writable(op, "y", y);
  check_writable(op, "mask", mask);
  check_min_dim(op, "x", x, 2);
  check_same_shape(op, "x", x, "y", y);
  check_same_device(op, "x", x, "y", y);
  spatial_dropout_forward_stub.check_device(x.device());
  check_mask(op, x, mask);
  check_same_or_disjoint(op, "x", x, "y", y);
  check_no_alias(op, "x", x, "mask", mask);
  check_no_alias(op, "y", y, "mask", mask);
  if (x.numel() == 0) return;
  const int64_t batch = x.size(0), channels = x.size(-1);
  spatial_dropout_forward_stub(x.device())(x.data<float>(), y.data<float>(), mask.data<float>(),
                                           batch, x.numel() / (batch * channels), channels,
                                           static_cast<float>(rate), seed);
}

void spatial_dropout_backward(const Tensor& dy, const Tensor& mask, const Tensor& dx) {
  const char* op = "spatial_dropout_backward";
  check_float32(op, "dy", dy);
  check_float32(op, "dx", dx);
  check_writable(op, "dx", dx);
  check_min_dim(op, "dy", dy, 2);
  check_same_shape(op, "dy", dy, "dx", dx);
  check_same_device(op, "dy", dy, "dx", dx);
  spatial_dropout_backward_stub.check_device(dy.device());
  check_mask(op, dy, mask);
  check_same_or_disjoint(op, "dy", dy, "dx", dx);
  check_no_alias(op, "dx", dx, "mask", mask);
  if (dy.numel() == 0) return;
  const int64_t batch = dy.size(0), channels = dy.size(-1);
  spatial_dropout_backward_stub(dy.device())(dy.data<float>(), mask.data<float>(), dx.data<float>(),
                                             batch, dy.numel() / (batch * channels), channels);
}

}  // namespace corenn
