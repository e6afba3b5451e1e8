// int8 GEMM and the int8-quantized matmul (CPU drivers and the reference kernel); see
// ops/int8_gemm.h for the math.
//
//   a (m, k) int8 row-major, b (k, n) int8 row-major, c (m, n) int32 row-major; x (m, k) and
//   y (m, n) float32 row-major.
//
// The drivers split the rows of A (of x) into blocks run in parallel and hand each block to the
// inner kernel of the active ISA (stub "int8_gemm.rows"), with A's rows and B packed as 16-bit
// pairs when it wants them. The reference rows kernel is the plain triple loop in int32; the AVX2
// / AVX-512 kernels (int8_gemm_avx2.cpp / _avx512*.cpp) multiply 16-bit pairs with VPMADDWD or
// VPDPWSSD, so their products and sums are the same integers and the results the same bits.
//
// quantized_matmul quantizes a block of rows of x into a local int8 buffer (Keras' abs-max
// quantizer in float32, in its order of operations), runs the rows kernel into a local int32
// buffer, then dequantizes: y = float(acc) / (s_k[j] * s_x[i]) (+ bias[j]).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "ops/int8_gemm.h"

namespace corenn::cpu {

// ---- reference ------------------------------------------------------------------------------

namespace {

void int8_rows_ref(const int8_t* a, const int32_t* /*a_pairs*/, const int8_t* b, const int32_t* /*b_pairs*/,
                   int32_t* c, int64_t m, int64_t k, int64_t n) {
  for (int64_t i = 0; i < m; ++i) {
    const int8_t* ai = a + i * k;
    int32_t* ci = c + i * n;
    std::fill(ci, ci + n, 0);
    for (int64_t p = 0; p < k; ++p) {
      const int32_t av = ai[p];
      const int8_t* bp = b + p * n;
      for (int64_t j = 0; j < n; ++j) ci[j] += av * static_cast<int32_t>(bp[j]);
    }
  }
}

const Int8GemmRows kRowsRef{0, int8_rows_ref};

// Rows per parallel task: about 2^16 multiply-adds each, at least one row.
int64_t row_grain(int64_t k, int64_t n) {
  return std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, k * n));
}

// Keras' AbsMaxQuantizer on one row, float32: s = 127 / (max |x| + 1e-7), q = clip(round(x s)).
// Returns s, or NaN for a row with a NaN or an infinity (its outputs are NaN).
float quantize_row(const float* x, int8_t* q, int64_t k) {
  float amax = 0.0f;
  bool finite = true;
  for (int64_t j = 0; j < k; ++j) {
    const float v = std::fabs(x[j]);
    finite = finite && std::isfinite(v);
    amax = v > amax ? v : amax;
  }
  if (!finite) {
    std::fill(q, q + k, int8_t{0});
    return NAN;
  }
  const float s = 127.0f / (amax + 1e-7f);
  for (int64_t j = 0; j < k; ++j) {
    const float r = std::nearbyint(x[j] * s);   // the default rounding mode: half to even
    q[j] = static_cast<int8_t>(std::min(127.0f, std::max(-127.0f, r)));
  }
  return s;
}

const Int8GemmRows* active_rows(const int8_t* b, int64_t k, int64_t n, std::vector<int32_t>& pairs) {
  const Int8GemmRows* rows = int8_gemm_rows_stub.cpu();
  if (rows->nr > 0) {
    pairs.resize(static_cast<size_t>((n + rows->nr - 1) / rows->nr * rows->nr * ((k + 1) / 2)));
    int8_pack_pairs(b, pairs.data(), k, n, rows->nr);
  }
  return rows;
}

}  // namespace

inline int32_t pair_word(int8_t lo, int8_t hi) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(lo))) |
                              (static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(hi))) << 16));
}

void int8_pack_row_pairs(const int8_t* a, int32_t* pairs, int64_t m, int64_t k) {
  const int64_t kp = (k + 1) / 2;
  for (int64_t i = 0; i < m; ++i) {
    const int8_t* ai = a + i * k;
    int32_t* out = pairs + i * kp;
    for (int64_t p = 0; p < k / 2; ++p) out[p] = pair_word(ai[2 * p], ai[2 * p + 1]);
    if (k % 2) out[kp - 1] = pair_word(ai[k - 1], 0);
  }
}

