// Shape rules and input checks shared by the tensor-math entries (binary, unary, reduce, concat,
// sum_n, batched_matmul): NumPy broadcasting, axis lists, the float32-and-device check.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "ops/elementwise_common.h"

namespace corenn {

// float32, and on a device `stub` has a kernel for (the table's NotImplementedError otherwise:
// these ops have CPU kernels only so far).
inline void check_float32_on(const DispatchStubBase& stub, const char* op, const char* arg,
                             const Tensor& t) {
  check_float32(op, arg, t);
  stub.check_device(t.device());
}

// NumPy's rule: shapes right-aligned; each pair of dims equal or one of them 1. ValueError naming
// op and both shapes otherwise.
std::vector<int64_t> broadcast_shapes(const char* op, const char* arg_a,
                                      const std::vector<int64_t>& a, const char* arg_b,
                                      const std::vector<int64_t>& b);

// Whether `shape` broadcasts to `out` without changing `out` (rank <= and each dim 1 or equal).
bool broadcasts_to(const std::vector<int64_t>& shape, const std::vector<int64_t>& out);

// Axes (negative count from the end) -> one flag per dim of a rank-`rank` tensor; an empty list
// flags none (NumPy's axis=()). ValueError naming op for an axis out of range or repeated.
std::vector<bool> reduced_axes(const char* op, int64_t rank, const std::vector<int64_t>& axes);

// The shape of a reduction: reduced dims become 1 (keepdims) or disappear.
std::vector<int64_t> reduced_shape(const std::vector<int64_t>& shape,
                                   const std::vector<bool>& reduced, bool keepdims);

}  // namespace corenn
