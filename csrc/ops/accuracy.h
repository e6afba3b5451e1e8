// Accuracy counts and confusion counts for metrics: how many predictions in the batch are right.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

// The counting kernels behind accuracy_count (cpu/accuracy.cpp: cpu_ref, cuda/accuracy.cu: cuda).
// pred is (rows, cols); per_row (CPU only) may be null. bad_row >= 0 flags the first row whose
// label lies outside [0, cols) (sparse only), bad_label is that label.
struct AccuracyHits {
  int64_t hits = 0;
  int64_t bad_row = -1;
  int64_t bad_label = 0;
};
using SparseCategoricalHitsFn = AccuracyHits (*)(const Tensor& like, const float* pred,
                                                 const void* labels, bool labels32, int64_t rows,
                                                 int64_t cols, float* per_row);
using CategoricalHitsFn = int64_t (*)(const Tensor& like, const float* pred, const float* target,
                                      int64_t rows, int64_t cols, float* per_row);
using BinaryHitsFn = int64_t (*)(const Tensor& like, const float* pred, const float* target,
                                 int64_t rows, int64_t cols, float threshold, float* per_row);
CORENN_DECLARE_DISPATCH(SparseCategoricalHitsFn, sparse_categorical_hits_stub);
CORENN_DECLARE_DISPATCH(CategoricalHitsFn, categorical_hits_stub);
CORENN_DECLARE_DISPATCH(BinaryHitsFn, binary_hits_stub);

// kind: 'sparse_categorical' | 'categorical' | 'binary' | 'top_k' | 'sparse_top_k' (see
// ops.accuracy_count). y_pred is seen as (rows, C). per_row, when given ((rows,) float32, CPU),
// receives each row's score: 0/1, or for 'binary' the fraction of the row's elements that match.
int64_t accuracy_count(const std::string& kind, const Tensor& y_pred, const Tensor& y_true,
                       double threshold, int64_t k = 5,
                       const std::optional<Tensor>& per_row = std::nullopt);

// Weighted confusion counts of y_pred > thresholds[t] against y_true, flattened over all
// elements: 4 values per threshold, [tp, fp, tn, fn] * T. thresholds must be ascending.
// A label is positive when nonzero, or with soft_labels it counts y as positive and 1 - y as
// negative (the weighting Keras' AUC uses). sample_weight is one weight per row (rows,) or none.
std::vector<double> confusion_counts(const Tensor& y_pred, const Tensor& y_true,
                                     const std::vector<float>& thresholds, bool soft_labels,
                                     const std::optional<Tensor>& sample_weight);

namespace cpu {
// argmax(pred row) == label; first max wins ties. Returns the count, or -1 - r for the first row r
// with a label outside [0, cols).
template <class Label>
int64_t sparse_categorical_hits(const float* pred, const Label* labels, int64_t rows, int64_t cols,
                                float* per_row = nullptr);
int64_t categorical_hits(const float* pred, const float* target, int64_t rows, int64_t cols,
                         float* per_row = nullptr);
int64_t binary_hits(const float* pred, const float* target, int64_t rows, int64_t cols,
                    float threshold, float* per_row = nullptr);
// The label is in the top k when fewer than k classes score strictly higher (ties count as in,
// as Keras' in_top_k); a NaN score at the label is a miss. Labels from argmax(target) when
// labels is null. Same return convention as sparse_categorical_hits.
template <class Label>
int64_t top_k_hits(const float* pred, const Label* labels, const float* target, int64_t rows,
                   int64_t cols, int64_t k, float* per_row = nullptr);

// out: 4 * T doubles as in corenn::confusion_counts.
void confusion_counts(const float* pred, const float* target, int64_t n, int64_t cols,
                      const float* weight, const float* thresholds, int64_t T, bool soft_labels,
                      double* out);
}  // namespace cpu

// top_k / sparse_top_k (labels from labels32, labels64 or, both null, argmax(target)) and the
// confusion counts: cpu/accuracy.cpp and cpu/metrics_confusion.cpp register cpu_ref.
using TopKHitsFn = int64_t (*)(const float* pred, const int32_t* labels32, const int64_t* labels64,
                               const float* target, int64_t rows, int64_t cols, int64_t k,
                               float* per_row);
using ConfusionCountsFn = decltype(&cpu::confusion_counts);
CORENN_DECLARE_DISPATCH(TopKHitsFn, top_k_hits_stub);
CORENN_DECLARE_DISPATCH(ConfusionCountsFn, confusion_counts_stub);

}  // namespace corenn
