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
// Tensors hold no int8 (core/tensor.h): the int8 operands arrive as int32 Tensors (int8_gemm's
// A and B, test and tool use) or as a float32 Tensor of integers (quantized_matmul's kernel,
// which is a layer weight and lives with the float32 weights); the entries check that every value
// fits int8 and narrow them to int8 buffers before the kernel runs.
#pragma once

#include <cstdint>
#include <optional>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

void int8_gemm(const Tensor& a, const Tensor& b, const Tensor& c);
void quantized_matmul(const Tensor& x, const Tensor& kernel, const Tensor& kernel_scale,
                      const std::optional<Tensor>& bias, const Tensor& y);

// The inner per-ISA kernel (dispatch stub "int8_gemm.rows"): C (m, n) = A (m, k) B for a block of
// rows. A and B come as given (row-major (m, k) and (k, n)) and, when `wants_pairs`, also as
// 16-bit pairs of depth steps in int32 words, the operands of a 16-bit multiply-add pair
// instruction (VPMADDWD / VPDPWSSD), which is exact where the 8-bit one (VPMADDUBSW) saturates:
//   b_pairs in panels of `nr` columns (ceil(n / nr), ceil(k / 2), nr): word (s, p, j) holds
//           b[2p, s nr + j] in its low int16 and b[2p + 1, s nr + j] in its high int16 (0 past
//           the end of k or n), so a kernel reads each panel front to back;
//   a_pairs (m, ceil(k / 2)): word (i, p) = a[i, 2p] | a[i, 2p + 1] << 16, likewise.
// nr == 0: the kernel wants neither (the reference).
struct Int8GemmRows {
  int nr;
  void (*rows)(const int8_t* a, const int32_t* a_pairs, const int8_t* b, const int32_t* b_pairs,
               int32_t* c, int64_t m, int64_t k, int64_t n);
};

namespace cpu {
void int8_gemm(const int8_t* a, const int8_t* b, int32_t* c, int64_t m, int64_t k, int64_t n);
void quantized_matmul(const float* x, const int8_t* kernel, const float* kernel_scale,
                      const float* bias, float* y, int64_t m, int64_t k, int64_t n);
// b (k, n) as Int8GemmRows' b_pairs in panels of nr columns; a (m, k) as its a_pairs
void int8_pack_pairs(const int8_t* b, int32_t* pairs, int64_t k, int64_t n, int64_t nr);
void int8_pack_row_pairs(const int8_t* a, int32_t* pairs, int64_t m, int64_t k);
}  // namespace cpu

using Int8GemmFn = decltype(&cpu::int8_gemm);
CORENN_DECLARE_DISPATCH(Int8GemmFn, int8_gemm_stub);
using QuantizedMatmulFn = decltype(&cpu::quantized_matmul);
CORENN_DECLARE_DISPATCH(QuantizedMatmulFn, quantized_matmul_stub);
CORENN_DECLARE_DISPATCH(const Int8GemmRows*, int8_gemm_rows_stub);

}  // namespace corenn
