// Losses with Keras 3 semantics, value and (optionally) gradient in one pass.
//
// y_pred is (N, ..., C) float32, seen as (rows, C). Per-sample loss_i reduces the last axis (mean
// for mse / mae / huber / bce, sum for the cross-entropies); result = sum_i w_i loss_i / rows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/tensor.h"

namespace corenn {

enum class LossKind { mse, mae, huber, bce, cce, sparse_cce };

LossKind loss_from_name(const std::string& name);  // ValueError listing valid kinds

// Equal shapes, or equal after dropping a trailing 1 from the longer one ((N, 1) vs (N,)).
bool same_up_to_trailing_one(const Tensor& a, const Tensor& b);

double loss_forward(const std::string& kind, const Tensor& y_pred, const Tensor& y_true,
                    const std::optional<Tensor>& grad, bool from_logits, double delta,
                    const std::optional<Tensor>& sample_weight);

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
  int64_t rows = 0, cols = 0;
  bool from_logits = false;
  double delta = 1.0;
};

// bad_row >= 0 flags the first row with a NaN target or an out-of-range label (bad_label holds it).
struct LossResult {
  double value = 0.0;
  int64_t bad_row = -1;
  int64_t bad_label = 0;
};

LossResult loss_forward(const LossProblem& p);

}  // namespace cpu

}  // namespace corenn
