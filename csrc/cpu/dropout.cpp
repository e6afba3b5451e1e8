// Dropout kernels (CPU).
//
//   forward:  mask[i] = u(seed, i) >= rate ? 1 / (1 - rate) : 0,  y[i] = x[i] * mask[i]
//   backward: dx[i] = dy[i] * mask[i]
// x, y, mask, dy, dx are flat arrays of n floats. u is core/rng.h's counter-based uniform01, a
// function of (seed, i) only, so the mask does not depend on how the range is split over threads.
// Keeping the mask (rather than re-deriving it from the seed in backward) costs one buffer but
// makes backward a plain multiply. With AVX2 the hash runs four lanes at a time
// (dropout_avx2.cpp), producing the same bits.
#include "core/cpu_features.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "ops/dropout.h"

namespace corenn::cpu {

#ifdef CORENN_X86_64  // dropout_avx2.cpp is compiled only on x86-64
namespace avx2 {
void dropout_forward_span(const float* x, float* y, float* mask, int64_t lo, int64_t hi, float rate,
                          float keep_scale, uint64_t seed);
}  // namespace avx2
#endif

namespace {
constexpr int64_t kRngGrain = 8192;   // one 64-bit hash per element
constexpr int64_t kMulGrain = 32768;
}  // namespace

void dropout_forward(const float* x, float* y, float* mask, int64_t n, float rate, uint64_t seed) {
  const float keep_scale = 1.0f / (1.0f - rate);
#ifdef CORENN_X86_64
  if (active_isa() >= Isa::avx2)
    return parallel_for(0, n, kRngGrain, [=](int64_t lo, int64_t hi) {
      avx2::dropout_forward_span(x, y, mask, lo, hi, rate, keep_scale, seed);
    });
#endif
  parallel_for(0, n, kRngGrain, [=](int64_t lo, int64_t hi) {
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