void int8_pack_pairs(const int8_t* b, int32_t* pairs, int64_t k, int64_t n, int64_t nr) {
  const int64_t kp = (k + 1) / 2;
  for (int64_t j0 = 0; j0 < n; j0 += nr) {
    int32_t* panel = pairs + (j0 / nr) * kp * nr;
    const int64_t w = std::min(nr, n - j0);
    for (int64_t p = 0; p < kp; ++p) {
      const int8_t* lo = b + 2 * p * n + j0;
      const int8_t* hi = 2 * p + 1 < k ? lo + n : nullptr;
      int32_t* out = panel + p * nr;
      for (int64_t j = 0; j < w; ++j) out[j] = pair_word(lo[j], hi ? hi[j] : int8_t{0});
      std::fill(out + w, out + nr, 0);
    }
  }
}

// ---- drivers ----------------------------------------------------------------------------------

void int8_gemm(const int8_t* a, const int8_t* b, int32_t* c, int64_t m, int64_t k, int64_t n) {
  std::vector<int32_t> pairs;
  const Int8GemmRows* rows = active_rows(b, k, n, pairs);
  const int32_t* pw = pairs.empty() ? nullptr : pairs.data();
  parallel_for(0, m, row_grain(k, n), [&](int64_t lo, int64_t hi) {
    std::vector<int32_t> apairs(rows->nr > 0 ? static_cast<size_t>((hi - lo) * ((k + 1) / 2)) : 0);
    if (rows->nr > 0) int8_pack_row_pairs(a + lo * k, apairs.data(), hi - lo, k);
    rows->rows(a + lo * k, apairs.data(), b, pw, c + lo * n, hi - lo, k, n);
  });
}

void quantized_matmul(const float* x, const int8_t* kernel, const float* kernel_scale,
                      const float* bias, float* y, int64_t m, int64_t k, int64_t n) {
  std::vector<int32_t> pairs;
  const Int8GemmRows* rows = active_rows(kernel, k, n, pairs);
  const int32_t* pw = pairs.empty() ? nullptr : pairs.data();
  constexpr int64_t kBlock = 32;   // rows quantized and multiplied per step
  const int64_t blocks = (m + kBlock - 1) / kBlock;
  parallel_for(0, blocks, std::max<int64_t>(1, row_grain(k, n) / kBlock), [&](int64_t blo, int64_t bhi) {
    std::vector<int8_t> q(static_cast<size_t>(kBlock * k));
    std::vector<int32_t> acc(static_cast<size_t>(kBlock * n));
    std::vector<int32_t> qpairs(rows->nr > 0 ? static_cast<size_t>(kBlock * ((k + 1) / 2)) : 0);
    float sx[kBlock];
    for (int64_t blk = blo; blk < bhi; ++blk) {
      const int64_t i0 = blk * kBlock, mb = std::min(m, i0 + kBlock) - i0;
      for (int64_t i = 0; i < mb; ++i) sx[i] = quantize_row(x + (i0 + i) * k, q.data() + i * k, k);
      if (rows->nr > 0) int8_pack_row_pairs(q.data(), qpairs.data(), mb, k);
      rows->rows(q.data(), qpairs.data(), kernel, pw, acc.data(), mb, k, n);
      for (int64_t i = 0; i < mb; ++i) {
        float* yi = y + (i0 + i) * n;
        const int32_t* ai = acc.data() + i * n;
        for (int64_t j = 0; j < n; ++j) {
          const float v = static_cast<float>(ai[j]) / (kernel_scale[j] * sx[i]);
          yi[j] = bias ? v + bias[j] : v;
        }
      }
    }
  });
}

CORENN_REGISTER_KERNEL(int8_gemm_stub, Slot::cpu_ref, int8_gemm);
CORENN_REGISTER_KERNEL(quantized_matmul_stub, Slot::cpu_ref, quantized_matmul);
CORENN_REGISTER_KERNEL(int8_gemm_rows_stub, Slot::cpu_ref, &kRowsRef);

}  // namespace corenn::cpu
