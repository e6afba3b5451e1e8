// Small input checks shared by the elementwise, loss and metric op entries.
#pragma once

#include "core/check.h"
#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

// For a feature that only the CPU kernel has (an op without a stub, or an option such as a
// per-row output): the dispatch table's one error text, naming the op, the device of `arg` and
// the one kernel that exists.
inline void check_cpu(const char* op, const char* arg, const Tensor& t) {
  if (!t.device().is_cpu()) throw_no_kernel(op, t.device(), "cpu_ref");
}

// Elementwise kernels read element i and then write element i, so an output may be the very same
// buffer as an input (in-place); a partial overlap would read already-written values.
inline void check_same_or_disjoint(const char* op, const char* arg_a, const Tensor& a,
                                   const char* arg_b, const Tensor& b) {
  if (a.raw_data() == b.raw_data() && a.nbytes() == b.nbytes()) return;
  check_no_alias(op, arg_a, a, arg_b, b);
}

}  // namespace corenn
