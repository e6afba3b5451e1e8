// Entries for the noise layers' kernels: x, y (and mask) share one shape; y may be x.
#include "ops/noise.h"

#include <cmath>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(GaussianNoiseForwardFn, gaussian_noise_forward_stub,
                       "gaussian_noise_forward");
CORENN_DEFINE_DISPATCH(GaussianDropoutForwardFn, gaussian_dropout_forward_stub,
                       "gaussian_dropout_forward");
CORENN_DEFINE_DISPATCH(AlphaDropoutForwardFn, alpha_dropout_forward_stub, "alpha_dropout_forward");

namespace {

void check_io(const DispatchStubBase& stub, const char* op, const Tensor& x, const Tensor& y) {
  check_float32(op, "x", x);
  check_float32(op, "y", y);
  check_writable(op, "y", y);
  check_same_shape(op, "x", x, "y", y);
  check_same_device(op, "x", x, "y", y);
  check_same_or_disjoint(op, "x", x, "y", y);
  stub.check_device(x.device());
}

void check_mask(const char* op, const Tensor& x, const Tensor& y, const Tensor& mask) {
  check_float32(op, "mask", mask);
  check_writable(op, "mask", mask);
  check_same_shape(op, "x", x, "mask", mask);
  check_same_device(op, "x", x, "mask", mask);
  check_no_alias(op, "x", x, "mask", mask);
  check_no_alias(op, "y", y, "mask", mask);
}

void check_rate(const char* op, double rate) {
  CORENN_CHECK(std::isfinite(rate) && rate >= 0.0 && rate < 1.0, op,
               ": rate must be in [0, 1), got ", rate);
}

}  // namespace

void gaussian_noise_forward(const Tensor& x, const Tensor& y, double stddev, uint64_t seed) {
  const char* op = "gaussian_noise_forward";
  CORENN_CHECK(std::isfinite(stddev) && stddev >= 0.0, op, ": stddev must be a finite number >= 0, got ",
               stddev);
  check_io(gaussian_noise_forward_stub, op, x, y);
  if (x.numel() == 0) return;
  gaussian_noise_forward_stub(x.device())(x.data<float>(), y.data<float>(), x.numel(),
                                          static_cast<float>(stddev), seed);
}

void gaussian_dropout_forward(const Tensor& x, const Tensor& y, const Tensor& mask, double rate,
                              uint64_t seed) {
  const char* op = "gaussian_dropout_forward";
  check_rate(op, rate);
  check_io(gaussian_dropout_forward_stub, op, x, y);
  check_mask(op, x, y, mask);
  if (x.numel() == 0) return;
  gaussian_dropout_forward_stub(x.device())(x.data<float>(), y.data<float>(), mask.data<float>(),
                                            x.numel(),
                                            static_cast<float>(std::sqrt(rate / (1.0 - rate))),
                                            seed);
}

void alpha_dropout_forward(const Tensor& x, const Tensor& y, const Tensor& mask, double rate,
                           uint64_t seed) {
  const char* op = "alpha_dropout_forward";
  check_rate(op, rate);
  check_io(alpha_dropout_forward_stub, op, x, y);
  check_mask(op, x, y, mask);
  if (x.numel() == 0) return;
  alpha_dropout_forward_stub(x.device())(x.data<float>(), y.data<float>(), mask.data<float>(),
                                         x.numel(), static_cast<float>(rate), seed);
}

}  // namespace corenn
