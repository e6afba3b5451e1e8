// Regularizer kernel (CPU).
//
//   penalty = l1 sum_i |w_i| + l2 sum_i w_i^2
//   grad_i += l1 sign(w_i) + 2 l2 w_i          (sign(0) = 0; only when grad is given)
// w and grad are flat arrays of n floats. One pass reads w once for both. The sums use fixed
// chunks with double partials (fixed_chunk_sum.h), so the penalty is the same for any thread count.
#include <algorithm>
#include <cmath>

#include "cpu/fixed_chunk_sum.h"
#include "ops/regularizer.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kChunk = 8192;
constexpr int64_t kGrainChunks = 4;

struct Sums {
  double abs = 0.0, sq = 0.0;
};
}  // namespace

double regularizer_penalty(const float* w, float* grad, int64_t n, float l1, float l2) {
  const auto partial = fixed_chunk_map<Sums>(n, kChunk, kGrainChunks, [&](int64_t lo, int64_t hi, Sums& s) {
    // 8 float lanes over blocks of 256 elements (32 adds per lane of non-negative terms: < 2e-6
    // relative), blocks flushed into double lanes. No reassociation is needed to vectorise this,
    // so the result is fixed for a given chunk.
    double a[8] = {}, q[8] = {};
    for (int64_t b0 = lo; b0 < hi; b0 += 256) {
      const int64_t b1 = std::min(hi, b0 + 256);
      float fa[8] = {}, fq[8] = {};
      int64_t i = b0;
      for (; i + 8 <= b1; i += 8) {
        for (int k = 0; k < 8; ++k) {
          const float v = w[i + k];
          fa[k] += std::fabs(v);
          fq[k] += v * v;
        }
      }
      for (; i < b1; ++i) {
        fa[0] += std::fabs(w[i]);
        fq[0] += w[i] * w[i];
      }
      for (int k = 0; k < 8; ++k) {
        a[k] += fa[k];
        q[k] += fq[k];
      }
    }
    for (int k = 0; k < 8; ++k) {
      s.abs += a[k];
      s.sq += q[k];
    }
    if (!grad) return;
    const float l1_ = l1, two_l2 = 2.0f * l2;  // locals: a captured float& could alias grad
    for (int64_t i = lo; i < hi; ++i) {
      const float v = w[i];
      const float sign = static_cast<float>(v > 0.0f) - static_cast<float>(v < 0.0f);
      grad[i] += l1_ * sign + two_l2 * v;
    }
  });
  double a = 0.0, q = 0.0;
  for (const Sums& s : partial) {
    a += s.abs;
    q += s.sq;
  }
  return static_cast<double>(l1) * a + static_cast<double>(l2) * q;
}

}  // namespace corenn::cpu
