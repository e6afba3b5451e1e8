// The AVX-512 vector traits: 16 floats in a __m512, tails under a __mmask16. Include only from
// files compiled with -mavx512f/vl/bw/dq (names *_avx512.cpp). The twin of f32_avx2.h (same
// members, same meaning; see there for why each ISA has its own namespace).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace corenn::cpu::avx512 {

struct F32 {
  using reg = __m512;
  using mask = __mmask16;
  static constexpr int lanes = 16;

  // Lanes [0, k) set, k in [0, 16].
  static mask first(int64_t k) { return static_cast<mask>(k >= 16 ? 0xFFFFu : (1u << k) - 1u); }

  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float v) { return _mm512_set1_ps(v); }
  static reg loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static reg load(const float* p, mask m) { return _mm512_maskz_loadu_ps(m, p); }  // zero fill
  static void store(float* p, reg v, mask m) { _mm512_mask_storeu_ps(p, m, v); }

  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg div(reg a, reg b) { return _mm512_div_ps(a, b); }
  static reg fmadd(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }    // a b + c
  static reg fnmadd(reg a, reg b, reg c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a b
  // VMAXPS / VMINPS return the second operand when either is NaN (vec_math.h relies on it).
  static reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  static reg min(reg a, reg b) { return _mm512_min_ps(a, b); }
  static reg and_(reg a, reg b) { return _mm512_and_ps(a, b); }
  static reg or_(reg a, reg b) { return _mm512_or_ps(a, b); }
  static reg andnot(reg a, reg b) { return _mm512_andnot_ps(a, b); }  // ~a & b
  // a < b (ordered) ? if_less : otherwise, per lane.
  static reg select_lt(reg a, reg b, reg if_less, reg otherwise) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), otherwise, if_less);
  }
  static reg round_nearest(reg a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // 2^n for lanes holding whole numbers n, built in the exponent bits (n + 127 must fit them).
  static reg pow2i(reg n) {
    return _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
  }
};

}  // namespace corenn::cpu::avx512
