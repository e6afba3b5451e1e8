// Entry for unary_forward / unary_backward: kind, shapes, dtype, device, aliasing; see unary.h.
#include "ops/unary.h"

#include "ops/tensor_math_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(UnaryForwardFn, unary_forward_stub, "unary_forward");
CORENN_DEFINE_DISPATCH(UnaryBackwardFn, unary_backward_stub, "unary_backward");

UnaryKind unary_kind_from_name(const char* op, const std::string& name) {
  static const std::pair<const char*, UnaryKind> kinds[] = {
      {"exp", UnaryKind::exp},       {"log", UnaryKind::log},
      {"sqrt", UnaryKind::sqrt},     {"square", UnaryKind::square},
      {"abs", UnaryKind::abs},       {"negative", UnaryKind::negative},
      {"reciprocal", UnaryKind::reciprocal}, {"sin", UnaryKind::sin},
      {"cos", UnaryKind::cos}};
  for (const auto& k : kinds)
    if (name == k.first) return k.second;
  throw Error(detail::str_cat(op, ": unknown unary op '", name.substr(0, 60),
                              "'; valid kinds are exp, log, sqrt, square, abs, negative, "
                              "reciprocal, sin, cos"));
}

void unary_forward(const std::string& kind_name, const Tensor& x, const Tensor& y) {
  const char* op = "unary_forward";
  const UnaryKind kind = unary_kind_from_name(op, kind_name);
  check_float32_on(unary_forward_stub, op, "x", x);
  check_float32_on(unary_forward_stub, op, "y", y);
  check_writable(op, "y", y);
  check_same_shape(op, "x", x, "y", y);
  check_same_or_disjoint(op, "x", x, "y", y);
  if (x.numel() == 0) return;
  unary_forward_stub(x.device())(kind, x.data<float>(), y.data<float>(), x.numel());
}

void unary_backward(const std::string& kind_name, const Tensor& x, const Tensor& y,
                    const Tensor& dy, const Tensor& dx) {
  const char* op = "unary_backward";
  const UnaryKind kind = unary_kind_from_name(op, kind_name);
  check_float32_on(unary_backward_stub, op, "x", x);
  check_float32_on(unary_backward_stub, op, "y", y);
  check_float32_on(unary_backward_stub, op, "dy", dy);
  check_float32_on(unary_backward_stub, op, "dx", dx);
  check_writable(op, "dx", dx);
  check_same_shape(op, "x", x, "dy", dy);
  check_same_shape(op, "y", y, "dy", dy);
  check_same_shape(op, "dx", dx, "dy", dy);
  check_same_or_disjoint(op, "dx", dx, "dy", dy);
  check_same_or_disjoint(op, "dx", dx, "x", x);
  check_same_or_disjoint(op, "dx", dx, "y", y);
  if (dy.numel() == 0) return;
  unary_backward_stub(dy.device())(kind, x.data<float>(), y.data<float>(), dy.data<float>(),
                                   dx.data<float>(), dy.numel());
}

}  // namespace corenn
