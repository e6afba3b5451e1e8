// The AVX-512 tiles of int8_gemm_rows_stub (ops/int8_gemm.h), included by int8_gemm_avx512.cpp
// (VPMADDWD + VPADDD) and int8_gemm_avx512_vnni.cpp (VPDPWSSD, the two fused), each instance
// inside that file's anonymous namespace (internal linkage: no COMDAT copies across ISA levels).
//
// C (m, n) int32 = A (m, k) int8 B, with B as 16-bit pairs (Int8GemmRows' `pairs`: word (p, j) =
// b[2p, j] | b[2p + 1, j] << 16): one multiply-add of 16-bit pairs handles two depth steps of 16
// columns against the broadcast pair (a[i, 2p], a[i, 2p + 1]). 16-bit operands give exact 32-bit
// products (|a b| <= 2^14) and pair sums, unlike the 8-bit VPMADDUBSW / VPDPBUSD whose operands
// would need the +128 offset (and VPMADDUBSW's 16-bit sums saturate), so the result is the
// reference's integers. Tiles of up to 6 rows x 32 columns (12 accumulators); the last columns
// under a __mmask16 (masked loads never touch memory past the row), the last rows by a smaller
// instance of the same tile, an odd k by a pair whose high half is 0.
//
// No includes and no namespace here: the including file includes <immintrin.h> and <cstdint>
// first, then includes this inside its anonymous namespace.
#pragma once

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
template <int MR, bool kVnni>
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
      if constexpr (kVnni) {   // VPDPWSSD: the same pair products and sums, added in one instruction
        acc0[r] = _mm512_dpwssd_epi32(acc0[r], av, b0);
        acc1[r] = _mm512_dpwssd_epi32(acc1[r], av, b1);
      } else {
        acc0[r] = _mm512_add_epi32(acc0[r], _mm512_madd_epi16(av, b0));
        acc1[r] = _mm512_add_epi32(acc1[r], _mm512_madd_epi16(av, b1));
      }
    }
  }
  for (int r = 0; r < MR; ++r) {
    _mm512_mask_storeu_epi32(c + r * n + j0, m0, acc0[r]);
    _mm512_mask_storeu_epi32(c + r * n + j0 + 16, m1, acc1[r]);
  }
}

template <int MR, bool kVnni>
void row_block(const int8_t* a, const int32_t* pairs, int32_t* c, int64_t k, int64_t n) {
  for (int64_t j0 = 0; j0 < n; j0 += 32) {
    tile<MR, kVnni>(a, pairs, c, k, n, j0, lane_mask(n - j0), lane_mask(n - j0 - 16));
  }
}

template <bool kVnni>
void rows(const int8_t* a, const int8_t* /*b*/, const int32_t* pairs, int32_t* c, int64_t m, int64_t k,
          int64_t n) {
  int64_t i = 0;
  for (; i + kMR <= m; i += kMR) row_block<kMR, kVnni>(a + i * k, pairs, c + i * n, k, n);
  switch (m - i) {
    case 5: row_block<5, kVnni>(a + i * k, pairs, c + i * n, k, n); break;
    case 4: row_block<4, kVnni>(a + i * k, pairs, c + i * n, k, n); break;
    case 3: row_block<3, kVnni>(a + i * k, pairs, c + i * n, k, n); break;
    case 2: row_block<2, kVnni>(a + i * k, pairs, c + i * n, k, n); break;
    case 1: row_block<1, kVnni>(a + i * k, pairs, c + i * n, k, n); break;
    default: break;
  }
}
