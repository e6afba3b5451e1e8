// Embedding lookup (Keras Embedding) and its gradient, a scatter-add.
//
//   forward   y[i, :] = W[idx[i], :]                          y (..., D) for indices (...)
//   backward  dW = 0; dW[idx[i], :] += dy[i, :] for every i  (repeated indices accumulate)
// Shapes: W, dW (V, D) float32 (V = input_dim, the vocabulary); indices any shape, int32, int64 or
// float32 holding whole numbers (Sequential feeds float32 x; Keras casts inputs to int).
// Every index is checked (whole, 0 <= idx < V) before anything is written.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace corenn {

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
