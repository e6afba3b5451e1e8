// AVX-512 packers for the 12 x 32 micro-kernel's panel format (gemm.h, with MR = kMR512 = 12 and
// NR = kNR512 = 32): A panel i holds rows [12i, 12i + 12) depth-major (panel[p*12 + r]), B panel j
// holds cols [32j, 32j + 32) depth-major (panel[p*32 + c]); rows / cols past the block are zero.
//
//   pack_a_n_avx512: op(A) = A (M, K) row-major: 8 x 8 transposes of rows 0-7 and 8-11
//   pack_a_t_avx512: op(A) = A^T, A (K, M): one masked 12-lane copy per depth step
//   pack_b_n_avx512: op(B) = B (K, N): two 16-lane copies per depth step
//   pack_b_t_avx512: op(B) = B^T, B (N, K): four 8 x 8 transposes per 8 depth steps
//   pack_a_rows_avx512: 12 rows given by pointers (a conv's patch runs): 8 x 8 transposes as
//                       pack_a_n, the last < 8 depth steps through masked loads
//
// Tails (a partial panel, the last columns of B) are masked loads with zero fill and masked
// stores, so no packer writes past its panels and none needs slack in the buffer. The depth
// remainder of the two transposing packers (kc % 8 steps) is a short scalar copy.
// Compiled with -mavx512f/vl/bw/dq; part of the avx512 GEMM context (sgemm_context_stub).
#include <immintrin.h>

#include <algorithm>

#include "cpu/gemm/gemm.h"
#include "cpu/gemm/kernels_x86.h"
#include "cpu/simd/pack_transpose.h"
#include "cpu/simd/f32_avx512.h"

namespace corenn::cpu::gemm {

namespace {

constexpr int MR = kMR512;
constexpr int NR = kNR512;

inline __mmask16 lanes(int n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// 8 x 8 transposes and the B^T packer, shared with the other ISA's file (simd/pack_transpose.h).
using Transposes = simd::Transpose8x8<avx512::F32>;

}  // namespace

void pack_a_n_avx512(const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                     float* dst) {
  for (int64_t i = 0; i < mc; i += MR, dst += MR * kc) {
    const int rows = static_cast<int>(std::min<int64_t>(MR, mc - i));
    const float* src = a + (i0 + i) * lda + p0;
    int64_t p = 0;
    if (rows == MR) {
      for (; p + 8 <= kc; p += 8) {
        __m256 lo[8], hi[8];
        for (int q = 0; q < 8; ++q) lo[q] = _mm256_loadu_ps(src + q * lda + p);
        for (int q = 0; q < 4; ++q) hi[q] = _mm256_loadu_ps(src + (8 + q) * lda + p);
        hi[4] = hi[5] = hi[6] = hi[7] = _mm256_setzero_ps();
        Transposes::transpose8(lo);
        Transposes::transpose8(hi);
        for (int q = 0; q < 8; ++q) {
          _mm256_storeu_ps(dst + (p + q) * MR, lo[q]);
          _mm_storeu_ps(dst + (p + q) * MR + 8, _mm256_castps256_ps128(hi[q]));
        }
      }
    }
    for (; p < kc; ++p)
      for (int r = 0; r < MR; ++r) dst[p * MR + r] = r < rows ? src[r * lda + p] : 0.0f;
  }
}

void pack_a_t_avx512(const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                     float* dst) {
  const __mmask16 out = lanes(MR);
  for (int64_t i = 0; i < mc; i += MR, dst += MR * kc) {
    const __mmask16 in = lanes(static_cast<int>(std::min<int64_t>(MR, mc - i)));
    const float* src = a + p0 * lda + i0 + i;
    for (int64_t p = 0; p < kc; ++p)
      _mm512_mask_storeu_ps(dst + p * MR, out, _mm512_maskz_loadu_ps(in, src + p * lda));
  }
}

void pack_b_n_avx512(const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                     float* dst) {
  for (int64_t j = 0; j < nc; j += NR, dst += NR * kc) {
    const int cols = static_cast<int>(std::min<int64_t>(NR, nc - j));
    const __mmask16 k0 = lanes(cols), k1 = lanes(cols - 16);
    const float* src = b + p0 * ldb + j0 + j;
    for (int64_t p = 0; p < kc; ++p, src += ldb) {
      _mm512_storeu_ps(dst + p * NR, _mm512_maskz_loadu_ps(k0, src));
      _mm512_storeu_ps(dst + p * NR + 16, _mm512_maskz_loadu_ps(k1, src + 16));
    }
  }
}

void pack_b_t_avx512(const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                    float* dst) {
  Transposes::pack_b_t<NR>(b, ldb, p0, kc, j0, nc, dst);
}

void pack_a_rows_avx512(const float* const* src, int64_t len, float* dst) {
  for (int64_t p = 0; p < len; p += 8) {
    const int steps = static_cast<int>(std::min<int64_t>(8, len - p));
    const __mmask8 in = static_cast<__mmask8>((1u << steps) - 1);
    __m256 lo[8], hi[8];
    for (int q = 0; q < 8; ++q) lo[q] = _mm256_maskz_loadu_ps(in, src[q] + p);
    for (int q = 0; q < 4; ++q) hi[q] = _mm256_maskz_loadu_ps(in, src[8 + q] + p);
    hi[4] = hi[5] = hi[6] = hi[7] = _mm256_setzero_ps();
    Transposes::transpose8(lo);
    Transposes::transpose8(hi);
    for (int q = 0; q < steps; ++q) {
      _mm256_storeu_ps(dst + (p + q) * MR, lo[q]);
      _mm_storeu_ps(dst + (p + q) * MR + 8, _mm256_castps256_ps128(hi[q]));
    }
  }
}

}  // namespace corenn::cpu::gemm
