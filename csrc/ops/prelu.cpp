// prelu entries: check x / alpha / outputs, describe alpha's broadcast as a row layout, dispatch.
#include "ops/prelu.h"

#include <string>

#include "core/check.h"
#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(PreluForwardFn, prelu_forward_stub, "prelu_forward");
CORENN_DEFINE_DISPATCH(PreluBackwardFn, prelu_backward_stub, "prelu_backward");

namespace {

cpu::PreluLayout make_layout(const char* op, const Tensor& x, const Tensor& alpha) {
  check_float32(op, "x", x);
  check_float32(op, "alpha", alpha);
  check_min_dim(op, "x", x, 2);
  check_same_device(op, "x", x, "alpha", alpha);
  const int64_t k = x.dim() - 1;
  bool ok = alpha.dim() == k;
  for (int64_t i = 0; ok && i < k; ++i)
    ok = alpha.size(i) == x.size(i + 1) || alpha.size(i) == 1;
  CORENN_CHECK(ok, op, ": alpha ", alpha.shape_str(), " must have x's shape without the batch axis (",
               "size 1 on shared axes) for x ", x.shape_str());
  cpu::PreluLayout l;
  l.inner = x.size(k);
  l.inner_step = alpha.size(k - 1) == 1 ? 0 : 1;
  l.alpha_size = alpha.numel();
  l.rows = x.numel() / std::max<int64_t>(l.inner, 1);
  // alpha's row-major strides; broadcast axes (and the batch) step by 0
  std::vector<int64_t> astride(static_cast<size_t>(k), 1);
  for (int64_t i = k - 2; i >= 0; --i) astride[i] = astride[i + 1] * alpha.size(i + 1);
  l.outer_dims.push_back(x.size(0));
  l.outer_strides.push_back(0);
  for (int64_t i = 0; i + 1 < k; ++i) {
    l.outer_dims.push_back(x.size(i + 1));
    l.outer_strides.push_back(alpha.size(i) == 1 ? 0 : astride[i]);
  }
  return l;
}


}  // namespace

void prelu_forward(const Tensor& x, const Tensor& alpha, const Tensor& y) {
  constexpr const char* op = "prelu_forward";
  const cpu::PreluLayout l = make_layout(op, x, alpha);
  check_float32(op, "y", y);
  check_same_shape(op, "x", x, "y", y);
  check_same_device(op, "x", x, "y", y);
  check_writable(op, "y", y);
  check_no_alias(op, "y", y, "alpha", alpha);
  prelu_forward_stub(x.device())(l, x.data<float>(), alpha.data<float>(), y.data<float>());
}

void prelu_backward(const Tensor& x, const Tensor& alpha, const Tensor& dy,
                    const std::optional<Tensor>& dx, const std::optional<Tensor>& dalpha) {
  constexpr const char* op = "prelu_backward";
  const cpu::PreluLayout l = make_layout(op, x, alpha);
  check_float32(op, "dy", dy);
  check_same_shape(op, "x", x, "dy", dy);
  check_same_device(op, "x", x, "dy", dy);
  if (dx) {
    check_float32(op, "dx", *dx);
    check_same_shape(op, "x", x, "dx", *dx);
    check_same_device(op, "x", x, "dx", *dx);
    check_writable(op, "dx", *dx);
    check_no_alias(op, "dx", *dx, "alpha", alpha);
  }
  if (dalpha) {
    check_float32(op, "dalpha", *dalpha);
    check_same_shape(op, "alpha", alpha, "dalpha", *dalpha);
    check_same_device(op, "x", x, "dalpha", *dalpha);
    check_writable(op, "dalpha", *dalpha);
    check_no_alias(op, "dalpha", *dalpha, "x", x);
    check_no_alias(op, "dalpha", *dalpha, "dy", dy);
    check_no_alias(op, "dalpha", *dalpha, "alpha", alpha);
    if (dx) check_no_alias(op, "dalpha", *dalpha, "dx", *dx);
  }
  prelu_backward_stub(x.device())(l, x.data<float>(), alpha.data<float>(), dy.data<float>(),
                                  dx ? dx->data<float>() : nullptr,
                                  dalpha ? dalpha->data<float>() : nullptr);
}

}  // namespace corenn
