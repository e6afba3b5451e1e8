// The AVX-512 tiles of int8_gemm_rows_stub (ops/int8_gemm.h), included by int8_gemm_avx512.cpp
// (VPMADDWD + VPADDD) and int8_gemm_avx512_vnni.cpp (VPDPWSSD, the two fused), each instance
// inside that file's anonymous namespace (internal linkage: no COMDAT copies across ISA levels).
//
// C (m, n) int32 = A (m, k) int8 B, with A and B as 16-bit pairs (Int8GemmRows: B in 32-column
// panels, word (p, j) = b[2p, j] | b[2p + 1, j] << 16; A's word (i, p) = a[i, 2p] | a[i, 2p + 1]
// << 16): one multiply-add of 16-bit pairs handles two depth steps of 16 columns against A's
// word, broadcast from memory. 16-bit operands give exact 32-bit
// products (|a b| <= 2^14) and pair sums, unlike the 8-bit VPMADDUBSW / VPDPBUSD whose operands
// would need the +128 offset (and VPMADDUBSW's 16-bit sums saturate), so the result is the
// reference's integers. Tiles of up to 6 rows x 32 columns (12 accumulators); the last columns
// stored under a __mmask16 (the panel is zero-padded, so its loads are whole), the last rows by a smaller
// instance of the same tile, an odd k by pairs whose high halves are 0.
//
// No includes and no namespace here: the including file includes <immintrin.h> and <cstdint>
// first, then includes this inside its anonymous namespace.
#pragma once

constexpr int kMR = 6;

inline __mmask16 lane_mask(int64_t lanes) {
  return lanes >= 16 ? static_cast<__mmask16>(0xFFFF)
                     : lanes <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << lanes) - 1u);
}

