// General N-d transpose (numpy.transpose / keras.ops.transpose / the Permute layer).
//
//   y[i_0, ..., i_{k-1}] = x[j]  with  j_{perm[d]} = i_d,   y.shape[d] = x.shape[perm[d]]
//   gradient: dx = transpose(dy, inverse(perm))
// Any dtype (float32, int32, int64): the kernel moves elements of 4 or 8 bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

void transpose(const Tensor& x, const std::vector<int64_t>& perm, const Tensor& y);

namespace cpu {
// The simplified problem the entry hands over: y is contiguous of `shape` (no axis of size 1, no
// two neighbours that are also neighbours in x), y[i] = x[sum_d i_d * xstride[d]] (x strides in
// elements along y's axes). Exactly one axis has xstride 1 (x's innermost).
void transpose(const void* x, void* y, const std::vector<int64_t>& shape,
               const std::vector<int64_t>& xstride, size_t elem_size);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/transpose.cpp registers cpu_ref.
using TransposeFn = decltype(&cpu::transpose);
CORENN_DECLARE_DISPATCH(TransposeFn, transpose_stub);

}  // namespace corenn
