// Vectorised exp / sigmoid / tanh on 8 floats (AVX2/FMA), shared by the activation and
// recurrent-cell kernels. Include only from files compiled with -mavx2 -mfma (names *_avx2.cpp).
//
// exp8(x): e^x = 2^n e^r with n = round(x log2 e), r = x - n ln2 in [-ln2/2, ln2/2] (ln2 split
// into a hi and lo part so r is exact to float precision), e^r = 1 + r + r^2 P(r), P a degree-5
// weighted least-squares fit to (e^r - 1 - r) / r^2 made for corenn (1.6e-10 relative), 2^n
// built in the exponent bits. Inputs are clamped to [-87.3, 88.7], so the result never goes
// subnormal: exp of anything below -87.3 returns ~1.2e-38 instead of 0, harmless for every caller
// (they add it to 1 or to a sum that holds at least one e^0); at the top n reaches 128, whose
// exponent field is inf's, so exp8(+inf) = +inf (and sigmoid8(-inf) = 0). ~2 ulp.
// NaN: MAXPS / MINPS return their SECOND operand when either is NaN, so the clamp takes x second
// (max(lo, x), min(hi, .)) and a NaN lane stays NaN through the clamp and the polynomial (its
// cvtps_epi32 gives 0x80000000, an exponent field of 1.0): exp8(NaN) = NaN, and with it sigmoid8,
// tanh8 and every softmax sum. Same instruction count as max(x, lo).
// sigmoid8(x) = 1 / (1 + e^-x).
// tanh8 uses 1 - 2/(e^2|x| + 1) for |x| >= 0.625 and, below, where that subtraction would lose
// relative precision, x + x z Q(z) with z = x^2 and Q a degree-4 least-squares fit to
// (tanh(x)/x - 1)/z (1.6e-8 relative).
#pragma once

#include <immintrin.h>

namespace corenn::cpu::avx2 {

inline __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_set1_ps(88.7f), _mm256_max_ps(_mm256_set1_ps(-87.3f), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9750498402e-04f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3933204496e-03f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3335209884e-03f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1666470237e-02f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666666056e-01f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000000127e-01f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

inline __m256 sigmoid8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

inline __m256 tanh8(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 ax = _mm256_andnot_ps(sign, x);
  const __m256 one = _mm256_set1_ps(1.0f);
  // large |x|: 1 - 2 / (e^(2|x|) + 1), sign restored afterwards
  const __m256 e = exp8(_mm256_add_ps(ax, ax));
  __m256 big = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
  big = _mm256_or_ps(big, _mm256_and_ps(sign, x));
  // small |x|: x + x z P(z), z = x^2
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-6.0913367111e-03f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.0992938210e-02f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.3849858306e-02f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.3332761289e-01f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.3333328832e-01f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
  return _mm256_blendv_ps(big, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

}  // namespace corenn::cpu::avx2
