// Entry for sum_n and scale: shapes, dtype, device, aliasing; see sum_n.h.
#include "ops/sum_n.h"

#include <string>

#include "ops/tensor_math_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(SumNFn, sum_n_stub, "sum_n");
CORENN_DEFINE_DISPATCH(ScaleFn, scale_stub, "scale");
CORENN_DEFINE_DISPATCH(SumNReluGradFn, sum_n_relu_grad_stub, "sum_n_relu_grad");

namespace {

// The inputs' data, each checked against tensors[0]'s shape and against `out` (same or disjoint).
template <class Stub>
std::vector<const float*> summands(const Stub& stub, const char* op,
                                   const std::vector<Tensor>& xs, const char* out_name,
                                   const Tensor& out) {
  CORENN_CHECK(!xs.empty(), op, ": needs at least one tensor to sum, got an empty list");
  std::vector<const float*> ptrs;
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::string arg = "tensors[" + std::to_string(i) + "]";
    check_float32_on(stub, op, arg.c_str(), xs[i]);
    CORENN_CHECK(xs[i].shape() == xs[0].shape(), op, ": every tensor must have the shape of ",
                 "tensors[0] ", xs[0].shape_str(), ", got ", arg, " of shape ", xs[i].shape_str());
    check_same_or_disjoint(op, out_name, out, arg.c_str(), xs[i]);
    ptrs.push_back(xs[i].data<float>());
  }
  return ptrs;
}

}  // namespace

void sum_n(const std::vector<Tensor>& xs, const Tensor& y) {
  const char* op = "sum_n";
  CORENN_CHECK(!xs.empty(), op, ": needs at least one tensor to sum, got an empty list");
  check_float32_on(sum_n_stub, op, "y", y);
  check_writable(op, "y", y);
  const std::vector<const float*> ptrs = summands(sum_n_stub, op, xs, "y", y);
  check_shape(op, "y", y, xs[0].shape());
  if (y.numel() == 0) return;
  sum_n_stub(y.device())(ptrs, y.data<float>(), y.numel());
}

void sum_n_relu_grad(const std::vector<Tensor>& dys, const Tensor& y, const Tensor& dz) {
  const char* op = "sum_n_relu_grad";
  CORENN_CHECK(!dys.empty(), op, ": needs at least one gradient to sum, got an empty list");
  check_float32_on(sum_n_relu_grad_stub, op, "dz", dz);
  check_float32_on(sum_n_relu_grad_stub, op, "y", y);
  check_writable(op, "dz", dz);
  const std::vector<const float*> ptrs = summands(sum_n_relu_grad_stub, op, dys, "dz", dz);
  check_shape(op, "y", y, dys[0].shape());
  check_shape(op, "dz", dz, dys[0].shape());
  check_same_or_disjoint(op, "dz", dz, "y", y);
  if (dz.numel() == 0) return;
  sum_n_relu_grad_stub(dz.device())(ptrs, y.data<float>(), dz.data<float>(), dz.numel());
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
