// Entry for loss_forward: shape / dtype checks with hints for the usual mistakes, then dispatch.
#include "ops/loss.h"

#include <algorithm>
#include <cmath>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(LossForwardFn, loss_forward_stub, "loss_forward");

namespace {

struct NamedLoss {
  const char* name;
  LossKind kind;
};

constexpr NamedLoss kLosses[] = {
    {"mean_squared_error", LossKind::mse},
    {"mean_absolute_error", LossKind::mae},
    {"huber", LossKind::huber},
    {"binary_crossentropy", LossKind::bce},
    {"categorical_crossentropy", LossKind::cce},
    {"sparse_categorical_crossentropy", LossKind::sparse_cce},
    {"kl_divergence", LossKind::kld},
    {"cosine_similarity", LossKind::cosine},
    {"hinge", LossKind::hinge},
    {"squared_hinge", LossKind::squared_hinge},
    {"categorical_hinge", LossKind::categorical_hinge},
    {"log_cosh", LossKind::log_cosh},
    {"poisson", LossKind::poisson},
    {"mean_squared_logarithmic_error", LossKind::msle},
    {"mean_absolute_percentage_error", LossKind::mape},
    {"binary_focal_crossentropy", LossKind::binary_focal},
    {"categorical_focal_crossentropy", LossKind::categorical_focal},
};

// The losses csrc/cuda/loss.cu implements; the others run on the CPU only.
bool has_cuda_kernel(LossKind k) { return k <= LossKind::sparse_cce; }

std::vector<int64_t> leading(const Tensor& t) {
  return std::vector<int64_t>(t.shape().begin(), t.shape().end() - 1);
}

// Labels are y_pred's shape without its last axis, optionally with a trailing 1: (N,) or (N, 1).
bool is_label_shape(const Tensor& labels, const Tensor& y_pred) {
  std::vector<int64_t> lead = leading(y_pred);
  if (labels.shape() == lead) return true;
  lead.push_back(1);
  return labels.shape() == lead;
}

void check_sparse_labels(const char* op, const Tensor& y_true, const Tensor& y_pred) {
  CORENN_CHECK_TYPE(y_true.dtype() != DType::float32, op,
                    ": y_true must hold integer class indices (int32 or int64), got float32; "
                    "pass labels.astype('int64'), or use categorical_crossentropy for one-hot "
                    "float targets");
  check_index_dtype(op, "y_true", y_true);
  if (is_label_shape(y_true, y_pred)) return;
  const bool flatten_hint = y_pred.dim() > 2 && y_true.dim() >= 1 && y_true.numel() == y_pred.size(0);
  CORENN_CHECK(false, op, ": y_true has shape ", y_true.shape_str(), " but y_pred has shape ",
               y_pred.shape_str(), "; expected labels of shape ", shape_str(leading(y_pred)),
               flatten_hint ? ". y_pred has more than 2 dims: add Flatten before Dense" : "");
}

}  // namespace

// Keras squeezes a trailing 1 when ranks differ by one (y_pred (N, 1) vs y_true (N,)): the same
// elements in the same order, so the kernels need nothing else.
bool same_up_to_trailing_one(const Tensor& a, const Tensor& b) {
  if (a.shape() == b.shape()) return true;
  const Tensor& longer = a.dim() > b.dim() ? a : b;
  const Tensor& shorter = a.dim() > b.dim() ? b : a;
  if (longer.dim() != shorter.dim() + 1 || longer.shape().back() != 1) return false;
  return std::equal(shorter.shape().begin(), shorter.shape().end(), longer.shape().begin());
}

namespace {

void check_dense_targets(const char* op, const Tensor& y_true, const Tensor& y_pred) {
  if (!same_up_to_trailing_one(y_true, y_pred)) {
    const bool labels_like = y_pred.dim() == 2 && y_pred.size(1) > 1 && is_label_shape(y_true, y_pred);
    const bool flatten_hint = y_pred.dim() > 2 && y_true.dim() >= 1 && y_true.dim() <= 2 &&
                              y_true.size(0) == y_pred.size(0);
    CORENN_CHECK(false, op, ": y_true has shape ", y_true.shape_str(), " but y_pred has shape ",
                 y_pred.shape_str(), "; they must match",
                 labels_like ? ". y_true looks like integer class labels: use "
                               "loss='sparse_categorical_crossentropy', or one-hot encode them "
                               "with corenn.utils.to_categorical" : "",
                 flatten_hint ? ". y_pred has more than 2 dims: add Flatten before Dense" : "");
  }
  CORENN_CHECK_TYPE(y_true.dtype() == DType::float32, op, ": y_true must be float32, got ",
                    dtype_name(y_true.dtype()), "; convert the targets with .astype('float32')");
}

}  // namespace

LossKind loss_from_name(const std::string& name) {
  std::string valid;
  for (const auto& l : kLosses) {
    if (name == l.name) return l.kind;
    valid += valid.empty() ? "" : ", ";
    valid += l.name;
  }
  throw Error("loss: unknown loss '" + name + "'; valid kinds are " + valid);
}

