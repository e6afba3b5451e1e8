// Entries for accuracy_count and confusion_counts: checks, then the counting kernels.
#include "ops/accuracy.h"

#include "ops/elementwise_common.h"
#include "ops/loss.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(SparseCategoricalHitsFn, sparse_categorical_hits_stub,
                       "sparse_categorical_hits");
CORENN_DEFINE_DISPATCH(CategoricalHitsFn, categorical_hits_stub, "categorical_hits");
CORENN_DEFINE_DISPATCH(BinaryHitsFn, binary_hits_stub, "binary_hits");
CORENN_DEFINE_DISPATCH(TopKHitsFn, top_k_hits_stub, "top_k_hits");
CORENN_DEFINE_DISPATCH(ConfusionCountsFn, confusion_counts_stub, "confusion_counts");

namespace {

bool is_label_shape(const Tensor& labels, const Tensor& y_pred) {
  std::vector<int64_t> lead(y_pred.shape().begin(), y_pred.shape().end() - 1);
  if (labels.shape() == lead) return true;
  lead.push_back(1);
  return labels.shape() == lead;
}

// prod(shape[:-1]): Tensor::rows() divides by the last axis, which may be 0 here.
int64_t lead_rows(const Tensor& t) {
  int64_t n = 1;
  for (int64_t d = 0; d + 1 < t.dim(); ++d) n *= t.size(d);
  return n;
}

void throw_bad_label(const char* op, const Tensor& y_pred, const Tensor& y_true, int64_t r) {
  const int64_t row = -1 - r;
  const int64_t label = y_true.dtype() == DType::int32 ? y_true.data<int32_t>()[row]
                                                        : y_true.data<int64_t>()[row];
  throw Error(detail::str_cat("accuracy: label ", label, " at row ", row, " is out of range for ",
                              y_pred.cols(), " classes"));
}

void check_labels(const char* op, const Tensor& y_pred, const Tensor& y_true, const char* kind) {
  CORENN_CHECK_TYPE(y_true.dtype() != DType::float32, op, ": ", kind,
                    " needs integer class labels (int32 or int64), got "
                    "float32; use labels.astype('int64') or the dense kind for one-hot targets");
  check_index_dtype(op, "y_true", y_true);
  CORENN_CHECK(is_label_shape(y_true, y_pred), op, ": y_true has shape ", y_true.shape_str(),
               " but y_pred has shape ", y_pred.shape_str(), "; expected labels of y_pred's shape "
               "without its last axis (", lead_rows(y_pred), " labels), optionally with a trailing 1");
}

int64_t sparse_categorical(const char* op, const Tensor& y_pred, const Tensor& y_true, float* per_row) {
  check_labels(op, y_pred, y_true, "sparse_categorical");
  const AccuracyHits h = sparse_categorical_hits_stub(y_pred.device())(
      y_pred, y_pred.data<float>(), y_true.raw_data(), y_true.dtype() == DType::int32,
      y_pred.rows(), y_pred.cols(), per_row);
  CORENN_CHECK(h.bad_row < 0, op, ": label ", h.bad_label, " at row ", h.bad_row,
               " is out of range for ", y_pred.cols(), " classes");
  return h.hits;
}

}  // namespace

