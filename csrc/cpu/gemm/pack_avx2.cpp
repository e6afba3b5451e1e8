// AVX2 packers for the layouts where the scalar packers (gemm.cpp) cost as much as a small
// multiply: the two gathering cases are 8 x 8 register transposes, A^T is an 8-wide copy.
//
//   pack_a_n_avx2: op(A) = A (M, K) row-major -> A panels (panel[p*MR + r], MR = 6)
//   pack_a_t_avx2: op(A) = A^T, A (K, M) row-major -> A panels: one 8-wide copy per depth step
//   pack_b_t_avx2: op(B) = B^T, B (N, K) row-major -> B panels (panel[p*NR + c], NR = 16)
//   pack_a_rows_avx2: MR rows given by pointers (a conv's patch runs) -> len depth steps of a panel
//
// Only full panels take the vector path (6 rows / 16 columns, depth in steps of 8); edges and the
// depth remainder fall back to scalar copies. The A packers store 8 floats per depth step at a
// stride of 6, so each store spills 2 floats into the next step's slot (rewritten right after) and
// the panel's last vector step spills 2 floats past the panel: the caller's buffer has 16 floats
// of slack (see gemm.cpp). pack_a_t_avx2 reads 8 columns of a row of A only where
// column + 8 <= lda (A is a contiguous (K, M) matrix, lda = M).
// Compiled with -mavx2 -mfma; part of the avx2 GEMM context (gemm.h, kernels_x86.h).
#include <immintrin.h>

#include <algorithm>

#include "cpu/gemm/gemm.h"
#include "cpu/gemm/kernels_x86.h"

namespace corenn::cpu::gemm {

namespace {

// r[i] = row i of an 8 x 8 block -> r[q] = column q.
inline void transpose8(__m256 r[8]) {
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

}  // namespace

void pack_a_n_avx2(const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                   float* dst) {
  for (int64_t i = 0; i < mc; i += kMR, dst += kMR * kc) {
    const int rows = static_cast<int>(std::min<int64_t>(kMR, mc - i));
    const float* src = a + (i0 + i) * lda + p0;
    int64_t p = 0;
    if (rows == kMR) {
      for (; p + 8 <= kc; p += 8) {
        __m256 r[8];
        for (int q = 0; q < kMR; ++q) r[q] = _mm256_loadu_ps(src + q * lda + p);
        r[6] = r[7] = _mm256_setzero_ps();
        transpose8(r);
        for (int q = 0; q < 8; ++q) _mm256_storeu_ps(dst + (p + q) * kMR, r[q]);
      }
    }
    for (; p < kc; ++p)
      for (int r = 0; r < kMR; ++r) dst[p * kMR + r] = r < rows ? src[r * lda + p] : 0.0f;
  }
}

void pack_a_t_avx2(const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                   float* dst) {
  for (int64_t i = 0; i < mc; i += kMR, dst += kMR * kc) {
    const int rows = static_cast<int>(std::min<int64_t>(kMR, mc - i));
    const float* src = a + p0 * lda + i0 + i;
    // The 8-wide load reads 2 values past the panel's 6: only where they exist in the row of A.
    if (rows == kMR && i0 + i + 8 <= lda) {
      for (int64_t p = 0; p < kc; ++p) _mm256_storeu_ps(dst + p * kMR, _mm256_loadu_ps(src + p * lda));
    } else {
      for (int64_t p = 0; p < kc; ++p)
        for (int r = 0; r < kMR; ++r) dst[p * kMR + r] = r < rows ? src[p * lda + r] : 0.0f;
    }
  }
}

void pack_b_t_avx2(const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                   float* dst) {
  for (int64_t j = 0; j < nc; j += kNR, dst += kNR * kc) {
    const int cols = static_cast<int>(std::min<int64_t>(kNR, nc - j));
    const float* src = b + (j0 + j) * ldb + p0;
    int64_t p = 0;
    if (cols == kNR) {
      for (; p + 8 <= kc; p += 8) {
        for (int h = 0; h < 2; ++h) {
          __m256 r[8];
          for (int q = 0; q < 8; ++q) r[q] = _mm256_loadu_ps(src + (h * 8 + q) * ldb + p);
          transpose8(r);
          for (int q = 0; q < 8; ++q) _mm256_store_ps(dst + (p + q) * kNR + h * 8, r[q]);
        }
      }
    }
    for (; p < kc; ++p)
      for (int c = 0; c < kNR; ++c) dst[p * kNR + c] = c < cols ? src[c * ldb + p] : 0.0f;
  }
}

void pack_a_rows_avx2(const float* const* src, int64_t len, float* dst) {
  int64_t p = 0;
  for (; p + 8 <= len; p += 8) {
    __m256 r[8];
    for (int q = 0; q < kMR; ++q) r[q] = _mm256_loadu_ps(src[q] + p);
    r[6] = r[7] = _mm256_setzero_ps();
    transpose8(r);
    for (int q = 0; q < 8; ++q) _mm256_storeu_ps(dst + (p + q) * kMR, r[q]);
  }
  for (; p < len; ++p)
    for (int r = 0; r < kMR; ++r) dst[p * kMR + r] = src[r][p];
}

}  // namespace corenn::cpu::gemm
