// Entry for embedding_forward / embedding_backward: checks, then the CPU kernel for the index type.
#include "ops/embedding.h"

#include <cmath>
#include <type_traits>

#include "ops/elementwise_common.h"
#ifdef CORENN_WITH_CUDA
#include "cuda/embedding.h"
#endif

namespace corenn {

namespace {

// The first bad index raises, naming it: a bad call must neither read nor write outside W / dW.
template <class I>
void check_index_values(const char* op, const I* idx, int64_t n, int64_t v) {
  for (int64_t i = 0; i < n; ++i) {
    const I x = idx[i];
    bool in_range;
    if constexpr (std::is_floating_point_v<I>) {
      CORENN_CHECK(std::isfinite(x) && x == std::floor(x), op, ": indices must be whole numbers, got ",
                   "indices[", i, "] = ", x, " (valid range [0, ", v, "))");
      in_range = x >= 0 && static_cast<double>(x) < static_cast<double>(v);
    } else {
      in_range = static_cast<int64_t>(x) >= 0 && static_cast<int64_t>(x) < v;
    }
    CORENN_CHECK(in_range, op, ": index out of range: indices[", i, "] = ", x,
                 ", valid range is [0, ", v, ") (input_dim ", v, ")");
  }
}

// Calls f(typed pointer) for the index dtype, after validating every value.
template <class F>
void with_indices(const char* op, const Tensor& indices, int64_t v, const F& f) {
  switch (indices.dtype()) {
    case DType::int32:
      check_index_values(op, indices.data<int32_t>(), indices.numel(), v);
      return f(indices.data<int32_t>());
    case DType::int64:
      check_index_values(op, indices.data<int64_t>(), indices.numel(), v);
      return f(indices.data<int64_t>());
    case DType::float32:
      check_index_values(op, indices.data<float>(), indices.numel(), v);
      return f(indices.data<float>());
  }
}

// Common checks: W / dW (V, D) float32; rows (indices..., D) float32 matching the indices' shape.
void check_args(const char* op, const Tensor& indices, const char* table_arg, const Tensor& table,
                const char* rows_arg, const Tensor& rows) {
  check_defined(op, "indices", indices);
  check_defined(op, table_arg, table);
  check_defined(op, rows_arg, rows);
  check_float32(op, table_arg, table);
  check_float32(op, rows_arg, rows);
  check_same_device(op, table_arg, table, "indices", indices);
  check_same_device(op, table_arg, table, rows_arg, rows);
  check_dim(op, table_arg, table, 2);
  CORENN_CHECK(table.size(0) > 0, op, ": ", table_arg, " must have at least one row (input_dim >= 1), ",
               "got shape ", table.shape_str());
  std::vector<int64_t> expected = indices.shape();
  expected.push_back(table.size(1));
  check_shape(op, rows_arg, rows, expected);
  check_no_alias(op, table_arg, table, rows_arg, rows);
  check_no_alias(op, "indices", indices, table_arg, table);
  check_no_alias(op, "indices", indices, rows_arg, rows);
}

}  // namespace

void embedding_forward(const Tensor& indices, const Tensor& weight, const Tensor& y) {
  const char* op = "embedding_forward";
  check_args(op, indices, "weight", weight, "y", y);
  check_writable(op, "y", y);
#ifdef CORENN_WITH_CUDA
  if (!weight.device().is_cpu()) return cuda::embedding_forward(indices, weight, y);
#endif
  check_cpu(op, "weight", weight);
  const int64_t v = weight.size(0), d = weight.size(1);
  with_indices(op, indices, v, [&](const auto* idx) {
    if (y.numel() == 0) return;
    cpu::embedding_forward(indices.numel(), d, idx, weight.data<float>(), y.data<float>());
  });
}

void embedding_backward(const Tensor& indices, const Tensor& dy, const Tensor& dweight) {
  const char* op = "embedding_backward";
  check_args(op, indices, "dweight", dweight, "dy", dy);
  check_writable(op, "dweight", dweight);
#ifdef CORENN_WITH_CUDA
  if (!dweight.device().is_cpu()) return cuda::embedding_backward(indices, dy, dweight);
#endif
  check_cpu(op, "dweight", dweight);
  const int64_t v = dweight.size(0), d = dweight.size(1);
  with_indices(op, indices, v, [&](const auto* idx) {
    if (dweight.numel() == 0) return;
    cpu::embedding_backward(indices.numel(), v, d, idx, dy.data<float>(), dweight.data<float>());
  });
}

}  // namespace corenn
