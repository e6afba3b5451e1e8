// AVX2 row of the softmax cross-entropy from logits (loss_rows_stub's avx2 slot; cpu/loss.cpp
// holds the reference rows, the formulas and the drivers; loss_avx512.cpp the 8-lane version and
// the reasons for a double exp). 4 floats per step, widened to 4 double lanes; the last cols % 4
// entries run under a lane mask (masked loads give 0, masked lanes are kept out of every sum).
// The MSE row stays the reference one here.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ops/loss.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx2 {

namespace {

// e^x in 4 double lanes, to about 1 ulp of double: loss_avx512.cpp's exp8_pd (same reduction and
// series), with 2^n built in the exponent bits since AVX2 has no scalef. x is clamped to
// [-708, 709] first, where 2^n is a normal double; below -708 that gives e^-708 ~ 3e-308 instead
// of a subnormal or 0: 0 once narrowed to float, and nothing next to the row sum (>= 1). A NaN
// stays NaN (max and min return their second operand, x, for it).
inline __m256d exp4_pd(__m256d x) {
  x = _mm256_min_pd(_mm256_set1_pd(709.0), _mm256_max_pd(_mm256_set1_pd(-708.0), x));
  const __m256d n = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(1.4426950408889634)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180369123816490e-01), x);
  r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.90821492927058770002e-10), r);
  constexpr double kInvFactorial[] = {1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0,
                                      1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0,
                                      1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0};
  __m256d q = _mm256_set1_pd(kInvFactorial[0]);
  for (int i = 1; i < 14; ++i) q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(kInvFactorial[i]));
  // n + 1.5 * 2^52 holds n in its low mantissa bits; + 1023 and << 52 make the bits of 2^n
  const __m256i bits = _mm256_slli_epi64(
      _mm256_add_epi64(_mm256_castpd_si256(_mm256_add_pd(n, _mm256_set1_pd(6755399441055744.0))),
                       _mm256_set1_epi64x(1023)),
      52);
  return _mm256_mul_pd(q, _mm256_castsi256_pd(bits));
}

// Lanes [0, k) of a 4-lane block, as maskload / maskstore and AND take them.
inline __m128i lanes32(int64_t k) {
  return _mm_cmpgt_epi32(_mm_set1_epi32(static_cast<int>(k)), _mm_setr_epi32(0, 1, 2, 3));
}
inline __m256d lanes64(int64_t k) {
  return _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_set1_epi64x(k), _mm256_setr_epi64x(0, 1, 2, 3)));
}
inline __m256d load4(const float* p, __m128i m) { return _mm256_cvtps_pd(_mm_maskload_ps(p, m)); }
inline void store4(float* p, __m128i m, __m256d v) { _mm_maskstore_ps(p, m, _mm256_cvtpd_ps(v)); }
inline double hsum(__m256d v) {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
inline double hmax(__m256d v) {
  const __m128d s = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_max_sd(s, _mm_unpackhi_pd(s, s)));
}

double mse_row(const float* p, const float* t, float* g, int64_t C, double scale) {
  return loss_rows_stub.at(Slot::cpu_ref)->mse_row(p, t, g, C, scale);
}

// The passes of loss_avx512.cpp's row: the max; e = exp(p - m) parked in g as float with
// z = sum e (and tsum, tx for dense targets); g = (e k - t) scale.
double cce_logits_row(const float* p, const float* t, int64_t label, float* g, int64_t C,
                      double scale) {
  __m256d vm = _mm256_set1_pd(-INFINITY);
  for (int64_t j = 0; j < C; j += 4) {
    const int64_t k = std::min<int64_t>(4, C - j);
    // masked-off lanes read -inf; a NaN in p is max's first operand and leaves vm as it was
    const __m256d pj = _mm256_blendv_pd(_mm256_set1_pd(-INFINITY), load4(p + j, lanes32(k)), lanes64(k));
    vm = _mm256_max_pd(pj, vm);
  }
  const double m = std::isnan(p[0]) ? double(p[0]) : hmax(vm);
  const __m256d vmax = _mm256_set1_pd(m);
  __m256d vz = _mm256_setzero_pd(), vts = _mm256_setzero_pd(), vtx = _mm256_setzero_pd();
  for (int64_t j = 0; j < C; j += 4) {
    const int64_t k = std::min<int64_t>(4, C - j);
    const __m128i m32 = lanes32(k);
    const __m256d live = lanes64(k);
    const __m256d pj = load4(p + j, m32);
    const __m256d e = _mm256_and_pd(live, exp4_pd(_mm256_sub_pd(pj, vmax)));
    vz = _mm256_add_pd(vz, e);
    if (g) store4(g + j, m32, e);
    if (t) {
      const __m256d tj = load4(t + j, m32);
      vts = _mm256_add_pd(vts, tj);
      const __m256d nz = _mm256_cmp_pd(tj, _mm256_setzero_pd(), _CMP_NEQ_UQ);
      vtx = _mm256_add_pd(vtx, _mm256_and_pd(nz, _mm256_mul_pd(tj, pj)));   // (t = 0 adds nothing, even for p = -inf)
    }
  }
  const double z = hsum(vz);
  const double tsum = t ? hsum(vts) : 1.0;
  const double tx = t ? hsum(vtx) : double(p[label]);
  if (g) {
    const __m256d vk = _mm256_set1_pd(tsum / z), vs = _mm256_set1_pd(scale);
    for (int64_t j = 0; j < C; j += 4) {
      const int64_t k = std::min<int64_t>(4, C - j);
      const __m128i m32 = lanes32(k);
      const __m256d tj = t ? load4(t + j, m32)
                           : _mm256_and_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(
                                               _mm256_set1_epi64x(label - j), _mm256_setr_epi64x(0, 1, 2, 3))),
                                           _mm256_set1_pd(1.0));   // the one-hot row
      const __m256d e = load4(g + j, m32);
      store4(g + j, m32, _mm256_mul_pd(_mm256_sub_pd(_mm256_mul_pd(e, vk), tj), vs));
    }
  }
  return tsum * (m + std::log(z)) - tx;
}

}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const LossRows kLossRows{mse_row, cce_logits_row};

}  // namespace corenn::cpu::avx2
