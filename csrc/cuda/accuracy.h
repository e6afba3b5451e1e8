// CUDA accuracy counts behind ops/accuracy_count (math in accuracy.cu). Inputs validated;
// pointers are on `like`'s device.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "ops/accuracy.h"

namespace corenn::cuda {

using Hits = AccuracyHits;

// labels: int32 when labels32, else int64.
Hits sparse_categorical_hits(const Tensor& like, const float* pred, const void* labels,
                             bool labels32, int64_t rows, int64_t cols);
int64_t categorical_hits(const Tensor& like, const float* pred, const float* target, int64_t rows,
                         int64_t cols);
int64_t binary_hits(const Tensor& like, const float* pred, const float* target, int64_t n,
                    float threshold);

}  // namespace corenn::cuda
