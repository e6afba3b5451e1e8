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
#include "cpu/simd/pack_transpose.h"
#include "cpu/simd/f32_avx2.h"

namespace corenn::cpu::gemm {

namespace {

// 8 x 8 transposes and the B^T packer, shared with the other ISA's file (simd/pack_transpose.h).
using Transposes = simd::Transpose8x8<avx2::F32>;

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
        Transposes::transpose8(r);
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
  Transposes::pack_b_t<kNR>(b, ldb, p0, kc, j0, nc, dst);
}

void pack_a_rows_avx2(const float* const* src, int64_t len, float* dst) {
  int64_t p = 0;
  for (; p + 8 <= len; p += 8) {
    __m256 r[8];
    for (int q = 0; q < kMR; ++q) r[q] = _mm256_loadu_ps(src[q] + p);
    r[6] = r[7] = _mm256_setzero_ps();
    Transposes::transpose8(r);
    for (int q = 0; q < 8; ++q) _mm256_storeu_ps(dst + (p + q) * kMR, r[q]);
  }
  for (; p < len; ++p)
    for (int r = 0; r < kMR; ++r) dst[p * kMR + r] = src[r][p];
}

}  // namespace corenn::cpu::gemm
