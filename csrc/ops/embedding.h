// Embedding lookup (Keras Embedding) and its gradient, a scatter-add.
//
//   forward   y[i, :] = W[idx[i], :]                          y (..., D) for indices (...)
//   backward  dW = 0; dW[idx[i], :] += dy[i, :] for every i  (repeated indices accumulate)
// Shapes: W, dW (V, D) float32 (V = input_dim, the vocabulary); indices any shape, int32, int64 or
// float32 holding whole numbers (Sequential feeds float32 x; Keras casts inputs to int).
// forward also takes an int8 W on the CPU (an int8-quantized Embedding's table): y = float(W[idx])
// (exact), the layer then divides by the rows' scales.
// Every index is checked (whole, 0 <= idx < V) before anything is written.
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

// Kernels behind the entries (shapes and devices checked; each kernel checks the index values
// where they live before it writes): cpu/embedding.cpp (cpu_ref; forward also reads an int8
// table, which the entry allows on the CPU only), cuda/embedding.cu (cuda).
using EmbeddingForwardFn = void (*)(const Tensor& indices, const Tensor& weight, const Tensor& y);
using EmbeddingBackwardFn = void (*)(const Tensor& indices, const Tensor& dy,
                                     const Tensor& dweight);
CORENN_DECLARE_DISPATCH(EmbeddingForwardFn, embedding_forward_stub);
CORENN_DECLARE_DISPATCH(EmbeddingBackwardFn, embedding_backward_stub);

void embedding_forward(const Tensor& indices, const Tensor& weight, const Tensor& y);
void embedding_backward(const Tensor& indices, const Tensor& dy, const Tensor& dweight);

namespace cpu {
// n lookups of rows of d floats from a (v, d) table. Index types: int32_t, int64_t, float (whole
// numbers, already validated by the entry).
template <class I>
void embedding_forward(int64_t n, int64_t d, const I* idx, const float* w, float* y);
template <class I>
void embedding_backward(int64_t n, int64_t v, int64_t d, const I* idx, const float* dy, float* dw);
}  // namespace cpu

}  // namespace corenn