int64_t accuracy_count(const std::string& kind, const Tensor& y_pred, const Tensor& y_true,
                       double threshold, int64_t k, const std::optional<Tensor>& per_row) {
  const char* op = "accuracy";
  const bool top_k = kind == "top_k" || kind == "sparse_top_k";
  CORENN_CHECK(kind == "sparse_categorical" || kind == "categorical" || kind == "binary" || top_k, op,
               ": unknown kind '", kind, "'; valid kinds are sparse_categorical, categorical, binary, "
               "top_k, sparse_top_k");
  check_float32(op, "y_pred", y_pred);
  check_defined(op, "y_true", y_true);
  check_min_dim(op, "y_pred", y_pred, 1);
  check_same_device(op, "y_pred", y_pred, "y_true", y_true);
  float* rows_out = nullptr;
  if (per_row) {
    check_cpu(op, "y_pred", y_pred);
    check_float32(op, "per_row", *per_row);
    check_cpu(op, "per_row", *per_row);
    check_writable(op, "per_row", *per_row);
    CORENN_CHECK(per_row->numel() == lead_rows(y_pred), op, ": per_row must hold one value per row of "
                 "y_pred ", y_pred.shape_str(), " (", lead_rows(y_pred), " values), got shape ",
                 per_row->shape_str());
    check_no_alias(op, "per_row", *per_row, "y_pred", y_pred);
    check_no_alias(op, "per_row", *per_row, "y_true", y_true);
    rows_out = per_row->data<float>();
  }
  if (top_k) {
    top_k_hits_stub.check_device(y_pred.device());
    CORENN_CHECK(k >= 1, op, ": k must be >= 1, got ", k);
    if (kind == "sparse_top_k") check_labels(op, y_pred, y_true, "sparse_top_k");
    else check_same_shape(op, "y_pred", y_pred, "y_true", y_true);
    if (kind == "top_k") {
      CORENN_CHECK_TYPE(y_true.dtype() == DType::float32, op, ": y_true must be float32 for kind "
                        "'top_k' (one-hot targets), got ", dtype_name(y_true.dtype()));
    }
    if (y_pred.numel() == 0) return 0;
    const float* p = y_pred.data<float>();
    const bool dense = kind == "top_k", i32 = !dense && y_true.dtype() == DType::int32;
    const int64_t r = top_k_hits_stub(y_pred.device())(
        p, i32 ? y_true.data<int32_t>() : nullptr, dense || i32 ? nullptr : y_true.data<int64_t>(),
        dense ? y_true.data<float>() : nullptr, y_pred.rows(), y_pred.cols(), k, rows_out);
    if (r < 0) throw_bad_label(op, y_pred, y_true, r);
    return r;
  }
  if (kind == "sparse_categorical") {
    if (y_pred.numel() == 0) return 0;
    return sparse_categorical(op, y_pred, y_true, rows_out);
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
  if (kind == "categorical") {
    return categorical_hits_stub(y_pred.device())(y_pred, y_pred.data<float>(),
                                                  y_true.data<float>(), y_pred.rows(),
                                                  y_pred.cols(), rows_out);
  }
  return binary_hits_stub(y_pred.device())(y_pred, y_pred.data<float>(), y_true.data<float>(),
                                           y_pred.rows(), y_pred.cols(),
                                           static_cast<float>(threshold), rows_out);
}

std::vector<double> confusion_counts(const Tensor& y_pred, const Tensor& y_true,
                                     const std::vector<float>& thresholds, bool soft_labels,
                                     const std::optional<Tensor>& sample_weight) {
  const char* op = "confusion_counts";
  check_float32(op, "y_pred", y_pred);
  check_defined(op, "y_true", y_true);
  confusion_counts_stub.check_device(y_pred.device());
  confusion_counts_stub.check_device(y_true.device());
  CORENN_CHECK(same_up_to_trailing_one(y_pred, y_true), op, ": y_pred has shape ",
               y_pred.shape_str(), " but y_true has shape ", y_true.shape_str(),
               "; the counts compare them element by element");
  CORENN_CHECK_TYPE(y_true.dtype() == DType::float32, op, ": y_true must be float32, got ",
                    dtype_name(y_true.dtype()), "; use .astype('float32')");
  CORENN_CHECK(!thresholds.empty(), op, ": at least one threshold is needed");
  for (size_t t = 0; t < thresholds.size(); ++t) {
    CORENN_CHECK(!(thresholds[t] != thresholds[t]), op, ": threshold ", t, " is NaN");
    CORENN_CHECK(t == 0 || thresholds[t - 1] <= thresholds[t], op,
                 ": thresholds must be ascending, got ", thresholds[t - 1], " before ", thresholds[t]);
  }
  const int64_t n = y_pred.numel();
  const int64_t cols = y_pred.dim() <= 1 ? 1 : std::max<int64_t>(1, y_pred.shape().back());
  const float* w = nullptr;
  if (sample_weight) {
    const Tensor& sw = *sample_weight;
    check_float32(op, "sample_weight", sw);
    confusion_counts_stub.check_device(sw.device());
    const int64_t rows = cols ? n / cols : 0;
    CORENN_CHECK(sw.numel() == rows, op, ": sample_weight must have one weight per sample (", rows,
                 " for y_pred ", y_pred.shape_str(), "), got shape ", sw.shape_str());
    w = sw.data<float>();
  }
  const int64_t T = static_cast<int64_t>(thresholds.size());
  std::vector<double> out(static_cast<size_t>(4 * T), 0.0);
  if (n > 0)
    confusion_counts_stub(y_pred.device())(y_pred.data<float>(), y_true.data<float>(), n, cols, w,
                                           thresholds.data(), T, soft_labels, out.data());
  return out;
}

}  // namespace corenn
