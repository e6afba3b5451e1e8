// Entry for reduce_forward / reduce_backward: kind, axes, shapes, dtype, device; see reduce.h.
#include "ops/reduce.h"

#include "ops/tensor_math_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(ReduceForwardFn, reduce_forward_stub, "reduce_forward");
CORENN_DEFINE_DISPATCH(ReduceBackwardFn, reduce_backward_stub, "reduce_backward");

ReduceKind reduce_kind_from_name(const char* op, const std::string& name) {
  if (name == "sum") return ReduceKind::sum;
  if (name == "mean") return ReduceKind::mean;
  if (name == "max") return ReduceKind::max;
  if (name == "min") return ReduceKind::min;
  throw Error(detail::str_cat(op, ": unknown reduction '", name.substr(0, 60),
                              "'; valid kinds are sum, mean, max, min"));
}

std::vector<int64_t> reduce_output_shape(const std::string& op, const std::vector<int64_t>& shape,
                                         const std::vector<int64_t>& axes, bool keepdims) {
  return reduced_shape(shape, reduced_axes(op.c_str(), static_cast<int64_t>(shape.size()), axes),
                       keepdims);
}

namespace {
// max / min of an empty slice has no value (NumPy raises too); an empty y needs none.
void check_has_identity(const char* op, ReduceKind kind, const Tensor& x,
                        const std::vector<int64_t>& y_shape) {
  if (kind != ReduceKind::max && kind != ReduceKind::min) return;
  int64_t y_numel = 1;
  for (const int64_t d : y_shape) y_numel *= d;
  CORENN_CHECK(x.numel() > 0 || y_numel == 0, op, ": ", kind == ReduceKind::max ? "max" : "min",
               " over an empty axis of x ", x.shape_str(), " has no value");
}
}  // namespace

void reduce_forward(const std::string& kind_name, const Tensor& x,
                    const std::vector<int64_t>& axes, bool keepdims, const Tensor& y) {
  const char* op = "reduce_forward";
  const ReduceKind kind = reduce_kind_from_name(op, kind_name);
  check_float32_on(reduce_forward_stub, op, "x", x);
  check_float32_on(reduce_forward_stub, op, "y", y);
  check_writable(op, "y", y);
  const std::vector<bool> flags = reduced_axes(op, x.dim(), axes);
  const std::vector<int64_t> shape = reduced_shape(x.shape(), flags, keepdims);
  check_shape(op, "y", y, shape);
  check_no_alias(op, "x", x, "y", y);
  check_has_identity(op, kind, x, shape);
  if (y.numel() == 0) return;
  reduce_forward_stub(x.device())(kind, x.data<float>(), x.shape(), flags, y.data<float>());
}

void reduce_backward(const std::string& kind_name, const Tensor& x, const std::optional<Tensor>& y,
                     const Tensor& dy, const std::vector<int64_t>& axes, bool keepdims,
                     const Tensor& dx) {
  const char* op = "reduce_backward";
  const ReduceKind kind = reduce_kind_from_name(op, kind_name);
  const bool needs_y = kind == ReduceKind::max || kind == ReduceKind::min;
  check_float32_on(reduce_backward_stub, op, "x", x);
  check_float32_on(reduce_backward_stub, op, "dy", dy);
  check_float32_on(reduce_backward_stub, op, "dx", dx);
  check_writable(op, "dx", dx);
  const std::vector<bool> flags = reduced_axes(op, x.dim(), axes);
  const std::vector<int64_t> shape = reduced_shape(x.shape(), flags, keepdims);
  check_shape(op, "dy", dy, shape);
  check_shape(op, "dx", dx, x.shape());
  CORENN_CHECK(!needs_y || y.has_value(), op, ": ", kind_name,
               " needs y, the forward's output, to find the extreme positions");
  if (y) {  // read by max / min only, but a given y must still be the forward's output
    check_float32_on(reduce_backward_stub, op, "y", *y);
    check_shape(op, "y", *y, shape);
    check_no_alias(op, "dx", dx, "y", *y);
  }
  check_no_alias(op, "dx", dx, "x", x);
  check_no_alias(op, "dx", dx, "dy", dy);
  if (dx.numel() == 0) return;
  reduce_backward_stub(x.device())(kind, x.data<float>(), needs_y ? y->data<float>() : nullptr,
                                   dy.data<float>(), x.shape(), flags, dx.data<float>());
}

}  // namespace corenn
