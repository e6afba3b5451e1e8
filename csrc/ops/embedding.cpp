// Entry for embedding_forward / embedding_backward: checks, then the CPU kernel for the index type.
#include "ops/embedding.h"

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(EmbeddingForwardFn, embedding_forward_stub, "embedding_forward");
CORENN_DEFINE_DISPATCH(EmbeddingBackwardFn, embedding_backward_stub, "embedding_backward");

namespace {

// Common checks: W / dW (V, D) float32 (forward: or int8); rows (indices..., D) float32 matching
// the indices' shape.
void check_args(const char* op, const Tensor& indices, const char* table_arg, const Tensor& table,
                const char* rows_arg, const Tensor& rows, bool int8_table = false) {
  check_defined(op, "indices", indices);
  check_defined(op, table_arg, table);
  check_defined(op, rows_arg, rows);
  // int32 / int64 ids, or float32 holding whole numbers (validated by the kernel)
  CORENN_CHECK_TYPE(is_compute_dtype(indices.dtype()), op, ": indices must be int32, int64 or "
                    "float32, got ", dtype_name(indices.dtype()));
  if (int8_table && table.dtype() == DType::int8) {
    // an int8-quantized Embedding's table (layers/quantization.py): rows widened to float32
    CORENN_CHECK_TYPE(table.device().type == DeviceType::cpu, op, ": an int8 ", table_arg,
                      " is read on the CPU only, got one on ", table.device().str());
  } else {
    CORENN_CHECK_TYPE(table.dtype() == DType::float32, op, ": ", table_arg, " must be float32",
                      int8_table ? " or int8" : "", ", got ", dtype_name(table.dtype()));
  }
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
  check_args(op, indices, "weight", weight, "y", y, /*int8_table=*/true);
  check_writable(op, "y", y);
  embedding_forward_stub(weight.device())(indices, weight, y);   // (an int8 table: CPU only, checked)
}

void embedding_backward(const Tensor& indices, const Tensor& dy, const Tensor& dweight) {
  const char* op = "embedding_backward";
  check_args(op, indices, "dweight", dweight, "dy", dy);
  check_writable(op, "dweight", dweight);
  embedding_backward_stub(dweight.device())(indices, dy, dweight);
}

}  // namespace corenn