// acc += the pair products of a and b (VPDPWSSD, or VPMADDWD + VPADDD: the same exact integers).
// VPDPWSSD as inline asm with the accumulator tied ("+v"): GCC 12 compiles _mm512_dpwssd_epi32
// with two register copies per instruction (24 moves a depth step in the 6-row tile), which held
// the tile to about 40% of the VNNI rate.
template <bool kVnni>
inline __attribute__((always_inline)) void pair_madd(__m512i& acc, __m512i a, __m512i b) {
  if constexpr (kVnni) {
    asm("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
  } else {
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
  }
}

// Rows [0, MR) of A (as pair words, kp per row) by one 32-column panel of B (kp x 32 words, read
// front to back; zero past n), into C's columns [j0, j0 + 32) (masks m0 / m1 for the two halves).
// The 2 MR accumulators are named variables, not an array, so that they stay in registers around
// the asm (an array indexed in the unrolled loop went through the stack).
template <int MR, bool kVnni>
void tile(const int32_t* aw, const int32_t* panel, int32_t* c, int64_t kp, int64_t ldc, int64_t j0,
          __mmask16 m0, __mmask16 m1) {
  static_assert(MR >= 1 && MR <= 6, "tile: 1..6 rows");
  const __m512i z = _mm512_setzero_si512();
  __m512i c00 = z, c01 = z, c02 = z, c03 = z, c04 = z, c05 = z;
  __m512i c10 = z, c11 = z, c12 = z, c13 = z, c14 = z, c15 = z;
  for (int64_t p = 0; p < kp; ++p) {
    const __m512i b0 = _mm512_loadu_si512(panel + p * 32);
    const __m512i b1 = _mm512_loadu_si512(panel + p * 32 + 16);
#define CORENN_INT8_ROW(r)                                        \
    if constexpr (MR > r) {                                       \
      const __m512i av = _mm512_set1_epi32(aw[r * kp + p]);       \
      pair_madd<kVnni>(c0##r, av, b0);                            \
      pair_madd<kVnni>(c1##r, av, b1);                            \
    }
    CORENN_INT8_ROW(0) CORENN_INT8_ROW(1) CORENN_INT8_ROW(2) CORENN_INT8_ROW(3) CORENN_INT8_ROW(4)
    CORENN_INT8_ROW(5)
#undef CORENN_INT8_ROW
  }
#define CORENN_INT8_STORE(r)                                       \
  if constexpr (MR > r) {                                          \
    _mm512_mask_storeu_epi32(c + r * ldc + j0, m0, c0##r);         \
    _mm512_mask_storeu_epi32(c + r * ldc + j0 + 16, m1, c1##r);    \
  }
  CORENN_INT8_STORE(0) CORENN_INT8_STORE(1) CORENN_INT8_STORE(2) CORENN_INT8_STORE(3) CORENN_INT8_STORE(4)
  CORENN_INT8_STORE(5)
#undef CORENN_INT8_STORE
}

// Panels outside, row tiles inside: a panel of B (kp x 32 words) comes from memory once and then
// from cache for every row tile of the block.
template <bool kVnni>
void rows(const int8_t* /*a*/, const int32_t* a_pairs, const int8_t* /*b*/, int64_t /*ldb*/, const int32_t* pairs,
          int32_t* c, int64_t ldc, int64_t m, int64_t k, int64_t n) {
  const int64_t kp = (k + 1) / 2;
  for (int64_t j0 = 0; j0 < n; j0 += 32) {
    const int32_t* panel = pairs + (j0 / 32) * kp * 32;
    const __mmask16 m0 = lane_mask(n - j0), m1 = lane_mask(n - j0 - 16);
    int64_t i = 0;
    for (; i + kMR <= m; i += kMR) tile<kMR, kVnni>(a_pairs + i * kp, panel, c + i * ldc, kp, ldc, j0, m0, m1);
    const int32_t* aw = a_pairs + i * kp;
    int32_t* ci = c + i * ldc;
    switch (m - i) {
      case 5: tile<5, kVnni>(aw, panel, ci, kp, ldc, j0, m0, m1); break;
      case 4: tile<4, kVnni>(aw, panel, ci, kp, ldc, j0, m0, m1); break;
      case 3: tile<3, kVnni>(aw, panel, ci, kp, ldc, j0, m0, m1); break;
      case 2: tile<2, kVnni>(aw, panel, ci, kp, ldc, j0, m0, m1); break;
      case 1: tile<1, kVnni>(aw, panel, ci, kp, ldc, j0, m0, m1); break;
      default: break;
    }
  }
}

// Int8GemmRows::quantize_pairs: Keras' abs-max quantizer on one row, 16 floats a step. The pair
// words of a row are its int16 values in order (word p = q[2p] | q[2p + 1] << 16, little-endian),
// so the quantized values are narrowed to int16 (VPMOVDW) and stored as they are; the masked
// loads of the last step read 0 past k, which is the high half an odd k needs. Same float32
// operations as the portable quantizer (x s by itself, rounded half to even, clipped), so the
// same values.
inline float quantize_pairs(const float* x, int32_t* words, int64_t k) {
  const __m512 inf = _mm512_set1_ps(__builtin_inff());
  __m512 vmax = _mm512_setzero_ps();
  __mmask16 bad = 0;
  for (int64_t j = 0; j < k; j += 16) {
    const __m512 v = _mm512_abs_ps(_mm512_maskz_loadu_ps(lane_mask(k - j), x + j));
    bad |= _mm512_cmp_ps_mask(v, inf, _CMP_NLT_UQ);   // infinite or NaN
    vmax = _mm512_max_ps(vmax, v);
  }
  int16_t* q = reinterpret_cast<int16_t*>(words);
  const int64_t kp = (k + 1) / 2;
  if (bad) {
    for (int64_t p = 0; p < kp; ++p) words[p] = 0;
    return __builtin_nanf("");
  }
  const float s = 127.0f / (_mm512_reduce_max_ps(vmax) + 1e-7f);
  const __m512 vs = _mm512_set1_ps(s), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  for (int64_t j = 0; j < 2 * kp; j += 16) {
    const __mmask16 m = lane_mask(k - j);
    __m512 r = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + j), vs),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm512_min_ps(_mm512_max_ps(r, lo), hi);
    const __m256i q16 = _mm512_cvtepi32_epi16(_mm512_cvtps_epi32(r));
    _mm256_mask_storeu_epi16(q + j, lane_mask(2 * kp - j), q16);
  }
  return s;
}

// Int8GemmRows::dequantize: the driver's portable epilogue (cpu/int8_gemm.cpp, dequantize_row)
// 16 columns a step: VCVTDQ2PS (exact rounding as static_cast), s_k[j] * s, the division, the bias
// added, then relu as MAX(0, z) (0 > z ? 0 : z: NaN and -0 kept, as the relu op). Separate
// multiply, divide and add, never fused: the same float32 operations in the same order, so the
// same bits. The last columns under a mask (nothing read or written past n).
inline void dequantize(const int32_t* acc, const float* sk, float s, const float* bias, bool relu, float* y,
                       int64_t n) {
  const __m512 vs = _mm512_set1_ps(s), zero = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 m = lane_mask(n - j);
    const __m512 a = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, acc + j));
    // masked-off lanes divide 0 by 1 * s: no stray exception flags matter (-fno-trapping-math)
    const __m512 d = _mm512_mul_ps(_mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, sk + j), vs);
    __m512 z = _mm512_div_ps(a, d);
    if (bias) z = _mm512_add_ps(z, _mm512_maskz_loadu_ps(m, bias + j));
    if (relu) z = _mm512_max_ps(zero, z);
    _mm512_mask_storeu_ps(y + j, m, z);
  }
}
