// Additive (Bahdanau-style) attention scores (Keras 3 AdditiveAttention, and Attention with
// score_mode="concat"). Shapes: N batch, Tq query steps, Tv key steps, D features.
//   query (N, Tq, D), key (N, Tv, D), w (D,), alpha a scalar, scores (N, Tq, Tv).
//
//   forward   t[n,i,j,d] = tanh(alpha * (query[n,i,d] + key[n,j,d]))
//             scores[n,i,j] = sum_d w[d] * t[n,i,j,d]
//   backward  g[n,i,j,d] = dscores[n,i,j] * w[d] * (1 - t^2)
//             dquery[n,i,d] = alpha * sum_j g,   dkey[n,j,d] = alpha * sum_i g
//             dw[d] = sum_{n,i,j} dscores * t,   dalpha = sum_{n,i,j,d} g * (query + key)
// AdditiveAttention: w = its `scale` vector (or ones), alpha = 1. Attention(concat): w = the
// concat_score_weight repeated D times, alpha = its `scale` (or 1).
// t is never stored (N * Tq * Tv * D values): backward recomputes it.
#pragma once

#include <cstdint>
#include <optional>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

void additive_attention_scores_forward(const Tensor& query, const Tensor& key, const Tensor& w,
                                       double alpha, const Tensor& scores);
// Each output is optional. dalpha has shape () (one value).
void additive_attention_scores_backward(const Tensor& dscores, const Tensor& query,
                                        const Tensor& key, const Tensor& w, double alpha,
                                        const std::optional<Tensor>& dquery,
                                        const std::optional<Tensor>& dkey,
                                        const std::optional<Tensor>& dw,
                                        const std::optional<Tensor>& dalpha);

namespace cpu {
struct AdditiveProblem {
  int64_t n, tq, tv, d;
  float alpha;
};
void additive_attention_scores_forward(const AdditiveProblem& p, const float* query,
                                       const float* key, const float* w, float* scores);
void additive_attention_scores_backward(const AdditiveProblem& p, const float* dscores,
                                        const float* query, const float* key, const float* w,
                                        float* dquery, float* dkey, float* dw, float* dalpha);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/additive_attention.cpp registers cpu_ref.
using AdditiveAttentionScoresForwardFn = decltype(&cpu::additive_attention_scores_forward);
CORENN_DECLARE_DISPATCH(AdditiveAttentionScoresForwardFn, additive_attention_scores_forward_stub);
using AdditiveAttentionScoresBackwardFn = decltype(&cpu::additive_attention_scores_backward);
CORENN_DECLARE_DISPATCH(AdditiveAttentionScoresBackwardFn, additive_attention_scores_backward_stub);

}  // namespace corenn
