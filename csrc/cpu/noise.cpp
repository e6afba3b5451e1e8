// Noise kernels (CPU): flat arrays of n floats; the math and the random streams are in
// ops/noise.h. Element i's numbers are a function of (seed, i) only, so any split of [0, n) over
// threads gives the same bits. Box-Muller is computed in double (one log, one sqrt, one cos per
// element; these layers are not on a hot path) and rounded once.
#include <cmath>

#include "core/parallel.h"
#include "core/rng.h"
#include "ops/noise.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kGrain = 4096;
constexpr double kTwoPi = 6.283185307179586476925286766559;

// Standard normal draw for element i: 1 - u lies in (0, 1], so the log is finite.
double normal01(uint64_t seed, int64_t i) {
  const double u1 = uniform01(seed, 2 * static_cast<uint64_t>(i));
  const double u2 = uniform01(seed, 2 * static_cast<uint64_t>(i) + 1);
  return std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(kTwoPi * u2);
}
}  // namespace

void gaussian_noise_forward(const float* x, float* y, int64_t n, float stddev, uint64_t seed) {
  parallel_for(0, n, kGrain, [=](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      y[i] = x[i] + stddev * static_cast<float>(normal01(seed, i));
  });
}

void gaussian_dropout_forward(const float* x, float* y, float* mask, int64_t n, float stddev,
                              uint64_t seed) {
  parallel_for(0, n, kGrain, [=](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float m = static_cast<float>(1.0 + stddev * normal01(seed, i));
      mask[i] = m;
      y[i] = x[i] * m;
    }
  });
}

void alpha_dropout_forward(const float* x, float* y, float* mask, int64_t n, float rate,
                           uint64_t seed) {
  const double alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946;
  const double a_d = 1.0 / std::sqrt((1.0 - rate) * (1.0 + rate * alpha_p * alpha_p));
  const float a = static_cast<float>(a_d);
  const float b = static_cast<float>(-a_d * alpha_p * rate);
  const float dropped = static_cast<float>(a_d * alpha_p - a_d * alpha_p * rate);  // a * alpha' + b
  parallel_for(0, n, kGrain, [=](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const bool keep = uniform01(seed, static_cast<uint64_t>(i)) >= rate;
      mask[i] = keep ? a : 0.0f;
      y[i] = keep ? a * x[i] + b : dropped;
    }
  });
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(gaussian_noise_forward_stub, Slot::cpu_ref, gaussian_noise_forward);
CORENN_REGISTER_KERNEL(gaussian_dropout_forward_stub, Slot::cpu_ref, gaussian_dropout_forward);
CORENN_REGISTER_KERNEL(alpha_dropout_forward_stub, Slot::cpu_ref, alpha_dropout_forward);
}  // namespace corenn::cpu
