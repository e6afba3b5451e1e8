// Entry for sum_n and scale: shapes, dtype, device, aliasing; see sum_n.h.
#include "ops/sum_n.h"

#include <string>

#include "ops/tensor_math_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(SumNFn, sum_n_stub, "sum_n");
CORENN_DEFINE_DISPATCH(ScaleFn, scale_stub, "scale");

void sum_n(const std::vector<Tensor>& xs, const Tensor& y) {
  const char* op = "sum_n";
  CORENN_CHECK(!xs.empty(), op, ": needs at least one tensor to sum, got an empty list");
  check_float32_on(sum_n_stub, op, "y", y);
  check_writable(op, "y", y);
  std::vector<const float*> ptrs;
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::string arg = "tensors[" + std::to_string(i) + "]";
    check_float32_on(sum_n_stub, op, arg.c_str(), xs[i]);
    CORENN_CHECK(xs[i].shape() == xs[0].shape(), op, ": every tensor must have the shape of ",
                 "tensors[0] ", xs[0].shape_str(), ", got ", arg, " of shape ", xs[i].shape_str());
    check_same_or_disjoint(op, "y", y, arg.c_str(), xs[i]);
    ptrs.push_back(xs[i].data<float>());
  }
  check_shape(op, "y", y, xs[0].shape());
  if (y.numel() == 0) return;
  sum_n_stub(y.device())(ptrs, y.data<float>(), y.numel());
}

void scale(const Tensor& x, float alpha, const Tensor& y) {
  const char* op = "scale";
  check_float32_on(scale_stub, op, "x", x);
  check_float32_on(scale_stub, op, "y", y);
  check_writable(op, "y", y);
  check_same_shape(op, "x", x, "y", y);
  check_same_or_disjoint(op, "x", x, "y", y);
  if (x.numel() == 0) return;
  scale_stub(x.device())(x.data<float>(), alpha, y.data<float>(), x.numel());
}

}  // namespace corenn
