// Entry for unit (L2) normalization: checks, then the CPU kernels of cpu/unit_norm.cpp.
#include "ops/unit_norm.h"

#include <utility>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(UnitNormForwardFn, unit_norm_forward_stub, "unit_norm_forward");
CORENN_DEFINE_DISPATCH(UnitNormBackwardFn, unit_norm_backward_stub, "unit_norm_backward");

namespace {

struct Problem {
  int64_t r, d, b;
};

Problem split(const char* op, const Tensor& x, int64_t first_axis, int64_t num_axes) {
  check_float32(op, "x", x);
  CORENN_CHECK(num_axes >= 1 && first_axis >= 0 && first_axis + num_axes <= x.dim(), op,
               ": the normalised axes [", first_axis, ", ", first_axis + num_axes,
               ") must lie within the ", x.dim(), " axes of x ", x.shape_str());
  Problem p{1, 1, 1};
  for (int64_t a = 0; a < x.dim(); ++a) {
    if (a < first_axis) p.r *= x.size(a);
    else if (a < first_axis + num_axes) p.d *= x.size(a);
    else p.b *= x.size(a);
  }
  return p;
}

}  // namespace

void unit_norm_forward(const Tensor& x, const Tensor& y, int64_t first_axis, int64_t num_axes) {
  const char* op = "unit_norm_forward";
  const Problem p = split(op, x, first_axis, num_axes);
  unit_norm_forward_stub.check_device(x.device());
  check_float32(op, "y", y);
  check_same_shape(op, "x", x, "y", y);
  check_same_device(op, "x", x, "y", y);
  check_writable(op, "y", y);
  check_same_or_disjoint(op, "x", x, "y", y);  // a slice's norm is taken before it is written
  if (x.numel() == 0) return;
  unit_norm_forward_stub(x.device())(x.data<float>(), y.data<float>(), p.r, p.d, p.b);
}

void unit_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& dx, int64_t first_axis,
                        int64_t num_axes) {
  const char* op = "unit_norm_backward";
  const Problem p = split(op, x, first_axis, num_axes);
  unit_norm_backward_stub.check_device(x.device());
  for (const auto& [arg, t] : {std::pair<const char*, const Tensor*>{"dy", &dy}, {"dx", &dx}}) {
    check_float32(op, arg, *t);
    check_same_shape(op, "x", x, arg, *t);
    check_same_device(op, "x", x, arg, *t);
  }
  check_writable(op, "dx", dx);
  check_same_or_disjoint(op, "dy", dy, "dx", dx);  // a slice's sums are taken before it is written
  check_no_alias(op, "x", x, "dx", dx);
  if (x.numel() == 0) return;
  unit_norm_backward_stub(x.device())(dy.data<float>(), x.data<float>(), dx.data<float>(), p.r, p.d,
                                      p.b);
}

}  // namespace corenn
