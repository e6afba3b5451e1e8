// Dropout kernels (CPU).
//
//   forward:  mask[i] = u(seed, i) >= rate ? 1 / (1 - rate) : 0,  y[i] = x[i] * mask[i]
//   backward: dx[i] = dy[i] * mask[i]
// x, y, mask, dy, dx are flat arrays of n floats. u is core/rng.h's counter-based uniform01, a
// function of (seed, i) only, so the mask does not depend on how the range is split over threads.
// Keeping the mask (rather than re-deriving it from the seed in backward) costs one buffer but
// makes backward a plain multiply. With AVX2 the hash runs four lanes at a time
// (dropout_avx2.cpp, the avx2 slot of dropout_forward_stub), producing the same bits.
#include "core/parallel.h"
#include "core/rng.h"
#include "ops/dropout.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kMulGrain = 32768;
}  // namespace

void dropout_forward(const float* x, float* y, float* mask, int64_t n, float rate, uint64_t seed) {
  const float keep_scale = 1.0f / (1.0f - rate);
  parallel_for(0, n, kDropoutRngGrain, [=](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float m = uniform01(seed, static_cast<uint64_t>(i)) >= rate ? keep_scale : 0.0f;
      mask[i] = m;
      y[i] = x[i] * m;
    }
  });
}

void dropout_backward(const float* dy, const float* mask, float* dx, int64_t n) {
  parallel_for(0, n, kMulGrain, [=](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) dx[i] = dy[i] * mask[i];
  });
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(dropout_forward_stub, Slot::cpu_ref,
                       +[](const Tensor& x, const Tensor& y, const Tensor& mask, float rate,
                           uint64_t seed) {
                         dropout_forward(x.data<float>(), y.data<float>(), mask.data<float>(),
                                         x.numel(), rate, seed);
                       });
CORENN_REGISTER_KERNEL(dropout_backward_stub, Slot::cpu_ref,
                       +[](const Tensor& dy, const Tensor& mask, const Tensor& dx) {
                         dropout_backward(dy.data<float>(), mask.data<float>(), dx.data<float>(),
                                          dy.numel());
                       });
}  // namespace corenn::cpu
