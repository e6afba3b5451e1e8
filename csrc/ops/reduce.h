// Reductions over a set of axes (keras.ops.sum / mean / max / min) and their gradients.
//
//   forward   y = reduce_{axes} x          sum, mean (sum / count), max, min
//             x (...); y: x's shape with the reduced axes removed, or kept as 1 (keepdims).
//             axes is explicit: an empty list reduces nothing (NumPy's axis=(); the Python
//             wrapper turns axis=None into every axis). sum over nothing is 0, mean NaN; max / min
//             over an empty axis is refused (NumPy: "no identity").
//   backward  sum:  dx = broadcast(dy)                mean: dx = broadcast(dy) / count
//             max / min: the gradient is split evenly among the positions that hold the
//             extreme value (ties share it; TensorFlow's and JAX's rule):
//               dx = [x == y] * dy / (number of such positions in the reduced slice)
//             a NaN y matches NaN entries of x (NaN is the max of a slice holding one).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

enum class ReduceKind : int8_t { sum, mean, max, min };
ReduceKind reduce_kind_from_name(const char* op, const std::string& name);

// y's shape for x's shape (checks the axes; op names the caller).
std::vector<int64_t> reduce_output_shape(const std::string& op, const std::vector<int64_t>& shape,
                                         const std::vector<int64_t>& axes, bool keepdims);

void reduce_forward(const std::string& kind, const Tensor& x, const std::vector<int64_t>& axes,
                    bool keepdims, const Tensor& y);
// y (the forward's output) is read only by max / min.
void reduce_backward(const std::string& kind, const Tensor& x, const std::optional<Tensor>& y,
                     const Tensor& dy, const std::vector<int64_t>& axes, bool keepdims,
                     const Tensor& dx);

namespace cpu {
// x is contiguous with `shape`; y receives the kept dims in order. reduced has one flag per dim.
void reduce(ReduceKind kind, const float* x, const std::vector<int64_t>& shape,
            const std::vector<bool>& reduced, float* y);
// dx (shape) from dy and y (kept dims); y is read by max / min only.
void reduce_backward(ReduceKind kind, const float* x, const float* y, const float* dy,
                     const std::vector<int64_t>& shape, const std::vector<bool>& reduced,
                     float* dx);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/reduce.cpp registers cpu_ref.
using ReduceForwardFn = decltype(&cpu::reduce);
CORENN_DECLARE_DISPATCH(ReduceForwardFn, reduce_forward_stub);
using ReduceBackwardFn = decltype(&cpu::reduce_backward);
CORENN_DECLARE_DISPATCH(ReduceBackwardFn, reduce_backward_stub);

}  // namespace corenn
