// The avx2 slot of int8_gemm_rows_stub (ops/int8_gemm.h): C (m, n) int32 = A (m, k) int8 B.
//
// The AVX-512 kernel's scheme (cpu/int8_gemm_avx512_tiles.h) on 8 lanes: A and B as 16-bit
// pairs, one VPMADDWD per two depth steps of 8 columns (exact: 16-bit operands, 32-bit pair sums;
// the 8-bit VPMADDUBSW would saturate its 16-bit sums), tiles of up to 4 rows x 16 columns (8 accumulators),
// B in zero-padded 16-column panels (whole loads), the last columns stored under a lane mask
// (VPMASKMOVD writes no masked-off lane), the last rows by a smaller instance of the tile.
// Internal linkage only (cpu/isa_kernels.h).
#include <immintrin.h>

#include <cstdint>

#include "cpu/isa_kernels.h"
#include "ops/int8_gemm.h"

namespace corenn::cpu::avx2 {

namespace {

constexpr int kMR = 4;

// All-ones in the first `lanes` (0..8) of 8 int32 lanes.
inline __m256i lane_mask(int64_t lanes) {
  const int64_t l = lanes < 0 ? 0 : lanes > 8 ? 8 : lanes;
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(l)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Rows [0, MR) of A (pair words, kp per row) by one 16-column panel of B (kp x 16 words, zero
// past n), into C's columns [j0, j0 + 16).
template <int MR>
void tile(const int32_t* aw, const int32_t* panel, int32_t* c, int64_t kp, int64_t n, int64_t j0,
          __m256i m0, __m256i m1) {
  __m256i acc0[MR], acc1[MR];
  for (int r = 0; r < MR; ++r) acc0[r] = acc1[r] = _mm256_setzero_si256();
  for (int64_t p = 0; p < kp; ++p) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + p * 16));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + p * 16 + 8));
    for (int r = 0; r < MR; ++r) {
      const __m256i av = _mm256_set1_epi32(aw[r * kp + p]);
      acc0[r] = _mm256_add_epi32(acc0[r], _mm256_madd_epi16(av, b0));
      acc1[r] = _mm256_add_epi32(acc1[r], _mm256_madd_epi16(av, b1));
    }
  }
  for (int r = 0; r < MR; ++r) {
    _mm256_maskstore_epi32(reinterpret_cast<int*>(c + r * n + j0), m0, acc0[r]);
    _mm256_maskstore_epi32(reinterpret_cast<int*>(c + r * n + j0 + 8), m1, acc1[r]);
  }
}

// Panels outside, row tiles inside (a panel of B comes from memory once per block).
void rows(const int8_t* /*a*/, const int32_t* a_pairs, const int8_t* /*b*/, const int32_t* pairs, int32_t* c,
          int64_t m, int64_t k, int64_t n) {
  const int64_t kp = (k + 1) / 2;
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    const int32_t* panel = pairs + (j0 / 16) * kp * 16;
    const __m256i m0 = lane_mask(n - j0), m1 = lane_mask(n - j0 - 8);
    int64_t i = 0;
    for (; i + kMR <= m; i += kMR) tile<kMR>(a_pairs + i * kp, panel, c + i * n, kp, n, j0, m0, m1);
    const int32_t* aw = a_pairs + i * kp;
    int32_t* ci = c + i * n;
    switch (m - i) {
      case 3: tile<3>(aw, panel, ci, kp, n, j0, m0, m1); break;
      case 2: tile<2>(aw, panel, ci, kp, n, j0, m0, m1); break;
      case 1: tile<1>(aw, panel, ci, kp, n, j0, m0, m1); break;
      default: break;
    }
  }
}

}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const Int8GemmRows kInt8GemmRows{16, rows};

}  // namespace corenn::cpu::avx2
