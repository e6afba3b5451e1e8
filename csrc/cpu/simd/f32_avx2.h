// The AVX2/FMA vector traits: 8 floats in a __m256. Include only from files compiled with
// -mavx2 -mfma (names *_avx2.cpp). The kernels in csrc/cpu/simd/ are templates over a traits type
// like this one and its AVX-512 twin (f32_avx512.h); each per-ISA .cpp instantiates them with its
// own traits only.
//
// Why a namespace per ISA: a template instantiated with the same arguments in an -mavx2 file and
// an -mavx512f file is one COMDAT symbol, and the linker keeps a single copy for both paths. The
// traits type is part of every instantiation's mangled name, so avx2::F32 and avx512::F32 give
// each ISA copies of its own (checked at build time by tools/check_isa_comdat.py).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace corenn::cpu::avx2 {

struct F32 {
  using reg = __m256;
  using mask = __m256i;  // lanes selected by their sign bit (vmaskmovps)
  static constexpr int lanes = 8;

  // Lanes [0, k) set, k in [0, 8].
  static mask first(int64_t k) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(k)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }

  static reg zero() { return _mm256_setzero_ps(); }
  static reg set1(float v) { return _mm256_set1_ps(v); }
  static reg loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static reg load(const float* p, mask m) { return _mm256_maskload_ps(p, m); }  // zero fill
  static void store(float* p, reg v, mask m) { _mm256_maskstore_ps(p, m, v); }

  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg div(reg a, reg b) { return _mm256_div_ps(a, b); }
  static reg fmadd(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }    // a b + c
  static reg fnmadd(reg a, reg b, reg c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a b
  // MAXPS / MINPS return the second operand when either is NaN (vec_math.h relies on it).
  static reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
  static reg min(reg a, reg b) { return _mm256_min_ps(a, b); }
  static reg and_(reg a, reg b) { return _mm256_and_ps(a, b); }
  static reg or_(reg a, reg b) { return _mm256_or_ps(a, b); }
  static reg andnot(reg a, reg b) { return _mm256_andnot_ps(a, b); }  // ~a & b
  // a < b (ordered) ? if_less : otherwise, per lane.
  static reg select_lt(reg a, reg b, reg if_less, reg otherwise) {
    return _mm256_blendv_ps(otherwise, if_less, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
  }
  static reg round_nearest(reg a) {
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // 2^n for lanes holding whole numbers n, built in the exponent bits (n + 127 must fit them).
  static reg pow2i(reg n) {
    return _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
  }
};

}  // namespace corenn::cpu::avx2
