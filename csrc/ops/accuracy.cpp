// Entry for accuracy_count: checks, then one of three counting kernels.
#include "ops/accuracy.h"

#include "ops/elementwise_common.h"
#include "ops/loss.h"
#ifdef CORENN_WITH_CUDA
#include "cuda/accuracy.h"
#endif

namespace corenn {

namespace {

bool is_label_shape(const Tensor& labels, const Tensor& y_pred) {
  std::vector<int64_t> lead(y_pred.shape().begin(), y_pred.shape().end() - 1);
  if (labels.shape() == lead) return true;
  lead.push_back(1);
  return labels.shape() == lead;
}

int64_t sparse_categorical(const char* op, const Tensor& y_pred, const Tensor& y_true) {
  CORENN_CHECK_TYPE(y_true.dtype() != DType::float32, op,
                    ": sparse_categorical needs integer class labels (int32 or int64), got "
                    "float32; use labels.astype('int64') or the 'categorical' kind for one-hot");
  check_index_dtype(op, "y_true", y_true);
  CORENN_CHECK(is_label_shape(y_true, y_pred), op, ": y_true has shape ", y_true.shape_str(),
               " but y_pred has shape ", y_pred.shape_str(), "; expected labels of shape (",
               y_pred.rows(), ",) or (", y_pred.rows(), ", 1)");
#ifdef CORENN_WITH_CUDA
  if (!y_pred.device().is_cpu()) {
    const cuda::Hits h = cuda::sparse_categorical_hits(y_pred, y_pred.data<float>(), y_true.raw_data(),
                                                       y_true.dtype() == DType::int32,
                                                       y_pred.rows(), y_pred.cols());
    CORENN_CHECK(h.bad_row < 0, op, ": label ", h.bad_label, " at row ", h.bad_row,
                 " is out of range for ", y_pred.cols(), " classes");
    return h.hits;
  }
#endif
  const int64_t r = y_true.dtype() == DType::int32
      ? cpu::sparse_categorical_hits(y_pred.data<float>(), y_true.data<int32_t>(), y_pred.rows(), y_pred.cols())
      : cpu::sparse_categorical_hits(y_pred.data<float>(), y_true.data<int64_t>(), y_pred.rows(), y_pred.cols());
  if (r < 0) {
    const int64_t row = -1 - r;
    const int64_t label = y_true.dtype() == DType::int32 ? y_true.data<int32_t>()[row]
                                                          : y_true.data<int64_t>()[row];
    throw Error(detail::str_cat(op, ": label ", label, " at row ", row, " is out of range for ",
                                y_pred.cols(), " classes"));
  }
  return r;
}

}  // namespace

int64_t accuracy_count(const std::string& kind, const Tensor& y_pred, const Tensor& y_true,
                       double threshold) {
  const char* op = "accuracy";
  CORENN_CHECK(kind == "sparse_categorical" || kind == "categorical" || kind == "binary", op,
               ": unknown kind '", kind, "'; valid kinds are sparse_categorical, categorical, binary");
  check_float32(op, "y_pred", y_pred);
  check_defined(op, "y_true", y_true);
  check_min_dim(op, "y_pred", y_pred, 1);
  check_same_device(op, "y_pred", y_pred, "y_true", y_true);
#ifndef CORENN_WITH_CUDA
  check_cpu(op, "y_pred", y_pred);
#endif
  if (kind == "sparse_categorical") {
    if (y_pred.numel() == 0) return 0;
    return sparse_categorical(op, y_pred, y_true);
  }
  if (kind == "binary") {
    CORENN_CHECK(same_up_to_trailing_one(y_pred, y_true), op, ": y_pred has shape ",
                 y_pred.shape_str(), " but y_true has shape ", y_true.shape_str(),
                 "; binary accuracy compares them element by element");
  } else {
    check_same_shape(op, "y_pred", y_pred, "y_true", y_true);
  }
  CORENN_CHECK_TYPE(y_true.dtype() == DType::float32, op, ": y_true must be float32 for kind '",
                    kind, "', got ", dtype_name(y_true.dtype()), "; use .astype('float32')");
  if (y_pred.numel() == 0) return 0;
#ifdef CORENN_WITH_CUDA
  if (!y_pred.device().is_cpu()) {
    if (kind == "categorical")
      return cuda::categorical_hits(y_pred, y_pred.data<float>(), y_true.data<float>(),
                                    y_pred.rows(), y_pred.cols());
    return cuda::binary_hits(y_pred, y_pred.data<float>(), y_true.data<float>(), y_pred.numel(),
                             static_cast<float>(threshold));
  }
#endif
  if (kind == "categorical") {
    return cpu::categorical_hits(y_pred.data<float>(), y_true.data<float>(), y_pred.rows(), y_pred.cols());
  }
  return cpu::binary_hits(y_pred.data<float>(), y_true.data<float>(), y_pred.numel(),
                          static_cast<float>(threshold));
}

}  // namespace corenn