double loss_forward(const std::string& kind, const Tensor& y_pred, const Tensor& y_true,
                    const std::optional<Tensor>& grad, bool from_logits, double delta,
                    const std::optional<Tensor>& sample_weight,
                    const std::optional<Tensor>& per_sample, double focal_alpha, double focal_gamma,
                    bool class_balancing) {
  const LossKind k = loss_from_name(kind);
  const char* op = kind.c_str();
  check_float32(op, "y_pred", y_pred);
  check_defined(op, "y_true", y_true);
  check_min_dim(op, "y_pred", y_pred, 1);
  CORENN_CHECK(y_pred.numel() > 0, op, ": empty batch, y_pred has shape ", y_pred.shape_str());
  check_same_device(op, "y_pred", y_pred, "y_true", y_true);
  if (!has_cuda_kernel(k) || per_sample) check_cpu(op, "y_pred", y_pred);
  if (k == LossKind::sparse_cce) check_sparse_labels(op, y_true, y_pred);
  else check_dense_targets(op, y_true, y_pred);
  if (k == LossKind::huber) {
    CORENN_CHECK(std::isfinite(delta) && delta > 0.0, op, ": delta must be > 0, got ", delta);
  }

  if (k == LossKind::binary_focal || k == LossKind::categorical_focal) {
    CORENN_CHECK(std::isfinite(focal_gamma) && focal_gamma >= 0.0, op, ": gamma must be >= 0, got ",
                 focal_gamma);
    CORENN_CHECK(std::isfinite(focal_alpha), op, ": alpha must be finite, got ", focal_alpha);
  }

  cpu::LossProblem pb;
  pb.kind = k;
  pb.focal_alpha = focal_alpha;
  pb.focal_gamma = focal_gamma;
  pb.class_balancing = class_balancing;
  pb.pred = y_pred.data<float>();
  pb.rows = y_pred.rows();
  pb.cols = y_pred.cols();
  pb.from_logits = from_logits;
  pb.delta = delta;
  if (k != LossKind::sparse_cce) pb.target = y_true.data<float>();
  if (k == LossKind::hinge || k == LossKind::squared_hinge)
    pb.hinge_pm1 = cpu::all_zero_or_one(pb.target, y_true.numel());
  else if (y_true.dtype() == DType::int32) pb.labels32 = y_true.data<int32_t>();
  else pb.labels64 = y_true.data<int64_t>();

  if (sample_weight) {
    const Tensor& sw = *sample_weight;
    check_float32(op, "sample_weight", sw);
    check_same_device(op, "y_pred", y_pred, "sample_weight", sw);
    CORENN_CHECK(sw.numel() == pb.rows && sw.dim() >= 1 && sw.size(0) == pb.rows &&
                     (sw.dim() == 1 || sw.numel() == sw.size(0)),
                 op, ": sample_weight must have shape (", pb.rows, ",) (one weight per sample of "
                 "y_pred ", y_pred.shape_str(), "), got ", sw.shape_str());
    pb.weight = sw.data<float>();
  }
  if (grad) {
    check_float32(op, "grad", *grad);
    check_writable(op, "grad", *grad);
    check_same_shape(op, "y_pred", y_pred, "grad", *grad);
    check_same_device(op, "y_pred", y_pred, "grad", *grad);
    check_no_alias(op, "grad", *grad, "y_pred", y_pred);
    check_no_alias(op, "grad", *grad, "y_true", y_true);
    if (sample_weight) check_no_alias(op, "grad", *grad, "sample_weight", *sample_weight);
    pb.grad = grad->data<float>();
  }
  if (per_sample) {
    const Tensor& ps = *per_sample;
    check_float32(op, "per_sample", ps);
    check_cpu(op, "per_sample", ps);
    check_writable(op, "per_sample", ps);
    CORENN_CHECK(ps.numel() == pb.rows, op, ": per_sample must hold one value per row of y_pred ",
                 y_pred.shape_str(), " (", pb.rows, " values), got shape ", ps.shape_str());
    check_no_alias(op, "per_sample", ps, "y_pred", y_pred);
    check_no_alias(op, "per_sample", ps, "y_true", y_true);
    if (grad) check_no_alias(op, "per_sample", ps, "grad", *grad);
    pb.per_sample = ps.data<float>();
  }

  const cpu::LossResult r = loss_forward_stub(y_pred.device())(pb, y_pred);
  if (r.bad_row >= 0 && k == LossKind::sparse_cce) {
    throw Error(detail::str_cat(op, ": label ", r.bad_label, " at row ", r.bad_row,
                                " is out of range for ", pb.cols, " classes (valid: 0..",
                                pb.cols - 1, ")"));
  }
  CORENN_CHECK(r.bad_row < 0, op, ": y_true has NaN at row ", r.bad_row,
               "; the targets must be finite");
  return r.value;
}

}  // namespace corenn
