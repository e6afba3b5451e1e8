// Entry for RMS normalization: checks, then the CPU kernels of cpu/rms_norm.cpp. x is
// (leading..., trailing...) with norm_ndim trailing axes normalised together; gamma has the
// trailing shape, inv_rms is (R,) with R the product of the leading axes.
#include "ops/rms_norm.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(RmsNormForwardFn, rms_norm_forward_stub, "rms_norm_forward");
CORENN_DEFINE_DISPATCH(RmsNormBackwardFn, rms_norm_backward_stub, "rms_norm_backward");

namespace {

struct Rows {
  int64_t rows, d;
  std::vector<int64_t> trailing;
};

Rows split(const char* op, const Tensor& x, int64_t norm_ndim) {
  check_float32(op, "x", x);
  CORENN_CHECK(norm_ndim >= 1 && norm_ndim <= x.dim(), op, ": norm_ndim must be in [1, ", x.dim(),
               "] (the number of trailing axes of x ", x.shape_str(), " normalised), got ",
               norm_ndim);
  Rows r{1, 1, {}};
  for (int64_t a = 0; a < x.dim(); ++a) {
    if (a < x.dim() - norm_ndim) r.rows *= x.size(a);
    else r.d *= x.size(a), r.trailing.push_back(x.size(a));
  }
  CORENN_CHECK(r.d > 0 || r.rows == 0, op, ": x ", x.shape_str(),
               " has no features along its trailing ", norm_ndim, " axes to normalise");
  return r;
}

void check_features(const char* op, const char* arg, const std::optional<Tensor>& t,
                    const Tensor& x, const Rows& r) {
  if (!t) return;
  check_float32(op, arg, *t);
  check_shape(op, arg, *t, r.trailing);
  check_same_device(op, "x", x, arg, *t);
}

void check_stats(const char* op, const Tensor& t, const Tensor& x, const Rows& r) {
  check_float32(op, "inv_rms", t);
  CORENN_CHECK(t.dim() == 1 && t.size(0) == r.rows, op, ": inv_rms must have shape (", r.rows,
               ",) (one value per row of x ", x.shape_str(), "), got ", t.shape_str());
  check_same_device(op, "x", x, "inv_rms", t);
}

const float* ptr(const std::optional<Tensor>& t) { return t ? t->data<float>() : nullptr; }
float* wptr(const std::optional<Tensor>& t) { return t ? t->data<float>() : nullptr; }

}  // namespace

void rms_norm_forward(const Tensor& x, const std::optional<Tensor>& gamma, const Tensor& y,
                      const Tensor& inv_rms, int64_t norm_ndim, double epsilon) {
  const char* op = "rms_norm_forward";
  const Rows r = split(op, x, norm_ndim);
  rms_norm_forward_stub.check_device(x.device());
  check_float32(op, "y", y);
  check_same_shape(op, "x", x, "y", y);
  check_same_device(op, "x", x, "y", y);
  check_features(op, "gamma", gamma, x, r);
  check_stats(op, inv_rms, x, r);
  check_writable(op, "y", y);
  check_writable(op, "inv_rms", inv_rms);
  CORENN_CHECK(std::isfinite(epsilon) && epsilon > 0.0, op, ": epsilon must be > 0, got ", epsilon);
  // Each row is read whole before it is written, so y may be x itself; nothing else may overlap.
  check_same_or_disjoint(op, "x", x, "y", y);
  check_no_alias(op, "x", x, "inv_rms", inv_rms);
  check_no_alias(op, "y", y, "inv_rms", inv_rms);
  if (gamma) {
    check_no_alias(op, "gamma", *gamma, "inv_rms", inv_rms);
    check_no_alias(op, "gamma", *gamma, "y", y);
  }
  if (x.numel() == 0) return;
  rms_norm_forward_stub(x.device())(x.data<float>(), ptr(gamma), y.data<float>(),
                                    inv_rms.data<float>(), r.rows, r.d, epsilon);
}

void rms_norm_backward(const Tensor& dy, const Tensor& x, const std::optional<Tensor>& gamma,
                       const Tensor& inv_rms, const std::optional<Tensor>& dx,
                       const std::optional<Tensor>& dgamma, int64_t norm_ndim) {
  const char* op = "rms_norm_backward";
  const Rows r = split(op, x, norm_ndim);
  rms_norm_backward_stub.check_device(x.device());
  check_float32(op, "dy", dy);
  check_same_shape(op, "x", x, "dy", dy);
  check_same_device(op, "x", x, "dy", dy);
  check_features(op, "gamma", gamma, x, r);
  check_features(op, "dgamma", dgamma, x, r);
  check_stats(op, inv_rms, x, r);
  std::vector<std::pair<const char*, const Tensor*>> outs;
  if (dx) {
    check_float32(op, "dx", *dx);
    check_same_shape(op, "x", x, "dx", *dx);
    check_same_device(op, "x", x, "dx", *dx);
    check_writable(op, "dx", *dx);
    check_same_or_disjoint(op, "dy", dy, "dx", *dx);  // a row's sum is taken before it is written
    outs.push_back({"dx", &*dx});
  }
  if (dgamma) check_writable(op, "dgamma", *dgamma), outs.push_back({"dgamma", &*dgamma});
  std::vector<std::pair<const char*, const Tensor*>> ins{{"x", &x}, {"inv_rms", &inv_rms}};
  if (gamma) ins.push_back({"gamma", &*gamma});
  for (size_t i = 0; i < outs.size(); ++i) {
    for (const auto& [arg, t] : ins) check_no_alias(op, arg, *t, outs[i].first, *outs[i].second);
    if (outs[i].first != std::string("dx")) check_no_alias(op, "dy", dy, outs[i].first, *outs[i].second);
    for (size_t j = i + 1; j < outs.size(); ++j)
      check_no_alias(op, outs[i].first, *outs[i].second, outs[j].first, *outs[j].second);
  }
  if (r.rows == 0 || r.d == 0) {  // no rows: the weight gradient is a sum over nothing
    if (float* p = wptr(dgamma)) std::fill(p, p + r.d, 0.0f);
    return;
  }
  rms_norm_backward_stub(x.device())(dy.data<float>(), x.data<float>(), ptr(gamma),
                                     inv_rms.data<float>(), wptr(dx), wptr(dgamma), r.rows, r.d);
}

}  // namespace corenn
