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

namespace corenn::cpu::gemm {

namespace {

constexpr int MR = kMR512;
constexpr int NR = kNR512;

inline __mmask16 lanes(int n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

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
        transpose8(lo);
        transpose8(hi);
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

void pack_a_rows_avx512(const float* const* src, int64_t len, float* dst) {
  for (int64_t p = 0; p < len; p += 8) {
    const int steps = static_cast<int>(std::min<int64_t>(8, len - p));
    const __mmask8 in = static_cast<__mmask8>((1u << steps) - 1);
    __m256 lo[8], hi[8];
    for (int q = 0; q < 8; ++q) lo[q] = _mm256_maskz_loadu_ps(in, src[q] + p);
    for (int q = 0; q < 4; ++q) hi[q] = _mm256_maskz_loadu_ps(in, src[8 + q] + p);
    hi[4] = hi[5] = hi[6] = hi[7] = _mm256_setzero_ps();
    transpose8(lo);
    transpose8(hi);
    for (int q = 0; q < steps; ++q) {
      _mm256_storeu_ps(dst + (p + q) * MR, lo[q]);
      _mm_storeu_ps(dst + (p + q) * MR + 8, _mm256_castps256_ps128(hi[q]));
    }
  }
}

}  // namespace corenn::cpu::gemm
