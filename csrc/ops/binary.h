// Binary elementwise ops with NumPy broadcasting, and their gradients reduced to each operand's
// own shape.
//
//   y = a (op) b, y's shape = broadcast(a.shape, b.shape)
//   kind       y               da = sum_broadcast(dy * dy/da)   db = sum_broadcast(dy * dy/db)
//   add        a + b           dy                               dy
//   subtract   a - b           dy                               -dy
//   multiply   a * b           dy * b                           dy * a
//   divide     a / b           dy / b                           -dy * a / b^2
//   maximum    max(a, b)       dy * [a >= b]                    dy * [a < b]     (TensorFlow's
//   minimum    min(a, b)       dy * [a <= b]                    dy * [a > b]      tie rule: a)
//   power      a^b             dy * b a^(b-1)  (0 where b == 0) dy * a^b log a   (0 where a == 0
//                                                                                  and b >= 0)
// sum_broadcast sums over the axes along which the operand was broadcast (the leading axes it
// lacks and its size-1 axes), so da has a's shape and db b's. The power rules at b == 0 and
// a == 0 are PyTorch's. maximum / minimum propagate NaN (NumPy): a NaN operand wins, and its
// side gets the gradient. Gradients are products with dy, so a NaN dy is never dropped.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

enum class BinaryKind : int8_t { add, subtract, multiply, divide, maximum, minimum, power };
BinaryKind binary_kind_from_name(const char* op, const std::string& name);

// broadcast(a_shape, b_shape), ValueError naming op when they do not broadcast.
std::vector<int64_t> binary_output_shape(const std::string& op, const std::vector<int64_t>& a,
                                         const std::vector<int64_t>& b);

// y may be the very tensor a or b when it has the broadcast shape (in-place accumulate).
void binary_forward(const std::string& kind, const Tensor& a, const Tensor& b, const Tensor& y);
// da / db: a's / b's shape, written when given.
void binary_backward(const std::string& kind, const Tensor& a, const Tensor& b, const Tensor& dy,
                     const std::optional<Tensor>& da, const std::optional<Tensor>& db);

namespace cpu {
void binary_forward(BinaryKind kind, const float* a, const std::vector<int64_t>& a_shape,
                    const float* b, const std::vector<int64_t>& b_shape, float* y,
                    const std::vector<int64_t>& y_shape);
// da / db may be nullptr (not wanted).
void binary_backward(BinaryKind kind, const float* a, const std::vector<int64_t>& a_shape,
                     const float* b, const std::vector<int64_t>& b_shape, const float* dy,
                     const std::vector<int64_t>& y_shape, float* da, float* db);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/binary.cpp registers cpu_ref.
using BinaryForwardFn = decltype(&cpu::binary_forward);
CORENN_DECLARE_DISPATCH(BinaryForwardFn, binary_forward_stub);
using BinaryBackwardFn = decltype(&cpu::binary_backward);
CORENN_DECLARE_DISPATCH(BinaryBackwardFn, binary_backward_stub);

}  // namespace corenn
