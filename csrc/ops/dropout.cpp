// Entry for dropout: x, y, mask (and dy, dx) share one shape; y may be x (in place).
#include "ops/dropout.h"

#include <cmath>

#include "ops/elementwise_common.h"
#ifdef CORENN_WITH_CUDA
#include "cuda/dropout.h"
#endif

namespace corenn {

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
#ifdef CORENN_WITH_CUDA
  if (!x.device().is_cpu()) return cuda::dropout_forward(x, y, mask, static_cast<float>(rate), seed);
#endif
  check_cpu(op, "x", x);
  cpu::dropout_forward(x.data<float>(), y.data<float>(), mask.data<float>(), x.numel(),
                       static_cast<float>(rate), seed);
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
#ifdef CORENN_WITH_CUDA
  if (!dy.device().is_cpu()) return cuda::dropout_backward(dy, mask, dx);
#endif
  check_cpu(op, "dy", dy);
  cpu::dropout_backward(dy.data<float>(), mask.data<float>(), dx.data<float>(), dy.numel());
}

}  // namespace corenn
