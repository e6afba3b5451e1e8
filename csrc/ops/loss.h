// Losses with Keras 3 semantics, value and (optionally) gradient in one pass.
//
// y_pred is (N, ..., C) float32, seen as (rows, C). Per-sample loss_i reduces the last axis (mean
// for mse / mae / huber / bce / hinge / squared_hinge / log_cosh / poisson / msle / mape, sum for the
// cross-entropies and kl_divergence, a dot product for cosine_similarity, a max for
// categorical_hinge); result = sum_i w_i loss_i / rows. per_sample, when given, receives loss_i
// (unweighted, (rows,)): Keras' reduction=None and the per-sample function forms.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

enum class LossKind {
  mse, mae, huber, bce, cce, sparse_cce,
  kld, cosine, hinge, squared_hinge, categorical_hinge, log_cosh, poisson, msle, mape,
  binary_focal, categorical_focal,
};

LossKind loss_from_name(const std::string& name);  // ValueError listing valid kinds

// Equal shapes, or equal after dropping a trailing 1 from the longer one ((N, 1) vs (N,)).
bool same_up_to_trailing_one(const Tensor& a, const Tensor& b);

double loss_forward(const std::string& kind, const Tensor& y_pred, const Tensor& y_true,
                    const std::optional<Tensor>& grad, bool from_logits, double delta,
                    const std::optional<Tensor>& sample_weight,
                    const std::optional<Tensor>& per_sample = std::nullopt,
                    double focal_alpha = 0.25, double focal_gamma = 2.0, bool class_balancing = false);

namespace cpu {

// One flattened loss problem. Exactly one of target / labels32 / labels64 is set.
struct LossProblem {
  LossKind kind;
  const float* pred;
  const float* target = nullptr;      // (rows, cols) for the dense-target losses
  const int32_t* labels32 = nullptr;  // (rows,) class indices for sparse_cce
  const int64_t* labels64 = nullptr;
  const float* weight = nullptr;      // (rows,) or null
  float* grad = nullptr;              // (rows, cols) or null
  float* per_sample = nullptr;        // (rows,) or null: loss_i before weighting
  int64_t rows = 0, cols = 0;
  bool from_logits = false;
  double delta = 1.0;
  bool hinge_pm1 = false;             // hinge / squared_hinge: targets are 0/1, use 2t - 1
  double focal_alpha = 0.25, focal_gamma = 2.0;  // the focal losses' weight and focusing power
  bool class_balancing = false;       // binary_focal: weigh by alpha / 1 - alpha per target
};

// bad_row >= 0 flags the first row with a NaN target or an out-of-range label (bad_label holds it).
struct LossResult {
  double value = 0.0;
  int64_t bad_row = -1;
  int64_t bad_label = 0;
};

LossResult loss_forward(const LossProblem& p);

// Keras' hinge losses map {0, 1} labels to {-1, 1}, but only when every label of the batch is 0 or
// 1 (a batch-wide test, as convert_binary_labels_to_hinge does).
bool all_zero_or_one(const float* t, int64_t n);

// The row loops of the hot losses, per ISA (loss_rows_stub: cpu_ref in cpu/loss.cpp, avx512 in
// cpu/loss_avx512.cpp): mean squared error, and the softmax cross-entropy from logits with dense
// targets t or (t == nullptr) the one-hot row of `label`. Each returns loss_i and, when g is set,
// writes the row's gradient times `scale` (the formulas at the top of cpu/loss.cpp).
struct LossRows {
  double (*mse_row)(const float* p, const float* t, float* g, int64_t cols, double scale);
  double (*cce_logits_row)(const float* p, const float* t, int64_t label, float* g, int64_t cols,
                           double scale);
};
using LossRowsRef = const LossRows*;
CORENN_DECLARE_DISPATCH(LossRowsRef, loss_rows_stub);

}  // namespace cpu

// The kernel behind loss_forward: cpu/loss.cpp (cpu_ref), cuda/loss.cu (cuda: the kinds up to
// sparse_cce, without per_sample; the entry refuses the rest on other devices).
using LossForwardFn = cpu::LossResult (*)(const cpu::LossProblem& pb, const Tensor& like);
CORENN_DECLARE_DISPATCH(LossForwardFn, loss_forward_stub);

}  // namespace corenn
