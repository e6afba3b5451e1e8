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
void tile(const int32_t* aw, const int32_t* panel, int32_t* c, int64_t kp, int64_t ldc, int64_t j0,
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
    _mm256_maskstore_epi32(reinterpret_cast<int*>(c + r * ldc + j0), m0, acc0[r]);
    _mm256_maskstore_epi32(reinterpret_cast<int*>(c + r * ldc + j0 + 8), m1, acc1[r]);
  }
}

// Panels outside, row tiles inside (a panel of B comes from memory once per block).
void rows(const int8_t* /*a*/, const int32_t* a_pairs, const int8_t* /*b*/, int64_t /*ldb*/, const int32_t* pairs,
          int32_t* c, int64_t ldc, int64_t m, int64_t k, int64_t n) {
  const int64_t kp = (k + 1) / 2;
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    const int32_t* panel = pairs + (j0 / 16) * kp * 16;
    const __m256i m0 = lane_mask(n - j0), m1 = lane_mask(n - j0 - 8);
    int64_t i = 0;
    for (; i + kMR <= m; i += kMR) tile<kMR>(a_pairs + i * kp, panel, c + i * ldc, kp, ldc, j0, m0, m1);
    const int32_t* aw = a_pairs + i * kp;
    int32_t* ci = c + i * ldc;
    switch (m - i) {
      case 3: tile<3>(aw, panel, ci, kp, ldc, j0, m0, m1); break;
      case 2: tile<2>(aw, panel, ci, kp, ldc, j0, m0, m1); break;
      case 1: tile<1>(aw, panel, ci, kp, ldc, j0, m0, m1); break;
      default: break;
    }
  }
}

// Int8GemmRows::quantize_pairs: Keras' abs-max quantizer on one row, 16 floats a step (the tail
// by the same operations in scalar code). A row's pair words are its int16 values in order (word
// p = q[2p] | q[2p + 1] << 16, little-endian), so the values are narrowed to int16 (VPACKSSDW, which
// packs within 128-bit lanes, then a cross-lane permute back into order) and stored as they are.
// Same float32 operations as the portable quantizer, so the same values.
float quantize_pairs(const float* x, int32_t* words, int64_t k) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256 inf = _mm256_set1_ps(__builtin_inff());
  __m256 vmax = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= k; j += 8) {
    const __m256 v = _mm256_and_ps(_mm256_loadu_ps(x + j), abs_mask);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, inf, _CMP_NLT_UQ));   // infinite or NaN
    vmax = _mm256_max_ps(vmax, v);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vmax);
  float amax = 0.0f;
  bool finite = _mm256_movemask_ps(bad) == 0;
  for (float v : lanes) amax = v > amax ? v : amax;
  for (; j < k; ++j) {
    const float v = __builtin_fabsf(x[j]);
    finite = finite && v <= 3.4028235e38f;
    amax = v > amax ? v : amax;
  }
  const int64_t kp = (k + 1) / 2;
  if (!finite) {
    for (int64_t p = 0; p < kp; ++p) words[p] = 0;
    return __builtin_nanf("");
  }
  const float s = 127.0f / (amax + 1e-7f);
  const __m256 vs = _mm256_set1_ps(s), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  auto quantize8 = [&](const float* xj) {
    __m256 r = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(xj), vs), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(r, lo), hi));
  };
  int16_t* q = reinterpret_cast<int16_t*>(words);
  j = 0;
  for (; j + 16 <= k; j += 16) {
    const __m256i packed = _mm256_packs_epi32(quantize8(x + j), quantize8(x + j + 8));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + j), _mm256_permute4x64_epi64(packed, 0xD8));
  }
  for (; j < k; ++j) {
    float r = __builtin_nearbyintf(x[j] * s);
    r = r < -127.0f ? -127.0f : r;
    r = r > 127.0f ? 127.0f : r;
    const int16_t v = static_cast<int16_t>(r);
    __builtin_memcpy(q + j, &v, sizeof v);
  }
  if (k % 2) {
    const int16_t zero = 0;
    __builtin_memcpy(q + k, &zero, sizeof zero);
  }
  return s;
}

// Int8GemmRows::dequantize: the driver's portable epilogue (cpu/int8_gemm.cpp, dequantize_row)
// 8 columns a step: VCVTDQ2PS, s_k[j] * s, the division, the bias added, relu as MAX(0, z)
// (0 > z ? 0 : z: NaN and -0 kept, as the relu op). Separate multiply, divide and add, never
// fused: the same float32 operations in the same order, so the same bits. The last columns under
// a lane mask (VMASKMOV: nothing read or written past n; masked-off lanes read 0, s_k's 1).
void dequantize(const int32_t* acc, const float* sk, float s, const float* bias, bool relu, float* y, int64_t n) {
  const __m256 vs = _mm256_set1_ps(s), zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  int64_t j = 0;
  auto step = [&](__m256 a, __m256 d, __m256 b) {
    __m256 z = _mm256_div_ps(a, _mm256_mul_ps(d, vs));
    if (bias) z = _mm256_add_ps(z, b);
    return relu ? _mm256_max_ps(zero, z) : z;
  };
  for (; j + 8 <= n; j += 8) {
    const __m256 a = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + j)));
    const __m256 b = bias ? _mm256_loadu_ps(bias + j) : zero;
    _mm256_storeu_ps(y + j, step(a, _mm256_loadu_ps(sk + j), b));
  }
  if (j < n) {
    const __m256i m = lane_mask(n - j);
    const __m256 a = _mm256_cvtepi32_ps(_mm256_maskload_epi32(acc + j, m));
    const __m256 d = _mm256_blendv_ps(one, _mm256_maskload_ps(sk + j, m), _mm256_castsi256_ps(m));
    const __m256 b = bias ? _mm256_maskload_ps(bias + j, m) : zero;
    _mm256_maskstore_ps(y + j, m, step(a, d, b));
  }
}

}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const Int8GemmRows kInt8GemmRows{16, rows, quantize_pairs, dequantize};

}  // namespace corenn::cpu::avx2
