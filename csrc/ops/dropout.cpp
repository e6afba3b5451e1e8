// Entry for dropout: x, y, mask (and dy, dx) share one shape; y may be x (in place).
#include "ops/dropout.h"

#include <cmath>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(DropoutForwardFn, dropout_forward_stub, "dropout_forward");
CORENN_DEFINE_DISPATCH(DropoutBackwardFn, dropout_backward_stub, "dropout_backward");

void dropout_forward(const Tensor& x, const Tensor& y, const Tensor& mask, double rate, uint64_t seed) {
  const char* op = "dropout_forward";
  CORENN_CHECK(std::isfinite(rate) && rate >= 0.0 && rate < 1.0, op,
               ": rate must be in [0, 1), got ", rate);
  check_float32(op, "x", x);
  check_float32(op, "y", y);
  check_float32(op, "mask", mask);
  check_writable(op, "y", y);
  check_writable(op, "mask", mask);
  check_same_shape(op, "x", x, "y", y);
  check_same_shape(op, "x", x, "mask", mask);
  check_same_device(op, "x", x, "y", y);
  check_same_device(op, "x", x, "mask", mask);
  check_same_or_disjoint(op, "x", x, "y", y);
  check_no_alias(op, "x", x, "mask", mask);
  check_no_alias(op, "y", y, "mask", mask);
  if (x.numel() == 0) return;
  dropout_forward_stub(x.device())(x, y, mask, static_cast<float>(rate), seed);
}

void dropout_backward(const Tensor& dy, const Tensor& mask, const Tensor& dx) {
  const char* op = "dropout_backward";
  check_float32(op, "dy", dy);
  check_float32(op, "mask", mask);
  check_float32(op, "dx", dx);
  check_writable(op, "dx", dx);
  check_same_shape(op, "dy", dy, "mask", mask);
  check_same_shape(op, "dy", dy, "dx", dx);
  check_same_device(op, "dy", dy, "mask", mask);
  check_same_device(op, "dy", dy, "dx", dx);
  check_same_or_disjoint(op, "dy", dy, "dx", dx);
  check_same_or_disjoint(op, "mask", mask, "dx", dx);
  if (dy.numel() == 0) return;
  dropout_backward_stub(dy.device())(dy, mask, dx);
}

}  // namespace corenn
