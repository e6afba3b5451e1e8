// AVX-512 rows of the hot losses (loss_rows_stub's avx512 slot; cpu/loss.cpp holds the
// reference rows, the formulas and the drivers). 16 floats per step, widened into two 8-lane
// double halves, so the row sums stay in double as in the reference; the last cols % 16 entries
// run under a lane mask (masked-off lanes load 0 and are kept out of every sum).
//
// MSE: the reference arithmetic in double lanes (only the order of the row sum differs).
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "cpu/vec_math_avx512.h"
#include "ops/loss.h"
#include "cpu/isa_kernels.h"

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

// e^x in 8 double lanes, to about 1 ulp of double: e^x = 2^n e^r with n = round(x log2 e) and
// r = x - n ln2 in [-ln2/2, ln2/2] (ln2 split in two for an exact first step), e^r by its Taylor
// series to r^13 (the first term left out, |r|^14 / 14! < 5e-18, is below half an ulp), 2^n
// applied by scalef, which also takes care of the range: x below -746 gives 0 (clamped first,
// as exp(-inf) = 0), above 709.8 inf; a NaN stays NaN (it is max's second operand).
// Why double and not exp16: the row's sums are the reference's double sums, and a float exp
// (~2 ulp of float, commit a59ebdf) was enough to change what a small seq2seq model
// (tests/programs/example_lstm_seq2seq.py) learned on this path against the AVX2 and ref ones.
// In double the row agrees with the reference to the last float bit except at a rounding tie.
inline __m512d exp8_pd(__m512d x) {
  x = _mm512_max_pd(_mm512_set1_pd(-746.0), x);
  const __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180369123816490e-01), x);   // ln2 high part
  r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.90821492927058770002e-10), r);           // ln2 low part
  // Horner from 1/13! down to 1/1!, then + 1
  constexpr double kInvFactorial[] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
                                      1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0,
                                      1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0};
  __m512d q = _mm512_set1_pd(kInvFactorial[0]);
  for (int i = 1; i < 14; ++i) q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(kInvFactorial[i]));
  return _mm512_scalef_pd(q, n);
}

// Dense targets t, or (t == nullptr) the one-hot row of `label`: the reference row's arithmetic
// (cpu/loss.cpp cce_logits_row) with its per-element double steps in 8 lanes; only the order of
// the row sums differs. Pass 1: the max. Pass 2: e = exp(p - m) parked in g as float, z = sum e,
// and for dense targets tsum = sum t, tx = sum over t != 0 of t p. Pass 3: g = (e k - t) scale.
double cce_logits_row(const float* p, const float* t, int64_t label, float* g, int64_t C,
                      double scale) {
  __m512d vm = _mm512_set1_pd(-INFINITY);
  for (int64_t j = 0; j < C; j += 8) {
    const __mmask8 k = static_cast<__mmask8>(C - j >= 8 ? 0xFF : (1u << (C - j)) - 1);
    // (a NaN in p is max's first operand, so it leaves vm as it was: the reference's max skips
    // a NaN too, except in p[0], where it starts)
    vm = _mm512_mask_max_pd(vm, k, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, p + j)), vm);
  }
  const double m = std::isnan(p[0]) ? double(p[0]) : _mm512_reduce_max_pd(vm);
  const __m512d vmax = _mm512_set1_pd(m);
  __m512d vz = _mm512_setzero_pd(), vts = _mm512_setzero_pd(), vtx = _mm512_setzero_pd();
  for (int64_t j = 0; j < C; j += 8) {
    const __mmask8 k = static_cast<__mmask8>(C - j >= 8 ? 0xFF : (1u << (C - j)) - 1);
    const __m512d pj = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, p + j));
    const __m512d e = _mm512_maskz_mov_pd(k, exp8_pd(_mm512_sub_pd(pj, vmax)));
    vz = _mm512_add_pd(vz, e);
    if (g) _mm256_mask_storeu_ps(g + j, k, _mm512_cvtpd_ps(e));
    if (t) {
      const __m512d tj = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, t + j));
      vts = _mm512_add_pd(vts, tj);
      const __mmask8 nz = _mm512_mask_cmp_pd_mask(k, tj, _mm512_setzero_pd(), _CMP_NEQ_UQ);
      vtx = _mm512_mask_add_pd(vtx, nz, vtx, _mm512_mul_pd(tj, pj));   // (t = 0 adds nothing, even for p = -inf)
    }
  }
  const double z = _mm512_reduce_add_pd(vz);
  const double tsum = t ? _mm512_reduce_add_pd(vts) : 1.0;
  const double tx = t ? _mm512_reduce_add_pd(vtx) : double(p[label]);
  if (g) {
    const __m512d vk = _mm512_set1_pd(tsum / z), vs = _mm512_set1_pd(scale);
    for (int64_t j = 0; j < C; j += 8) {
      const __mmask8 k = static_cast<__mmask8>(C - j >= 8 ? 0xFF : (1u << (C - j)) - 1);
      __m512d tj;
      if (t) {
        tj = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, t + j));
      } else {   // the one-hot row: 1 in the label's lane
        const int64_t lane = label - j;
        tj = (lane >= 0 && lane < 8)
                 ? _mm512_maskz_mov_pd(static_cast<__mmask8>(1u << lane), _mm512_set1_pd(1.0))
                 : _mm512_setzero_pd();
      }
      const __m512d e = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(k, g + j));
      const __m512d gj = _mm512_mul_pd(_mm512_sub_pd(_mm512_mul_pd(e, vk), tj), vs);
      _mm256_mask_storeu_ps(g + j, k, _mm512_cvtpd_ps(gj));
    }
  }
  return tsum * (m + std::log(z)) - tx;
}

}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const LossRows kLossRows{mse_row, cce_logits_row};

}  // namespace corenn::cpu::avx512
