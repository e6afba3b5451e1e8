// Fused masked softmax of attention scores (MultiHeadAttention), forward and backward.
//
// Shapes: B batch, H heads, Tq query steps, Tk key steps; a row is one (b, h, i).
//   scores, probs, dropped, dprobs, dscores   (B, H, Tq, Tk)
//   attention_mask (B, Tq, Tk) shared by every head, or (B, H, Tq, Tk) one per head (Keras 3 takes
//   both: its masked softmax expands a mask only up to the scores' rank); query_mask (B, Tq),
//   key_mask (B, Tk): float32, nonzero = attend; each optional (Keras' attention_mask, the query /
//   key padding masks).
//
//   forward   allowed[b,h,i,j] = am[b,(h,)i,j] != 0 && qm[b,i] != 0 && km[b,j] != 0 && (!causal || j <= i)
//             probs[r, j] = allowed ? exp(scale s[r,j] - m_r) / sum_{allowed k} exp(scale s[r,k] - m_r) : 0
//             with m_r the max of scale s over the allowed j of the row. A row with nothing
//             allowed is uniform, 1 / Tk (Keras 3.15 adds -1e9 to every masked score, which leaves
//             all the scores of such a row equal: a padded query averages the values).
//             With dropout (rate > 0): dropped[r, j] = probs[r, j] * keep(seed, r*Tk + j) / (1 - rate)
//             where keep = uniform01(seed, index) >= rate (core/rng.h), the probs that multiply V.
//   backward  g[r, j] = dprobs[r, j] (dL/d dropped with dropout: g = dropped[r,j] != 0 ?
//             dprobs[r,j] / (1 - rate) : 0; where probs is 0 its softmax gradient is 0 anyway, so
//             dropped != 0 is the keep mask wherever it matters, and no mask buffer is kept)
//             dscores[r, j] = scale * probs[r, j] * (g[r, j] - sum_k probs[r, k] g[r, k])
// probs may be scores itself (each row is read before it is written); dscores may be dprobs.
#pragma once

#include <cstdint>
#include <optional>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

void masked_softmax_forward(const Tensor& scores, const Tensor& probs,
                            const std::optional<Tensor>& attention_mask,
                            const std::optional<Tensor>& query_mask,
                            const std::optional<Tensor>& key_mask, bool causal, double scale,
                            double dropout_rate, uint64_t seed, const std::optional<Tensor>& dropped);

void masked_softmax_backward(const Tensor& probs, const Tensor& dprobs, const Tensor& dscores,
                             double scale, double dropout_rate,
                             const std::optional<Tensor>& dropped);

namespace cpu {

struct SoftmaxProblem {
  int64_t b, h, tq, tk;
  const float* am;  // (B, Tq, Tk), (B, H, Tq, Tk) with am_per_head, or nullptr
  const float* qm;  // (B, Tq) or nullptr
  const float* km;  // (B, Tk) or nullptr
  bool causal;
  float scale;
  bool am_per_head = false;  // am has a row per (b, h, i): the scores' own row index
};

void masked_softmax_forward(const SoftmaxProblem& p, const float* scores, float* probs,
                            float rate, uint64_t seed, float* dropped);
void masked_softmax_backward(const SoftmaxProblem& p, const float* probs, const float* dprobs,
                             float* dscores, float rate, const float* dropped);

// The row kernels of the masked softmax, per ISA (cpu/attention.cpp: cpu_ref,
// cpu/attention_avx2.cpp: avx2, cpu/attention_avx512.cpp: avx512). softmax_row: one row with at least one allowed entry: row holds
// scale * s, -inf where masked, and mx its max; out[j] = exp(row[j] - mx) / sum, exactly 0 where
// row[j] is -inf; out may be row. softmax_grad_row: out[j] = scale * p[j] * (g[j] - sum_k p[k] g[k]).
struct SoftmaxRowKernels {
  void (*softmax_row)(const float* row, float* out, int64_t n, float mx);
  void (*softmax_grad_row)(const float* p, const float* g, float* out, int64_t n, float scale);
};
using SoftmaxRowKernelsRef = const SoftmaxRowKernels*;
CORENN_DECLARE_DISPATCH(SoftmaxRowKernelsRef, attention_softmax_rows_stub);

}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/attention.cpp registers cpu_ref.
using MaskedSoftmaxForwardFn = decltype(&cpu::masked_softmax_forward);
CORENN_DECLARE_DISPATCH(MaskedSoftmaxForwardFn, masked_softmax_forward_stub);
using MaskedSoftmaxBackwardFn = decltype(&cpu::masked_softmax_backward);
CORENN_DECLARE_DISPATCH(MaskedSoftmaxBackwardFn, masked_softmax_backward_stub);

}  // namespace corenn
