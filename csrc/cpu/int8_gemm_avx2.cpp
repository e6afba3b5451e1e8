// The avx2 slot of int8_gemm_rows_stub (ops/int8_gemm.h): C (m, n) int32 = A (m, k) int8 B.
//
// The AVX-512 kernel's scheme (int8_gemm_avx512.cpp) on 8 lanes: B as 16-bit pairs, one
// VPMADDWD per two depth steps of 8 columns (exact: 16-bit operands, 32-bit pair sums; the 8-bit
// VPMADDUBSW would saturate its 16-bit sums), tiles of up to 4 rows x 16 columns (8 accumulators),
// the last columns under a lane mask (VPMASKMOVD neither reads nor writes masked-off lanes), the
// last rows by a smaller instance of the tile. Internal linkage only (cpu/isa_kernels.h).
#include <immintrin.h>

#include <cstdint>

#include "cpu/isa_kernels.h"
#include "ops/int8_gemm.h"

namespace corenn::cpu::avx2 {

namespace {

constexpr int kMR = 4;

inline int32_t pair_word(int8_t lo, int8_t hi) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(lo))) |
                              (static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(hi))) << 16));
}

// All-ones in the first `lanes` (0..8) of 8 int32 lanes.
inline __m256i lane_mask(int64_t lanes) {
  const int64_t l = lanes < 0 ? 0 : lanes > 8 ? 8 : lanes;
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(l)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <int MR>
void tile(const int8_t* a, const int32_t* pairs, int32_t* c, int64_t k, int64_t n, int64_t j0,
          __m256i m0, __m256i m1) {
  __m256i acc0[MR], acc1[MR];
  for (int r = 0; r < MR; ++r) acc0[r] = acc1[r] = _mm256_setzero_si256();
  const int64_t full = k / 2, kp = (k + 1) / 2;
  for (int64_t p = 0; p < kp; ++p) {
    const int* bw = reinterpret_cast<const int*>(pairs + p * n + j0);
    const __m256i b0 = _mm256_maskload_epi32(bw, m0);
    const __m256i b1 = _mm256_maskload_epi32(bw + 8, m1);
    const bool whole = p < full;
    for (int r = 0; r < MR; ++r) {
      const int8_t* ar = a + r * k + 2 * p;
      const __m256i av = _mm256_set1_epi32(pair_word(ar[0], whole ? ar[1] : int8_t{0}));
      acc0[r] = _mm256_add_epi32(acc0[r], _mm256_madd_epi16(av, b0));
      acc1[r] = _mm256_add_epi32(acc1[r], _mm256_madd_epi16(av, b1));
    }
  }
  for (int r = 0; r < MR; ++r) {
    _mm256_maskstore_epi32(reinterpret_cast<int*>(c + r * n + j0), m0, acc0[r]);
    _mm256_maskstore_epi32(reinterpret_cast<int*>(c + r * n + j0 + 8), m1, acc1[r]);
  }
}

template <int MR>
void row_block(const int8_t* a, const int32_t* pairs, int32_t* c, int64_t k, int64_t n) {
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    tile<MR>(a, pairs, c, k, n, j0, lane_mask(n - j0), lane_mask(n - j0 - 8));
  }
}

void rows(const int8_t* a, const int8_t* /*b*/, const int32_t* pairs, int32_t* c, int64_t m, int64_t k,
          int64_t n) {
  int64_t i = 0;
  for (; i + kMR <= m; i += kMR) row_block<kMR>(a + i * k, pairs, c + i * n, k, n);
  switch (m - i) {
    case 3: row_block<3>(a + i * k, pairs, c + i * n, k, n); break;
    case 2: row_block<2>(a + i * k, pairs, c + i * n, k, n); break;
    case 1: row_block<1>(a + i * k, pairs, c + i * n, k, n); break;
    default: break;
  }
}

}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const Int8GemmRows kInt8GemmRows{true, rows};

}  // namespace corenn::cpu::avx2
