// Entry for group normalization: checks, then the CPU kernels of cpu/group_norm.cpp. x is
// (N, ..., C, ...) with C at `axis`; gamma / beta are (C,), mean / inv_std are (N, groups).
#include "ops/group_norm.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(GroupNormForwardFn, group_norm_forward_stub, "group_norm_forward");
CORENN_DEFINE_DISPATCH(GroupNormBackwardFn, group_norm_backward_stub, "group_norm_backward");

namespace {

cpu::GroupNormShape split(const char* op, const Tensor& x, int64_t axis, int64_t groups) {
  check_float32(op, "x", x);
  CORENN_CHECK(x.dim() >= 2, op, ": x must have a batch axis and a channel axis, got shape ",
               x.shape_str());
  CORENN_CHECK(axis >= 1 && axis < x.dim(), op, ": axis must be in [1, ", x.dim() - 1,
               "] (the channel axis of x ", x.shape_str(), ", not the batch axis), got ", axis);
  const int64_t c = x.size(axis);
  CORENN_CHECK(groups >= 1 && groups <= std::max<int64_t>(c, 1) && c % groups == 0, op,
               ": groups must divide the ", c, " channels of x ", x.shape_str(), " (axis ", axis,
               "), got ", groups);
  cpu::GroupNormShape s{x.size(0), 1, c, 1, groups};
  for (int64_t d = 1; d < axis; ++d) s.a *= x.size(d);
  for (int64_t d = axis + 1; d < x.dim(); ++d) s.b *= x.size(d);
  return s;
}

void check_channels(const char* op, const char* arg, const std::optional<Tensor>& t,
                    const Tensor& x, const cpu::GroupNormShape& s) {
  if (!t) return;
  check_float32(op, arg, *t);
  check_shape(op, arg, *t, {s.c});
  check_same_device(op, "x", x, arg, *t);
}

void check_stats(const char* op, const char* arg, const Tensor& t, const Tensor& x,
                 const cpu::GroupNormShape& s) {
  check_float32(op, arg, t);
  CORENN_CHECK(t.dim() == 2 && t.size(0) == s.n && t.size(1) == s.groups, op, ": ", arg,
               " must have shape (", s.n, ", ", s.groups, ") (one value per sample and group of x ",
               x.shape_str(), "), got ", t.shape_str());
  check_same_device(op, "x", x, arg, t);
}

const float* ptr(const std::optional<Tensor>& t) { return t ? t->data<float>() : nullptr; }
float* wptr(const std::optional<Tensor>& t) { return t ? t->data<float>() : nullptr; }

using Named = std::pair<const char*, const Tensor*>;

}  // namespace

void group_norm_forward(const Tensor& x, const std::optional<Tensor>& gamma,
                        const std::optional<Tensor>& beta, const Tensor& y, const Tensor& mean,
                        const Tensor& inv_std, int64_t axis, int64_t groups, double epsilon) {
  const char* op = "group_norm_forward";
  const cpu::GroupNormShape s = split(op, x, axis, groups);
  group_norm_forward_stub.check_device(x.device());
  check_float32(op, "y", y);
  check_same_shape(op, "x", x, "y", y);
  check_same_device(op, "x", x, "y", y);
  check_channels(op, "gamma", gamma, x, s);
  check_channels(op, "beta", beta, x, s);
  check_stats(op, "mean", mean, x, s);
  check_stats(op, "inv_std", inv_std, x, s);
  check_writable(op, "y", y);
  check_writable(op, "mean", mean);
  check_writable(op, "inv_std", inv_std);
  CORENN_CHECK(std::isfinite(epsilon) && epsilon > 0.0, op, ": epsilon must be > 0, got ", epsilon);
  // A group is read whole (statistics) before it is written, so y may be x; nothing else may overlap.
  check_same_or_disjoint(op, "x", x, "y", y);
  check_no_alias(op, "mean", mean, "inv_std", inv_std);
  std::vector<Named> ins{{"x", &x}, {"y", &y}};
  if (gamma) ins.push_back({"gamma", &*gamma});
  if (beta) ins.push_back({"beta", &*beta});
  for (const Named& stat : {Named{"mean", &mean}, Named{"inv_std", &inv_std}})
    for (const auto& [arg, t] : ins) check_no_alias(op, arg, *t, stat.first, *stat.second);
  if (gamma) check_no_alias(op, "gamma", *gamma, "y", y);
  if (beta) check_no_alias(op, "beta", *beta, "y", y);
  if (x.numel() == 0) return;
  group_norm_forward_stub(x.device())(x.data<float>(), ptr(gamma), ptr(beta), y.data<float>(),
                                      mean.data<float>(), inv_std.data<float>(), s, epsilon);
}

void group_norm_backward(const Tensor& dy, const Tensor& x, const std::optional<Tensor>& gamma,
                         const Tensor& mean, const Tensor& inv_std, const std::optional<Tensor>& dx,
                         const std::optional<Tensor>& dgamma, const std::optional<Tensor>& dbeta,
                         int64_t axis, int64_t groups) {
  const char* op = "group_norm_backward";
  const cpu::GroupNormShape s = split(op, x, axis, groups);
  group_norm_backward_stub.check_device(x.device());
  check_float32(op, "dy", dy);
  check_same_shape(op, "x", x, "dy", dy);
  check_same_device(op, "x", x, "dy", dy);
  check_channels(op, "gamma", gamma, x, s);
  check_channels(op, "dgamma", dgamma, x, s);
  check_channels(op, "dbeta", dbeta, x, s);
  check_stats(op, "mean", mean, x, s);
  check_stats(op, "inv_std", inv_std, x, s);
  std::vector<Named> outs;
  if (dx) {
    check_float32(op, "dx", *dx);
    check_same_shape(op, "x", x, "dx", *dx);
    check_same_device(op, "x", x, "dx", *dx);
    check_writable(op, "dx", *dx);
    check_same_or_disjoint(op, "dy", dy, "dx", *dx);  // a group's sums are taken before it is written
    outs.push_back({"dx", &*dx});
  }
  if (dgamma) check_writable(op, "dgamma", *dgamma), outs.push_back({"dgamma", &*dgamma});
  if (dbeta) check_writable(op, "dbeta", *dbeta), outs.push_back({"dbeta", &*dbeta});
  std::vector<Named> ins{{"x", &x}, {"mean", &mean}, {"inv_std", &inv_std}};
  if (gamma) ins.push_back({"gamma", &*gamma});
  for (size_t i = 0; i < outs.size(); ++i) {
    for (const auto& [arg, t] : ins) check_no_alias(op, arg, *t, outs[i].first, *outs[i].second);
    if (outs[i].first != std::string("dx")) check_no_alias(op, "dy", dy, outs[i].first, *outs[i].second);
    for (size_t j = i + 1; j < outs.size(); ++j)
      check_no_alias(op, outs[i].first, *outs[i].second, outs[j].first, *outs[j].second);
  }
  if (x.numel() == 0) {  // no samples (or empty groups): the weight gradients are sums over nothing
    for (float* p : {wptr(dgamma), wptr(dbeta)})
      if (p) std::fill(p, p + s.c, 0.0f);
    return;
  }
  group_norm_backward_stub(x.device())(dy.data<float>(), x.data<float>(), ptr(gamma),
                                       mean.data<float>(), inv_std.data<float>(), wptr(dx),
                                       wptr(dgamma), wptr(dbeta), s);
}

}  // namespace corenn
