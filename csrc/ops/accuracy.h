// Accuracy counts for metrics: how many predictions in the batch are right.
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace corenn {

// kind: 'sparse_categorical' | 'categorical' | 'binary' (see ops.accuracy_count).
int64_t accuracy_count(const std::string& kind, const Tensor& y_pred, const Tensor& y_true,
                       double threshold);

namespace cpu {
// argmax(pred row) == label; first max wins ties. Returns the count, or -1 - r for the first row r
// with a label outside [0, cols).
template <class Label>
int64_t sparse_categorical_hits(const float* pred, const Label* labels, int64_t rows, int64_t cols);
int64_t categorical_hits(const float* pred, const float* target, int64_t rows, int64_t cols);
int64_t binary_hits(const float* pred, const float* target, int64_t n, float threshold);
}  // namespace cpu

}  // namespace corenn
