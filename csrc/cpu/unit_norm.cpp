// Unit (L2) normalization kernels (CPU). x, y, dy, dx are (R, D, B) row-major; the math is in
// ops/unit_norm.h. Sums run in double. Parallel over R; for B > 1 the B sums of one r are
// accumulated side by side while d walks the rows, so memory is read in order either way.
// A slice is read whole before it is written: y may be x, dx may be dy.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "ops/unit_norm.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kGrainFloats = 16384;

int64_t grain(int64_t d, int64_t b) { return std::max<int64_t>(1, kGrainFloats / std::max<int64_t>(d * b, 1)); }

double inv_norm(double square_sum) {
  return 1.0 / std::sqrt(std::max(square_sum, kUnitNormMinSquareSum));
}
}  // namespace

void unit_norm_forward(const float* x, float* y, int64_t r, int64_t d, int64_t b) {
  parallel_for(0, r, grain(d, b), [&](int64_t lo, int64_t hi) {
    std::vector<double> ss(b);
    std::vector<float> inv(b);
    for (int64_t i = lo; i < hi; ++i) {
      const float* xi = x + i * d * b;
      float* yi = y + i * d * b;
      std::fill(ss.begin(), ss.end(), 0.0);
      for (int64_t k = 0; k < d; ++k)
        for (int64_t j = 0; j < b; ++j) ss[j] += static_cast<double>(xi[k * b + j]) * xi[k * b + j];
      for (int64_t j = 0; j < b; ++j) inv[j] = static_cast<float>(inv_norm(ss[j]));
      for (int64_t k = 0; k < d; ++k)
        for (int64_t j = 0; j < b; ++j) yi[k * b + j] = xi[k * b + j] * inv[j];
    }
  });
}

void unit_norm_backward(const float* dy, const float* x, float* dx, int64_t r, int64_t d, int64_t b) {
  parallel_for(0, r, grain(d, b), [&](int64_t lo, int64_t hi) {
    std::vector<double> ss(b), dot(b);
    std::vector<float> inv(b), coef(b);
    for (int64_t i = lo; i < hi; ++i) {
      const float* xi = x + i * d * b;
      const float* dyi = dy + i * d * b;
      float* dxi = dx + i * d * b;
      std::fill(ss.begin(), ss.end(), 0.0);
      std::fill(dot.begin(), dot.end(), 0.0);
      for (int64_t k = 0; k < d; ++k)
        for (int64_t j = 0; j < b; ++j) {
          const double xv = xi[k * b + j];
          ss[j] += xv * xv;
          dot[j] += xv * dyi[k * b + j];
        }
      for (int64_t j = 0; j < b; ++j) {
        const double iv = inv_norm(ss[j]);
        inv[j] = static_cast<float>(iv);
        // The clamp's derivative is 0: below the floor the norm is a constant.
        coef[j] = ss[j] > kUnitNormMinSquareSum ? static_cast<float>(dot[j] * iv * iv * iv) : 0.0f;
      }
      for (int64_t k = 0; k < d; ++k)
        for (int64_t j = 0; j < b; ++j)
          dxi[k * b + j] = inv[j] * dyi[k * b + j] - xi[k * b + j] * coef[j];
    }
  });
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(unit_norm_forward_stub, Slot::cpu_ref, unit_norm_forward);
CORENN_REGISTER_KERNEL(unit_norm_backward_stub, Slot::cpu_ref, unit_norm_backward);
}  // namespace corenn::cpu
