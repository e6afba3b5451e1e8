// Entry for binary_forward / binary_backward: kind, broadcasting, dtype, device, aliasing; see
// binary.h.
#include "ops/binary.h"

#include "ops/tensor_math_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(BinaryForwardFn, binary_forward_stub, "binary_forward");
CORENN_DEFINE_DISPATCH(BinaryBackwardFn, binary_backward_stub, "binary_backward");

BinaryKind binary_kind_from_name(const char* op, const std::string& name) {
  static const std::pair<const char*, BinaryKind> kinds[] = {
      {"add", BinaryKind::add},         {"subtract", BinaryKind::subtract},
      {"multiply", BinaryKind::multiply}, {"divide", BinaryKind::divide},
      {"maximum", BinaryKind::maximum}, {"minimum", BinaryKind::minimum},
      {"power", BinaryKind::power}};
  for (const auto& k : kinds)
    if (name == k.first) return k.second;
  throw Error(detail::str_cat(op, ": unknown binary op '", name.substr(0, 60),
                              "'; valid kinds are add, subtract, multiply, divide, maximum, "
                              "minimum, power"));
}

std::vector<int64_t> binary_output_shape(const std::string& op, const std::vector<int64_t>& a,
                                         const std::vector<int64_t>& b) {
  return broadcast_shapes(op.c_str(), "a", a, "b", b);
}

void binary_forward(const std::string& kind_name, const Tensor& a, const Tensor& b,
                    const Tensor& y) {
  const char* op = "binary_forward";
  const BinaryKind kind = binary_kind_from_name(op, kind_name);
  check_float32_on(binary_forward_stub, op, "a", a);
  check_float32_on(binary_forward_stub, op, "b", b);
  check_float32_on(binary_forward_stub, op, "y", y);
  check_writable(op, "y", y);
  check_shape(op, "y", y, broadcast_shapes(op, "a", a.shape(), "b", b.shape()));
  check_same_or_disjoint(op, "y", y, "a", a);
  check_same_or_disjoint(op, "y", y, "b", b);
  if (y.numel() == 0) return;
  binary_forward_stub(y.device())(kind, a.data<float>(), a.shape(), b.data<float>(), b.shape(),
                                  y.data<float>(), y.shape());
}

void binary_backward(const std::string& kind_name, const Tensor& a, const Tensor& b,
                     const Tensor& dy, const std::optional<Tensor>& da,
                     const std::optional<Tensor>& db) {
  const char* op = "binary_backward";
  const BinaryKind kind = binary_kind_from_name(op, kind_name);
  check_float32_on(binary_backward_stub, op, "a", a);
  check_float32_on(binary_backward_stub, op, "b", b);
  check_float32_on(binary_backward_stub, op, "dy", dy);
  check_shape(op, "dy", dy, broadcast_shapes(op, "a", a.shape(), "b", b.shape()));
  const std::pair<const char*, const std::optional<Tensor>*> grads[] = {{"da", &da}, {"db", &db}};
  for (const auto& [name, g] : grads) {
    if (!g->has_value()) continue;
    check_float32_on(binary_backward_stub, op, name, **g);
    check_writable(op, name, **g);
    check_shape(op, name, **g, (name[1] == 'a' ? a : b).shape());
    check_no_alias(op, name, **g, "a", a);
    check_no_alias(op, name, **g, "b", b);
    check_no_alias(op, name, **g, "dy", dy);
  }
  if (da && db) check_no_alias(op, "da", *da, "db", *db);
  if (dy.numel() == 0) {  // nothing flows back; an operand broadcast over an empty axis gets 0
    for (const auto& [name, g] : grads)
      if (g->has_value()) std::fill((*g)->data<float>(), (*g)->data<float>() + (*g)->numel(), 0.0f);
    return;
  }
  binary_backward_stub(dy.device())(kind, a.data<float>(), a.shape(), b.data<float>(), b.shape(),
                                    dy.data<float>(), dy.shape(), da ? da->data<float>() : nullptr,
                                    db ? db->data<float>() : nullptr);
}

}  // namespace corenn
