// Concatenation along an axis (keras.ops.concatenate, the Concatenate layer) and its gradient,
// the split back into pieces.
//
//   concat  y = [x_0, x_1, ...] along axis: every x_i has y's shape except along axis, where
//           y.size(axis) = sum_i x_i.size(axis)
//   split   ys[i] = x[..., o_i : o_i + ys[i].size(axis), ...], o_i = sum_{j<i} ys[j].size(axis)
// Negative axes count from the end. Rank >= 1. No output shares memory with an input.
#pragma once

#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

void concat(const std::vector<Tensor>& xs, int64_t axis, const Tensor& y);
void split(const Tensor& x, int64_t axis, const std::vector<Tensor>& ys);

namespace cpu {
// Viewed as (outer, width_i) pieces: y row r is x_0 row r, x_1 row r, ... (row = width floats).
void concat(const std::vector<const float*>& xs, const std::vector<int64_t>& widths,
            int64_t outer, float* y);
void split(const float* x, const std::vector<float*>& ys, const std::vector<int64_t>& widths,
           int64_t outer);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/concat.cpp registers cpu_ref.
using ConcatFn = decltype(&cpu::concat);
CORENN_DECLARE_DISPATCH(ConcatFn, concat_stub);
using SplitFn = decltype(&cpu::split);
CORENN_DECLARE_DISPATCH(SplitFn, split_stub);

}  // namespace corenn
