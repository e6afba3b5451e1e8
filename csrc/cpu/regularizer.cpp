// Regularizer kernel (CPU).
//
//   penalty = l1 sum_i |w_i| + l2 sum_i w_i^2
//   grad_i += l1 sign(w_i) + 2 l2 w_i          (sign(0) = 0; only when grad is given)
// w and grad are flat arrays of n floats. Each 32 KB chunk of w is summed, then (still in cache)
// used for the gradient update. The sums use fixed chunks with double partials
// (fixed_chunk_sum.h), so the penalty is the same for any thread count.

#include <algorithm>
#include <cmath>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "cpu/fixed_chunk_sum.h"
#include "ops/regularizer.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kChunk = 8192;
constexpr int64_t kGrainChunks = 4;

struct Sums {
  double abs = 0.0, sq = 0.0;
};

// s = (sum |w_i|, sum w_i^2) over [lo, hi). With SSE2 (every x86-64): float lanes over blocks of
// 256 elements (at most 32 adds per lane of non-negative terms: < 2e-6 relative), each block
// flushed into double lanes. The compiler's own vectorisation of this pattern kept the lane
// arrays in memory and ran 3x slower. Fixed order for a given chunk, so results are reproducible.
void abs_and_square_sums(const float* w, int64_t lo, int64_t hi, Sums& s) {
  int64_t i = lo;
#ifdef __SSE2__
  const __m128 sign = _mm_set1_ps(-0.0f);
  __m128d a0 = _mm_setzero_pd(), a1 = a0, q0 = a0, q1 = a0;
  for (; i + 8 <= hi;) {
    const int64_t block_end = std::min(hi, i + 256);
    __m128 fa0 = _mm_setzero_ps(), fa1 = fa0, fq0 = fa0, fq1 = fa0;
    for (; i + 8 <= block_end; i += 8) {
      const __m128 v0 = _mm_loadu_ps(w + i), v1 = _mm_loadu_ps(w + i + 4);
      fa0 = _mm_add_ps(fa0, _mm_andnot_ps(sign, v0));
      fa1 = _mm_add_ps(fa1, _mm_andnot_ps(sign, v1));
      fq0 = _mm_add_ps(fq0, _mm_mul_ps(v0, v0));
      fq1 = _mm_add_ps(fq1, _mm_mul_ps(v1, v1));
    }
    const __m128 fa = _mm_add_ps(fa0, fa1), fq = _mm_add_ps(fq0, fq1);
    a0 = _mm_add_pd(a0, _mm_cvtps_pd(fa));
    a1 = _mm_add_pd(a1, _mm_cvtps_pd(_mm_movehl_ps(fa, fa)));
    q0 = _mm_add_pd(q0, _mm_cvtps_pd(fq));
    q1 = _mm_add_pd(q1, _mm_cvtps_pd(_mm_movehl_ps(fq, fq)));
  }
  double a[2], q[2];
  _mm_storeu_pd(a, _mm_add_pd(a0, a1));
  _mm_storeu_pd(q, _mm_add_pd(q0, q1));
  s.abs = a[0] + a[1];
  s.sq = q[0] + q[1];
#endif
  for (; i < hi; ++i) {
    const double v = w[i];
    s.abs += std::fabs(v);
    s.sq += v * v;
  }
}
// grad += l1 sign(w) + two_l2 w. l1 sign(w) is l1 with w's sign bit, masked to 0 where w == 0;
// spelled with SSE2 because GCC keeps a branch per element for the compare-based form.
void add_penalty_grad(const float* w, float* grad, int64_t lo, int64_t hi, float l1, float two_l2) {
  int64_t i = lo;
#ifdef __SSE2__
  const __m128 sign = _mm_set1_ps(-0.0f), l1v = _mm_set1_ps(l1), l2v = _mm_set1_ps(two_l2);
  for (; i + 4 <= hi; i += 4) {
    const __m128 v = _mm_loadu_ps(w + i);
    const __m128 l1_sign = _mm_and_ps(_mm_or_ps(_mm_and_ps(v, sign), l1v),
                                      _mm_cmpneq_ps(v, _mm_setzero_ps()));
    const __m128 g = _mm_add_ps(l1_sign, _mm_mul_ps(l2v, v));
    _mm_storeu_ps(grad + i, _mm_add_ps(_mm_loadu_ps(grad + i), g));
  }
#endif
  for (; i < hi; ++i) {
    const float v = w[i];
    const float sgn = static_cast<float>(v > 0.0f) - static_cast<float>(v < 0.0f);
    grad[i] += l1 * sgn + two_l2 * v;
  }
}

}  // namespace

double regularizer_penalty(const float* w, float* grad, int64_t n, float l1, float l2) {
  const auto partial = fixed_chunk_map<Sums>(n, kChunk, kGrainChunks, [&](int64_t lo, int64_t hi, Sums& s) {
    abs_and_square_sums(w, lo, hi, s);
    if (grad) add_penalty_grad(w, grad, lo, hi, l1, 2.0f * l2);
  });
  double a = 0.0, q = 0.0;
  for (const Sums& s : partial) {
    a += s.abs;
    q += s.sq;
  }
  return static_cast<double>(l1) * a + static_cast<double>(l2) * q;
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(regularizer_penalty_stub, Slot::cpu_ref,
                       +[](const Tensor&, const float* w, float* grad, int64_t n, float l1,
                           float l2) { return regularizer_penalty(w, grad, n, l1, l2); });
}  // namespace corenn::cpu
