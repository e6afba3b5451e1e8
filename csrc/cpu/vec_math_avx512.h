// Vectorised exp / sigmoid / tanh on 16 floats (AVX-512F), and the masked-tail loop helpers the
// *_avx512.cpp kernels share. Include only from files compiled with -mavx512f/vl/bw/dq.
//
// exp16 / sigmoid16 / tanh16 are exp8 / sigmoid8 / tanh8 of cpu/vec_math_avx2.h on 16 lanes:
// same reduction, same polynomials, same clamps, so the same accuracy (~2 ulp) and the same NaN
// behaviour (MAXPS / MINPS return their second operand when either is NaN, so x goes second and
// a NaN lane stays NaN). Tails: for_each16 hands the last n % 16 elements to the same code with a
// lane mask (masked loads fill zeros, masked stores leave the rest of memory untouched).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace corenn::cpu::avx512 {

inline __m512 exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_set1_ps(88.7f), _mm512_max_ps(_mm512_set1_ps(-87.3f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9750498402e-04f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3933204496e-03f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3335209884e-03f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1666470237e-02f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666666056e-01f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000000127e-01f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __m512i e =
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

inline __m512 sigmoid16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

inline __m512 tanh16(__m512 x) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  const __m512 ax = _mm512_andnot_ps(sign, x);
  const __m512 one = _mm512_set1_ps(1.0f);
  // large |x|: 1 - 2 / (e^(2|x|) + 1), sign restored afterwards
  const __m512 e = exp16(_mm512_add_ps(ax, ax));
  __m512 big = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
  big = _mm512_or_ps(big, _mm512_and_ps(sign, x));
  // small |x|: x + x z P(z), z = x^2
  const __m512 z = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(-6.0913367111e-03f);
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.0992938210e-02f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.3849858306e-02f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.3332761289e-01f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.3333328832e-01f));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
  const __mmask16 is_small = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(is_small, big, small);
}

// Lane mask for the first k (0..16) lanes.
inline __mmask16 first_lanes(int64_t k) {
  return static_cast<__mmask16>(k >= 16 ? 0xFFFFu : (1u << k) - 1u);
}

// f(i, mask) for every 16-lane block of [0, n); the last block's mask covers the n % 16 tail.
template <class F>
inline void for_each16(int64_t n, const F& f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) f(i, static_cast<__mmask16>(0xFFFF));
  if (i < n) f(i, static_cast<__mmask16>((1u << (n - i)) - 1u));
}

inline __m512 load(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline void store(float* p, __m512 v, __mmask16 m) { _mm512_mask_storeu_ps(p, m, v); }

inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

}  // namespace corenn::cpu::avx512
