// AVX-512 rows of the two hot losses (loss_rows_stub's avx512 slot; cpu/loss.cpp holds the
// reference rows, the formulas and the drivers). 16 floats per step, widened into two 8-lane
// double halves, so the row sums stay in double as in the reference; the last cols % 16 entries
// run under a lane mask (masked-off lanes load 0 and are kept out of every sum).
//
// MSE: the reference arithmetic in double lanes (only the order of the row sum differs).
// Softmax cross-entropy from logits: the row max in float (exact), e^(x - max) from exp16 in float
// (~2 ulp, cpu/vec_math_avx512.h) summed in double, the rest in double. The exponentials are the
// one place the reference is more precise: z >= 1, so the loss log(z) is off by ~1e-7 absolute at
// most, and each gradient entry by ~2 ulp of softmax_k. exp16 clamps its input at -87.3, so a
// probability below ~1e-38 comes out as ~1e-38 instead of 0 (harmless next to z >= 1). NaN in a
// row still gives a NaN loss and gradient (its exponential is NaN, so z is).
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "cpu/vec_math_avx512.h"
#include "ops/loss.h"

namespace corenn::cpu::avx512 {

namespace {

inline __m512d lo_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
inline __m512d hi_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }
inline __mmask8 lo8(__mmask16 m) { return static_cast<__mmask8>(m & 0xFF); }
inline __mmask8 hi8(__mmask16 m) { return static_cast<__mmask8>(m >> 8); }
// Two 8-lane double halves narrowed back to 16 floats.
inline __m512 to_ps(__m512d lo, __m512d hi) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
}

double mse_row(const float* p, const float* t, float* g, int64_t C, double scale) {
  const __m512d two = _mm512_set1_pd(2.0), vs = _mm512_set1_pd(scale),
                vc = _mm512_set1_pd(static_cast<double>(C));
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  for_each16(C, [&](int64_t j, __mmask16 m) {
    const __m512 pv = _mm512_maskz_loadu_ps(m, p + j), tv = _mm512_maskz_loadu_ps(m, t + j);
    const __m512d e0 = _mm512_sub_pd(lo_pd(pv), lo_pd(tv)), e1 = _mm512_sub_pd(hi_pd(pv), hi_pd(tv));
    s0 = _mm512_add_pd(s0, _mm512_mul_pd(e0, e0));
    s1 = _mm512_add_pd(s1, _mm512_mul_pd(e1, e1));
    if (g) {  // 2 e scale / C, in the reference's order
      const __m512d g0 = _mm512_div_pd(_mm512_mul_pd(_mm512_mul_pd(two, e0), vs), vc);
      const __m512d g1 = _mm512_div_pd(_mm512_mul_pd(_mm512_mul_pd(two, e1), vs), vc);
      _mm512_mask_storeu_ps(g + j, m, to_ps(g0, g1));
    }
  });
  return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1)) / C;
}

double cce_logits_row(const float* p, const float* t, int64_t label, float* g, int64_t C,
                      double scale) {
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 vmax = ninf;
  for_each16(C, [&](int64_t j, __mmask16 m) {
    vmax = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, m, p + j), vmax);
  });
  const float mf = _mm512_reduce_max_ps(vmax);
  const __m512 vm = _mm512_set1_ps(mf);
  __m512d z0 = _mm512_setzero_pd(), z1 = _mm512_setzero_pd();
  __m512d ts0 = _mm512_setzero_pd(), ts1 = _mm512_setzero_pd();
  __m512d tx0 = _mm512_setzero_pd(), tx1 = _mm512_setzero_pd();
  for_each16(C, [&](int64_t j, __mmask16 m) {
    const __m512 pv = _mm512_maskz_loadu_ps(m, p + j);
    const __m512 e = _mm512_maskz_mov_ps(m, exp16(_mm512_sub_ps(pv, vm)));
    if (g) _mm512_mask_storeu_ps(g + j, m, e);  // parked, as the reference does
    z0 = _mm512_add_pd(z0, lo_pd(e));
    z1 = _mm512_add_pd(z1, hi_pd(e));
    if (t) {
      const __m512 tv = _mm512_maskz_loadu_ps(m, t + j);
      // t * x only where t != 0 (0 * inf would be NaN), as the reference
      const __mmask16 nz = _mm512_cmp_ps_mask(tv, _mm512_setzero_ps(), _CMP_NEQ_OQ);
      ts0 = _mm512_add_pd(ts0, lo_pd(tv));
      ts1 = _mm512_add_pd(ts1, hi_pd(tv));
      tx0 = _mm512_add_pd(tx0, _mm512_maskz_mul_pd(lo8(nz), lo_pd(tv), lo_pd(pv)));
      tx1 = _mm512_add_pd(tx1, _mm512_maskz_mul_pd(hi8(nz), hi_pd(tv), hi_pd(pv)));
    }
  });
  const double z = _mm512_reduce_add_pd(_mm512_add_pd(z0, z1));
  const double tsum = t ? _mm512_reduce_add_pd(_mm512_add_pd(ts0, ts1)) : 1.0;
  const double tx = t ? _mm512_reduce_add_pd(_mm512_add_pd(tx0, tx1)) : double(p[label]);
  if (g) {
    const double k = tsum / z;
    const float e_label = t ? 0.0f : g[label];
    const __m512d vk = _mm512_set1_pd(k), vs = _mm512_set1_pd(scale);
    for_each16(C, [&](int64_t j, __mmask16 m) {
      const __m512 e = _mm512_maskz_loadu_ps(m, g + j);
      const __m512 tv = t ? _mm512_maskz_loadu_ps(m, t + j) : _mm512_setzero_ps();
      const __m512d g0 = _mm512_mul_pd(_mm512_fmsub_pd(lo_pd(e), vk, lo_pd(tv)), vs);
      const __m512d g1 = _mm512_mul_pd(_mm512_fmsub_pd(hi_pd(e), vk, hi_pd(tv)), vs);
      _mm512_mask_storeu_ps(g + j, m, to_ps(g0, g1));
    });
    if (!t) g[label] = static_cast<float>((double(e_label) * k - 1.0) * scale);
  }
  return tsum * (double(mf) + std::log(z)) - tx;
}

constexpr LossRows kAvx512Rows{mse_row, cce_logits_row};

}  // namespace

CORENN_REGISTER_KERNEL(loss_rows_stub, Slot::avx512, &kAvx512Rows);

}  // namespace corenn::cpu::avx512
