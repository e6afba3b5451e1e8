// AVX-512 rows of layer normalization (layer_norm_rows_stub's avx512 slot; cpu/layer_norm.cpp
// holds the reference rows and the drivers, ops/layer_norm.h the math). The row statistics are
// summed in double as in the reference: 16 floats per step, widened into two 8-lane double
// accumulators; the per-element outputs are float with the reference's order of operations
// (no FMA), so y and dx differ from it only through the sums' order. The last d % 16 features
// run under a lane mask (masked-off lanes load 0 and are kept out of the centred sums).
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "cpu/vec_math_avx512.h"
#include "ops/layer_norm.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx512 {

namespace {

inline __m512d lo_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
inline __m512d hi_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }
inline __mmask8 lo8(__mmask16 m) { return static_cast<__mmask8>(m & 0xFF); }
inline __mmask8 hi8(__mmask16 m) { return static_cast<__mmask8>(m >> 8); }

void forward_row(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                 float* inv_std, int64_t d, double epsilon) {
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  for_each16(d, [&](int64_t j, __mmask16 m) {
    const __m512 v = _mm512_maskz_loadu_ps(m, x + j);
    s0 = _mm512_add_pd(s0, lo_pd(v));
    s1 = _mm512_add_pd(s1, hi_pd(v));
  });
  const double mu = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1)) / d;
  const __m512d vmu = _mm512_set1_pd(mu);
  __m512d q0 = _mm512_setzero_pd(), q1 = _mm512_setzero_pd();
  for_each16(d, [&](int64_t j, __mmask16 m) {
    const __m512 v = _mm512_maskz_loadu_ps(m, x + j);
    const __m512d c0 = _mm512_maskz_sub_pd(lo8(m), lo_pd(v), vmu);
    const __m512d c1 = _mm512_maskz_sub_pd(hi8(m), hi_pd(v), vmu);
    q0 = _mm512_add_pd(q0, _mm512_mul_pd(c0, c0));
    q1 = _mm512_add_pd(q1, _mm512_mul_pd(c1, c1));
  });
  const double ss = _mm512_reduce_add_pd(_mm512_add_pd(q0, q1));
  const float mf = static_cast<float>(mu);
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / d + epsilon));
  *mean = mf;
  *inv_std = inv;
  const __m512 vm = _mm512_set1_ps(mf), vinv = _mm512_set1_ps(inv);
  for_each16(d, [&](int64_t j, __mmask16 m) {
    __m512 t = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j), vm), vinv);
    if (gamma) t = _mm512_mul_ps(t, _mm512_maskz_loadu_ps(m, gamma + j));
    if (beta) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(m, beta + j));
    _mm512_mask_storeu_ps(y + j, m, t);
  });
}

void backward_row(const float* dy, const float* x, const float* gamma, float mf, float inv,
                  float* dx, double* pg, double* pb, int64_t d) {
  const __m512 vm = _mm512_set1_ps(mf), vinv = _mm512_set1_ps(inv);
  auto xhat = [&](int64_t j, __mmask16 m) {
    return _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + j), vm), vinv);
  };
  if (pg || pb) {
    for_each16(d, [&](int64_t j, __mmask16 m) {
      const __m512 g = _mm512_maskz_loadu_ps(m, dy + j);
      const __m512d g0 = lo_pd(g), g1 = hi_pd(g);
      if (pg) {
        const __m512 h = xhat(j, m);
        _mm512_mask_storeu_pd(pg + j, lo8(m), _mm512_add_pd(_mm512_maskz_loadu_pd(lo8(m), pg + j),
                                                            _mm512_mul_pd(g0, lo_pd(h))));
        _mm512_mask_storeu_pd(pg + j + 8, hi8(m),
                              _mm512_add_pd(_mm512_maskz_loadu_pd(hi8(m), pg + j + 8),
                                            _mm512_mul_pd(g1, hi_pd(h))));
      }
      if (pb) {
        _mm512_mask_storeu_pd(pb + j, lo8(m), _mm512_add_pd(_mm512_maskz_loadu_pd(lo8(m), pb + j), g0));
        _mm512_mask_storeu_pd(pb + j + 8, hi8(m),
                              _mm512_add_pd(_mm512_maskz_loadu_pd(hi8(m), pb + j + 8), g1));
      }
    });
  }
  if (!dx) return;
  auto grad = [&](int64_t j, __mmask16 m) {
    const __m512 g = _mm512_maskz_loadu_ps(m, dy + j);
    return gamma ? _mm512_mul_ps(g, _mm512_maskz_loadu_ps(m, gamma + j)) : g;
  };
  __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
  __m512d b0 = _mm512_setzero_pd(), b1 = _mm512_setzero_pd();
  for_each16(d, [&](int64_t j, __mmask16 m) {
    const __m512 g = grad(j, m), h = xhat(j, m);  // g is 0 in masked-off lanes
    const __m512d g0 = lo_pd(g), g1 = hi_pd(g);
    a0 = _mm512_add_pd(a0, g0);
    a1 = _mm512_add_pd(a1, g1);
    b0 = _mm512_add_pd(b0, _mm512_mul_pd(g0, lo_pd(h)));
    b1 = _mm512_add_pd(b1, _mm512_mul_pd(g1, hi_pd(h)));
  });
  const __m512 va = _mm512_set1_ps(static_cast<float>(_mm512_reduce_add_pd(_mm512_add_pd(a0, a1)) / d));
  const __m512 vb = _mm512_set1_ps(static_cast<float>(_mm512_reduce_add_pd(_mm512_add_pd(b0, b1)) / d));
  for_each16(d, [&](int64_t j, __mmask16 m) {
    const __m512 t = _mm512_sub_ps(_mm512_sub_ps(grad(j, m), va), _mm512_mul_ps(xhat(j, m), vb));
    _mm512_mask_storeu_ps(dx + j, m, _mm512_mul_ps(vinv, t));
  });
}

}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const LayerNormRows kLayerNormRows{forward_row, backward_row};

}  // namespace corenn::cpu::avx512
