// The shared checks of ops/layer_norm and ops/rms_norm (trailing_norm_common.h).
#include "ops/trailing_norm_common.h"

#include <cmath>

#include "ops/elementwise_common.h"

namespace corenn {

namespace {

NormRows split(const char* op, const Tensor& x, int64_t norm_ndim) {
  check_float32(op, "x", x);
  CORENN_CHECK(norm_ndim >= 1 && norm_ndim <= x.dim(), op, ": norm_ndim must be in [1, ", x.dim(),
               "] (the number of trailing axes of x ", x.shape_str(), " normalised), got ",
               norm_ndim);
  NormRows r{1, 1, {}};
  for (int64_t a = 0; a < x.dim(); ++a) {
    if (a < x.dim() - norm_ndim) r.rows *= x.size(a);
    else r.d *= x.size(a), r.trailing.push_back(x.size(a));
  }
  CORENN_CHECK(r.d > 0 || r.rows == 0, op, ": x ", x.shape_str(),
               " has no features along its trailing ", norm_ndim, " axes to normalise");
  return r;
}

void check_features(const char* op, const NamedTensor& t, const Tensor& x, const NormRows& r) {
  if (!t.second) return;
  check_float32(op, t.first, *t.second);
  check_shape(op, t.first, *t.second, r.trailing);
  check_same_device(op, "x", x, t.first, *t.second);
}

void check_stats(const char* op, const NamedTensor& t, const Tensor& x, const NormRows& r) {
  check_float32(op, t.first, *t.second);
  CORENN_CHECK(t.second->dim() == 1 && t.second->size(0) == r.rows, op, ": ", t.first,
               " must have shape (", r.rows, ",) (one value per row of x ", x.shape_str(),
               "), got ", t.second->shape_str());
  check_same_device(op, "x", x, t.first, *t.second);
}

// An output shaped like x: float32, on x's device, writable.
void check_like_x(const char* op, const char* arg, const Tensor& t, const Tensor& x) {
  check_float32(op, arg, t);
  check_same_shape(op, "x", x, arg, t);
  check_same_device(op, "x", x, arg, t);
}

}  // namespace

NormRows check_trailing_norm_forward(const char* op, const Tensor& x, const Tensor& y,
                                     std::initializer_list<NamedTensor> params,
                                     std::initializer_list<NamedTensor> stats, int64_t norm_ndim,
                                     double epsilon) {
  const NormRows r = split(op, x, norm_ndim);
  check_like_x(op, "y", y, x);
  for (const NamedTensor& p : params) check_features(op, p, x, r);
  for (const NamedTensor& s : stats) check_stats(op, s, x, r);
  check_writable(op, "y", y);
  for (const NamedTensor& s : stats) check_writable(op, s.first, *s.second);
  CORENN_CHECK(std::isfinite(epsilon) && epsilon > 0.0, op, ": epsilon must be > 0, got ", epsilon);
  // Each row is read whole before it is written, so y may be x itself; nothing else may overlap.
  check_same_or_disjoint(op, "x", x, "y", y);
  for (auto s = stats.begin(); s != stats.end(); ++s) {
    for (auto t = s + 1; t != stats.end(); ++t)
      check_no_alias(op, s->first, *s->second, t->first, *t->second);
    check_no_alias(op, "x", x, s->first, *s->second);
    check_no_alias(op, "y", y, s->first, *s->second);
    for (const NamedTensor& p : params)
      if (p.second) check_no_alias(op, p.first, *p.second, s->first, *s->second);
  }
  for (const NamedTensor& p : params)
    if (p.second) check_no_alias(op, p.first, *p.second, "y", y);
  return r;
}

NormRows check_trailing_norm_backward(const char* op, const Tensor& dy, const Tensor& x,
                                      const Tensor* gamma, std::initializer_list<NamedTensor> stats,
                                      const Tensor* dx,
                                      std::initializer_list<NamedTensor> feature_grads,
                                      int64_t norm_ndim) {
  const NormRows r = split(op, x, norm_ndim);
  check_like_x(op, "dy", dy, x);
  check_features(op, {"gamma", gamma}, x, r);
  for (const NamedTensor& g : feature_grads) check_features(op, g, x, r);
  for (const NamedTensor& s : stats) check_stats(op, s, x, r);
  std::vector<NamedTensor> outs;
  if (dx) {
    check_like_x(op, "dx", *dx, x);
    check_writable(op, "dx", *dx);
    check_same_or_disjoint(op, "dy", dy, "dx", *dx);  // a row's sums are taken before it is written
    outs.push_back({"dx", dx});
  }
  for (const NamedTensor& g : feature_grads) {
    if (!g.second) continue;
    check_writable(op, g.first, *g.second);
    outs.push_back(g);
  }
  std::vector<NamedTensor> ins{{"x", &x}};
  ins.insert(ins.end(), stats.begin(), stats.end());
  if (gamma) ins.push_back({"gamma", gamma});
  for (size_t i = 0; i < outs.size(); ++i) {
    for (const NamedTensor& in : ins) check_no_alias(op, in.first, *in.second, outs[i].first, *outs[i].second);
    if (outs[i].second != dx) check_no_alias(op, "dy", dy, outs[i].first, *outs[i].second);
    for (size_t j = i + 1; j < outs.size(); ++j)
      check_no_alias(op, outs[i].first, *outs[i].second, outs[j].first, *outs[j].second);
  }
  return r;
}

}  // namespace corenn
