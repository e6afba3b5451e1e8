// The 8 x 8 register transposes both x86 GEMM packer files use (gemm/pack_avx2.cpp for the 6 x 16
// kernel's panels, gemm/pack_avx512.cpp for the 12 x 32 one's), and the B^T packer built on them,
// which is the same loop for either panel width. Both ISAs transpose in 256-bit registers; the
// traits type V only gives each ISA's file its own instantiation (a shared one would be a single
// COMDAT copy compiled for one ISA, see simd/f32_avx2.h).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>

namespace corenn::cpu::simd {

template <class V>
struct Transpose8x8 {
  // r[i] = row i of an 8 x 8 block -> r[q] = column q.
  static void transpose8(__m256 r[8]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
  }

  // op(B) = B^T, B (N, K) row-major -> B panels of NR columns, depth-major (panel[p*NR + c]),
  // columns past nc zero. Full panels go 8 depth steps at a time, NR / 8 transposes each; a
  // partial panel and the depth remainder are scalar copies.
  template <int NR>
  static void pack_b_t(const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                       float* dst) {
    for (int64_t j = 0; j < nc; j += NR, dst += NR * kc) {
      const int cols = static_cast<int>(std::min<int64_t>(NR, nc - j));
      const float* src = b + (j0 + j) * ldb + p0;
      int64_t p = 0;
      if (cols == NR) {
        for (; p + 8 <= kc; p += 8) {
          for (int h = 0; h < NR / 8; ++h) {
            __m256 r[8];
            for (int q = 0; q < 8; ++q) r[q] = _mm256_loadu_ps(src + (h * 8 + q) * ldb + p);
            transpose8(r);
            for (int q = 0; q < 8; ++q) _mm256_storeu_ps(dst + (p + q) * NR + h * 8, r[q]);
          }
        }
      }
      for (; p < kc; ++p)
        for (int c = 0; c < NR; ++c) dst[p * NR + c] = c < cols ? src[c * ldb + p] : 0.0f;
    }
  }
};

}  // namespace corenn::cpu::simd
