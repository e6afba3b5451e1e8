// The avx512 slot of int8_gemm_rows_stub (ops/int8_gemm.h): C (m, n) int32 = A (m, k) int8 B.
//
// B arrives as 16-bit pairs (Int8GemmRows' `pairs`: word (p, j) = b[2p, j] | b[2p + 1, j] << 16),
// so one VPMADDWD multiplies two depth steps of 16 columns by the broadcast pair
// (a[i, 2p], a[i, 2p + 1]) and adds the two products into 32-bit lanes: 16-bit operands give
// exact 32-bit products (|a b| <= 2^14), unlike the 8-bit VPMADDUBSW whose 16-bit pair sums
// saturate, so the result is the reference's integers. Tiles of up to 6 rows x 32 columns (12
// accumulators); the last columns under a __mmask16 (masked loads never touch memory past the
// row), the last rows by a smaller instance of the same tile, an odd k by a pair whose high half
// is 0. Everything here has internal linkage (cpu/isa_kernels.h: no load-time code, no COMDAT).
#include <immintrin.h>

#include <cstdint>

#include "cpu/isa_kernels.h"
#include "ops/int8_gemm.h"

namespace corenn::cpu::avx512 {

namespace {

constexpr int kMR = 6;

inline int32_t pair_word(int8_t lo, int8_t hi) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(lo))) |
                              (static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(hi))) << 16));
}

inline __mmask16 lane_mask(int64_t lanes) {
  return lanes >= 16 ? static_cast<__mmask16>(0xFFFF)
                     : lanes <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << lanes) - 1u);
}

// Rows [0, MR) of a by columns [j0, j0 + 32) of c (masks m0 / m1 for the two 16-column halves).
template <int MR>
void tile(const int8_t* a, const int32_t* pairs, int32_t* c, int64_t k, int64_t n, int64_t j0,
          __mmask16 m0, __mmask16 m1) {
  __m512i acc0[MR], acc1[MR];
  for (int r = 0; r < MR; ++r) acc0[r] = acc1[r] = _mm512_setzero_si512();
  const int64_t full = k / 2, kp = (k + 1) / 2;
  for (int64_t p = 0; p < kp; ++p) {
    const int32_t* bw = pairs + p * n + j0;
    const __m512i b0 = _mm512_maskz_loadu_epi32(m0, bw);
    const __m512i b1 = _mm512_maskz_loadu_epi32(m1, bw + 16);
    const bool whole = p < full;
    for (int r = 0; r < MR; ++r) {
      const int8_t* ar = a + r * k + 2 * p;
      const __m512i av = _mm512_set1_epi32(pair_word(ar[0], whole ? ar[1] : int8_t{0}));
      acc0[r] = _mm512_add_epi32(acc0[r], _mm512_madd_epi16(av, b0));
      acc1[r] = _mm512_add_epi32(acc1[r], _mm512_madd_epi16(av, b1));
    }
  }
  for (int r = 0; r < MR; ++r) {
    _mm512_mask_storeu_epi32(c + r * n + j0, m0, acc0[r]);
    _mm512_mask_storeu_epi32(c + r * n + j0 + 16, m1, acc1[r]);
  }
}

template <int MR>
void row_block(const int8_t* a, const int32_t* pairs, int32_t* c, int64_t k, int64_t n) {
  for (int64_t j0 = 0; j0 < n; j0 += 32) {
    tile<MR>(a, pairs, c, k, n, j0, lane_mask(n - j0), lane_mask(n - j0 - 16));
  }
}

void rows(const int8_t* a, const int8_t* /*b*/, const int32_t* pairs, int32_t* c, int64_t m, int64_t k,
          int64_t n) {
  int64_t i = 0;
  for (; i + kMR <= m; i += kMR) row_block<kMR>(a + i * k, pairs, c + i * n, k, n);
  switch (m - i) {
    case 5: row_block<5>(a + i * k, pairs, c + i * n, k, n); break;
    case 4: row_block<4>(a + i * k, pairs, c + i * n, k, n); break;
    case 3: row_block<3>(a + i * k, pairs, c + i * n, k, n); break;
    case 2: row_block<2>(a + i * k, pairs, c + i * n, k, n); break;
    case 1: row_block<1>(a + i * k, pairs, c + i * n, k, n); break;
    default: break;
  }
}

}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const Int8GemmRows kInt8GemmRows{true, rows};

}  // namespace corenn::cpu::avx512
