// Entry for activations: validate, view as (rows, cols), dispatch to the device kernel.
#include "ops/activation.h"

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(ActivationForwardFn, activation_forward_stub, "activation_forward");
CORENN_DEFINE_DISPATCH(ActivationBackwardFn, activation_backward_stub, "activation_backward");

namespace {

struct NamedActivation {
  const char* name;
  Activation act;
};

constexpr NamedActivation kActivations[] = {
    {"linear", Activation::linear},     {"relu", Activation::relu},
    {"leaky_relu", Activation::leaky_relu}, {"elu", Activation::elu},
    {"selu", Activation::selu},         {"sigmoid", Activation::sigmoid},
    {"tanh", Activation::tanh},         {"gelu", Activation::gelu},
    {"swish", Activation::swish},       {"softplus", Activation::softplus},
    {"softmax", Activation::softmax},   {"log_softmax", Activation::log_softmax},
    {"relu6", Activation::relu6},
    {"hard_sigmoid", Activation::hard_sigmoid}, {"hard_silu", Activation::hard_silu},
    {"mish", Activation::mish},                 {"softsign", Activation::softsign},
    {"log_sigmoid", Activation::log_sigmoid},   {"hard_tanh", Activation::hard_tanh},
    {"celu", Activation::celu},                 {"exponential", Activation::exponential},
    {"tanh_shrink", Activation::tanh_shrink},   {"soft_shrink", Activation::soft_shrink},
    {"hard_shrink", Activation::hard_shrink},   {"squareplus", Activation::squareplus},
    {"sparse_plus", Activation::sparse_plus},
};

}  // namespace

Activation activation_from_name(const std::string& name) {
  std::string valid;
  for (const auto& a : kActivations) {
    if (name == a.name) return a.act;
    valid += valid.empty() ? "" : ", ";
    valid += a.name;
  }
  throw Error("activation: unknown activation '" + name + "'; valid kinds are " + valid);
}

void activation_forward(const std::string& kind, const Tensor& x, const Tensor& y, float alpha) {
  const Activation act = activation_from_name(kind);
  const char* op = kind.c_str();
  check_float32(op, "x", x);
  check_float32(op, "y", y);
  check_writable(op, "y", y);
  check_same_shape(op, "x", x, "y", y);
  check_same_device(op, "x", x, "y", y);
  check_same_or_disjoint(op, "x", x, "y", y);
  if (x.numel() == 0) return;
  activation_forward_stub(x.device())(act, x, y, alpha);
}

void activation_backward(const std::string& kind, const Tensor& x, const Tensor& y,
                         const Tensor& dy, const Tensor& dx, float alpha) {
  const Activation act = activation_from_name(kind);
  const char* op = kind.c_str();
  check_float32(op, "x", x);
  check_float32(op, "y", y);
  check_float32(op, "dy", dy);
  check_float32(op, "dx", dx);
  check_writable(op, "dx", dx);
  check_same_shape(op, "x", x, "dy", dy);
  check_same_shape(op, "y", y, "dy", dy);
  check_same_shape(op, "dx", dx, "dy", dy);
  check_same_device(op, "x", x, "dy", dy);
  check_same_device(op, "y", y, "dy", dy);
  check_same_device(op, "dx", dx, "dy", dy);
  check_same_or_disjoint(op, "dx", dx, "dy", dy);
  check_same_or_disjoint(op, "dx", dx, "x", x);
  check_same_or_disjoint(op, "dx", dx, "y", y);
  if (dy.numel() == 0) return;
  activation_backward_stub(dy.device())(act, x, y, dy, dx, alpha);
}

}  // namespace corenn
