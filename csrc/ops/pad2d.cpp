// Entry for zero_pad2d: x / dx (N, H, W, C), y / dy (N, H + top + bottom, W + left + right, C).
#include "ops/pad2d.h"

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(ZeroPad2dFn, zero_pad2d_forward_stub, "zero_pad2d_forward");
CORENN_DEFINE_DISPATCH(ZeroPad2dFn, zero_pad2d_backward_stub, "zero_pad2d_backward");

namespace {
void check_pad(const char* op, const char* small_arg, const Tensor& small, const char* big_arg,
               const Tensor& big, int64_t top, int64_t bottom, int64_t left, int64_t right) {
  CORENN_CHECK(top >= 0 && bottom >= 0 && left >= 0 && right >= 0, op,
               ": padding must be non-negative, got ((", top, ", ", bottom, "), (", left, ", ",
               right, "))");
  const auto check_image = [op](const char* arg, const Tensor& t) {
    check_float32(op, arg, t);
    CORENN_CHECK(t.dim() == 4, op, ": ", arg, " must be (N, H, W, C) (rank 4), got shape ",
                 t.shape_str());
  };
  check_image(small_arg, small);
  check_image(big_arg, big);
  const std::string what = detail::str_cat("padding ((", top, ", ", bottom, "), (", left, ", ",
                                           right, ")) of ", small_arg, " ", small.shape_str());
  check_shape(op, big_arg, big,
              {small.size(0), checked_sum(op, what, {small.size(1), top, bottom}),
               checked_sum(op, what, {small.size(2), left, right}), small.size(3)});
  check_same_device(op, small_arg, small, big_arg, big);
  check_no_alias(op, small_arg, small, big_arg, big);
}
}  // namespace

void zero_pad2d_forward(const Tensor& x, const Tensor& y, int64_t top, int64_t bottom, int64_t left,
                        int64_t right) {
  const char* op = "zero_pad2d_forward";
  check_writable(op, "y", y);
  check_pad(op, "x", x, "y", y, top, bottom, left, right);
  if (y.numel() == 0) return;
  zero_pad2d_forward_stub(x.device())(x, x.size(0), x.size(1), x.size(2), x.size(3), top, left, y.size(1),
                          y.size(2), x.data<float>(), y.data<float>());
}

void zero_pad2d_backward(const Tensor& dy, const Tensor& dx, int64_t top, int64_t bottom,
                         int64_t left, int64_t right) {
  const char* op = "zero_pad2d_backward";
  check_writable(op, "dx", dx);
  check_pad(op, "dx", dx, "dy", dy, top, bottom, left, right);
  if (dx.numel() == 0) return;
  zero_pad2d_backward_stub(dy.device())(dy, dx.size(0), dx.size(1), dx.size(2), dx.size(3), top, left, dy.size(1),
                           dy.size(2), dy.data<float>(), dx.data<float>());
}

}  // namespace corenn
