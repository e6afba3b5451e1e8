// Small input checks shared by the elementwise, loss and metric op entries.
#pragma once

#include "core/check.h"
#include "core/tensor.h"

namespace corenn {

// Kernels here exist for the CPU only until csrc/cuda grows the same basenames.
inline void check_cpu(const char* op, const char* arg, const Tensor& t) {
  if (!t.device().is_cpu()) {
    throw NotImplementedError(detail::str_cat(op, ": ", arg, " is on ", t.device().str(),
                                              "; this op has no kernel for that device yet"));
  }
}

// Elementwise kernels read element i and then write element i, so an output may be the very same
// buffer as an input (in-place); a partial overlap would read already-written values.
inline void check_same_or_disjoint(const char* op, const char* arg_a, const Tensor& a,
                                   const char* arg_b, const Tensor& b) {
  if (a.raw_data() == b.raw_data() && a.nbytes() == b.nbytes()) return;
  check_no_alias(op, arg_a, a, arg_b, b);
}

}  // namespace corenn
