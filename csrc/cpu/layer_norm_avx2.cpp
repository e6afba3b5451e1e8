// AVX2 rows of layer normalization (layer_norm_rows_stub's avx2 slot): layer_norm_avx512.cpp on
// 8 floats per step (two 4-lane double accumulators for the row sums), the last d % 8 features
// under maskload / maskstore. Same order of the per-element float operations as the reference
// rows of cpu/layer_norm.cpp (no FMA), so only the order of the double sums differs.
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "ops/layer_norm.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx2 {

namespace {

// Lane masks of one step at j: 8 floats, and the two halves as 4 doubles each.
struct Lanes {
  __m256i f, d0, d1;
};
inline Lanes lanes(int64_t left) {
  const int32_t k = static_cast<int32_t>(left < 8 ? left : 8);
  const __m256i f = _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
  return {f, _mm256_cmpgt_epi64(_mm256_set1_epi64x(k), idx),
          _mm256_cmpgt_epi64(_mm256_set1_epi64x(k - 4), idx)};
}

// f(j, lanes) for every 8-float step of [0, d); full steps share one all-ones mask.
template <class F>
inline void for_each8(int64_t d, const F& f) {
  const Lanes all = lanes(8);
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) f(j, all);
  if (j < d) f(j, lanes(d - j));
}

inline __m256 load(const float* p, const Lanes& l) { return _mm256_maskload_ps(p, l.f); }
inline __m256d lo_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
inline __m256d hi_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
inline double hsum(__m256d v) {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
// p[0..8) += v0, v1 under the double lane masks.
inline void add_to(double* p, const Lanes& l, __m256d v0, __m256d v1) {
  _mm256_maskstore_pd(p, l.d0, _mm256_add_pd(_mm256_maskload_pd(p, l.d0), v0));
  _mm256_maskstore_pd(p + 4, l.d1, _mm256_add_pd(_mm256_maskload_pd(p + 4, l.d1), v1));
}

void forward_row(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                 float* inv_std, int64_t d, double epsilon) {
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  for_each8(d, [&](int64_t j, const Lanes& l) {
    const __m256 v = load(x + j, l);
    s0 = _mm256_add_pd(s0, lo_pd(v));
    s1 = _mm256_add_pd(s1, hi_pd(v));
  });
  const double mu = hsum(_mm256_add_pd(s0, s1)) / d;
  const __m256d vmu = _mm256_set1_pd(mu);
  __m256d q0 = _mm256_setzero_pd(), q1 = _mm256_setzero_pd();
  for_each8(d, [&](int64_t j, const Lanes& l) {
    const __m256 v = load(x + j, l);
    // masked-off lanes would add mu^2: keep them out
    const __m256d c0 = _mm256_and_pd(_mm256_sub_pd(lo_pd(v), vmu), _mm256_castsi256_pd(l.d0));
    const __m256d c1 = _mm256_and_pd(_mm256_sub_pd(hi_pd(v), vmu), _mm256_castsi256_pd(l.d1));
    q0 = _mm256_add_pd(q0, _mm256_mul_pd(c0, c0));
    q1 = _mm256_add_pd(q1, _mm256_mul_pd(c1, c1));
  });
  const double ss = hsum(_mm256_add_pd(q0, q1));
  const float mf = static_cast<float>(mu);
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / d + epsilon));
  *mean = mf;
  *inv_std = inv;
  const __m256 vm = _mm256_set1_ps(mf), vinv = _mm256_set1_ps(inv);
  for_each8(d, [&](int64_t j, const Lanes& l) {
    __m256 t = _mm256_mul_ps(_mm256_sub_ps(load(x + j, l), vm), vinv);
    if (gamma) t = _mm256_mul_ps(t, load(gamma + j, l));
    if (beta) t = _mm256_add_ps(t, load(beta + j, l));
    _mm256_maskstore_ps(y + j, l.f, t);
  });
}

void backward_row(const float* dy, const float* x, const float* gamma, float mf, float inv,
                  float* dx, double* pg, double* pb, int64_t d) {
  const __m256 vm = _mm256_set1_ps(mf), vinv = _mm256_set1_ps(inv);
  auto xhat = [&](int64_t j, const Lanes& l) {
    return _mm256_mul_ps(_mm256_sub_ps(load(x + j, l), vm), vinv);
  };
  if (pg || pb) {
    for_each8(d, [&](int64_t j, const Lanes& l) {
      const __m256 g = load(dy + j, l);
      const __m256d g0 = lo_pd(g), g1 = hi_pd(g);
      if (pg) {
        const __m256 h = xhat(j, l);
        add_to(pg + j, l, _mm256_mul_pd(g0, lo_pd(h)), _mm256_mul_pd(g1, hi_pd(h)));
      }
      if (pb) add_to(pb + j, l, g0, g1);
    });
  }
  if (!dx) return;
  auto grad = [&](int64_t j, const Lanes& l) {
    const __m256 g = load(dy + j, l);
    return gamma ? _mm256_mul_ps(g, load(gamma + j, l)) : g;
  };
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  __m256d b0 = _mm256_setzero_pd(), b1 = _mm256_setzero_pd();
  for_each8(d, [&](int64_t j, const Lanes& l) {
    const __m256 g = grad(j, l), h = xhat(j, l);  // g is 0 in masked-off lanes
    const __m256d g0 = lo_pd(g), g1 = hi_pd(g);
    a0 = _mm256_add_pd(a0, g0);
    a1 = _mm256_add_pd(a1, g1);
    b0 = _mm256_add_pd(b0, _mm256_mul_pd(g0, lo_pd(h)));
    b1 = _mm256_add_pd(b1, _mm256_mul_pd(g1, hi_pd(h)));
  });
  const __m256 va = _mm256_set1_ps(static_cast<float>(hsum(_mm256_add_pd(a0, a1)) / d));
  const __m256 vb = _mm256_set1_ps(static_cast<float>(hsum(_mm256_add_pd(b0, b1)) / d));
  for_each8(d, [&](int64_t j, const Lanes& l) {
    const __m256 t = _mm256_sub_ps(_mm256_sub_ps(grad(j, l), va), _mm256_mul_ps(xhat(j, l), vb));
    _mm256_maskstore_ps(dx + j, l.f, _mm256_mul_ps(vinv, t));
  });
}

}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const LayerNormRows kLayerNormRows{forward_row, backward_row};

}  // namespace corenn::cpu::avx2
