// int8 GEMM and the int8-quantized matmul of Keras 3's `quantize("int8")` (Dense's call).
//
//   int8_gemm          C = A B exactly, A (M, K) and B (K, N) int8 values, C (M, N) int32.
//                      Integer accumulation is exact (|sum| <= K * 128 * 128 < 2^31 for
//                      K < 2^17, checked), so every ISA's kernel gives the same bits.
//   quantized_matmul   y = (q(x) Kq) / (s_x * s_k) + bias, the dequantizing epilogue fused:
//                      x (M, K) float32; per row i, s_x[i] = 127 / (max_j |x[i, j]| + 1e-7) and
//                      q(x)[i, j] = clip(round_half_even(x[i, j] * s_x[i]), -127, 127) (Keras'
//                      abs-max quantizer, float32 arithmetic in the same order); Kq (K, N) the
//                      int8 kernel, s_k (N,) its per-column scale, bias (N,) or none; y (M, N)
//                      float32 = float(acc[i, j]) / (s_k[j] * s_x[i]) (+ bias[j]). A row of x
//                      holding a NaN or an infinity gives a row of NaN.
//
// quantized_matmul's kernel is an int8 Tensor (a quantized layer's int8 weight, one byte a value,
// as Keras keeps it; any other dtype is a TypeError naming the op), read in place by the reference
// rows kernel and packed into pair panels for the ISA ones; quantized_matmul(keep=true) (Dense's
// and EinsumDense's forward) keeps those panels on the kernel's storage, keyed by its write
// version, instead of packing every call (cpu/int8_kept_kernel.cpp). int8_gemm's A and B (test and
// tool use) are int8 Tensors, read as they are, or int32 Tensors of int8 values, checked and
// narrowed by its entry.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

void int8_gemm(const Tensor& a, const Tensor& b, const Tensor& c);
// keep: `kernel` is a weight read by many calls (a layer's int8 kernel); its int8 form is kept on
// its storage while its write version stands (cpu/int8_kept_kernel.cpp). Same bits either way.
void quantized_matmul(const Tensor& x, const Tensor& kernel, const Tensor& kernel_scale,
                      const std::optional<Tensor>& bias, const Tensor& y, bool keep = false, bool relu = false);

// The inner per-ISA kernel (dispatch stub "int8_gemm.rows"): C (m, n) = A (m, k) B for a block of
// rows and a range of columns. A comes as given (row-major (m, k)) and, when `nr` > 0, also as
// 16-bit pairs of depth steps in int32 words, the operands of a 16-bit multiply-add pair
// instruction (VPMADDWD / VPDPWSSD), which is exact where the 8-bit one (VPMADDUBSW) saturates:
//   a_pairs (m, ceil(k / 2)): word (i, p) = a[i, 2p] | a[i, 2p + 1] << 16 (0 past the end of k);
//   b_pairs B in panels of `nr` columns (ceil(n / nr), ceil(k / 2), nr): word (s, p, j) holds
//           b[2p, s nr + j] in its low int16 and b[2p + 1, s nr + j] in its high int16 (0 past
//           the end of k or n), so a kernel reads each panel front to back; a column range
//           starting at a multiple of nr is the panels from its first on.
// nr == 0: the kernel reads neither pair form but b (k, n) int8 with row stride ldb (the
// reference); nr > 0: it never reads a or b. C's rows are ldc apart.
// quantize_pairs (nr > 0): one row x (k,) of quantized_matmul's input through Keras' abs-max
// quantizer (see quantized_matmul above) into its a_pairs row (ceil(k / 2) words); returns s_x, or
// NaN for a row with a NaN or an infinity (words 0). Each ISA's gives the portable one's values;
// nullptr: the driver's portable quantizer, then int8_pack_row_pairs.
struct Int8GemmRows {
  int nr;
  void (*rows)(const int8_t* a, const int32_t* a_pairs, const int8_t* b, int64_t ldb, const int32_t* b_pairs,
               int32_t* c, int64_t ldc, int64_t m, int64_t k, int64_t n);
  float (*quantize_pairs)(const float* x, int32_t* words, int64_t k);
  // dequantize (quantized_matmul's epilogue) on one row of n: y[j] = float(acc[j]) / (s_k[j] * s)
  // (+ bias[j] when bias), then relu as `v < 0 ? 0 : v` (NaN and -0 kept) when relu; the same
  // float32 operations per element in the same order as the driver's portable loop, so the same
  // bits. nullptr: the driver's portable loop.
  void (*dequantize)(const int32_t* acc, const float* s_k, float s, const float* bias, bool relu, float* y,
                     int64_t n);
};

// An int8 B operand (k, n) in the form one rows kernel reads: the caller's int8 values `b`, read
// in place, when rows->nr == 0 (the reference; quantized_matmul's int8 kernel is never copied),
// else only its pair panels. Made per call by the driver, or (pair panels) kept on a weight's
// storage (cpu/int8_kept_kernel.cpp).
struct Int8Operand {
  const Int8GemmRows* rows = nullptr;
  int64_t k = 0, n = 0;
  const int8_t* b = nullptr;    // (k, n) row-major, rows->nr == 0: not owned, outlives the call
  std::vector<int32_t> pairs;   // b_pairs above, rows->nr > 0
  size_t bytes() const { return pairs.size() * sizeof(int32_t); }
};

namespace cpu {
void int8_gemm(const int8_t* a, const int8_t* b, int32_t* c, int64_t m, int64_t k, int64_t n);
// kernel (k, n) int8. keep: the kernel's Storage when the caller asks for its packed form to be
// kept on it (cpu/int8_kept_kernel.cpp), else nullptr. relu: y = max(y, 0) fused into the
// epilogue (as the relu op: NaN and -0 kept).
void quantized_matmul(const float* x, const int8_t* kernel, const Storage* keep, const float* kernel_scale,
                      const float* bias, bool relu, float* y, int64_t m, int64_t k, int64_t n);
// b (k, n) as Int8GemmRows' b_pairs in panels of nr columns; a (m, k) as its a_pairs
void int8_pack_pairs(const int8_t* b, int32_t* pairs, int64_t k, int64_t n, int64_t nr);
void int8_pack_row_pairs(const int8_t* a, int32_t* pairs, int64_t m, int64_t k);

// The kept int8 kernel (cpu/int8_kept_kernel.cpp): the operand of `rows` (pair panels, nr > 0)
// made from `storage`'s contents at its current write version, made by `make` when there is none
// (then kept); make's exception propagates and nothing is kept. While the storage's versions
// cannot vouch for its contents (a live writable export, borrowed memory) nothing is kept and
// every call makes its own.
std::shared_ptr<const Int8Operand> kept_int8_operand(const Storage& storage, const Int8GemmRows* rows,
                                                     int64_t k, int64_t n,
                                                     const std::function<std::shared_ptr<Int8Operand>()>& make);
struct Int8KeptStats {
  uint64_t hits, makes, untrusted;
};
Int8KeptStats int8_kept_stats();
size_t int8_kept_bytes(const Storage& storage);   // 0 when nothing is kept
}  // namespace cpu

using Int8GemmFn = decltype(&cpu::int8_gemm);
CORENN_DECLARE_DISPATCH(Int8GemmFn, int8_gemm_stub);
using QuantizedMatmulFn = decltype(&cpu::quantized_matmul);
CORENN_DECLARE_DISPATCH(QuantizedMatmulFn, quantized_matmul_stub);
CORENN_DECLARE_DISPATCH(const Int8GemmRows*, int8_gemm_rows_stub);

}  // namespace corenn
