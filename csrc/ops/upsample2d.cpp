// Entry for upsample2d: x / dx (N, H, W, C), y / dy (N, H*sh, W*sw, C), float32, CPU.
#include "ops/upsample2d.h"

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(Upsample2dFn, upsample2d_forward_stub, "upsample2d_forward");
CORENN_DEFINE_DISPATCH(Upsample2dFn, upsample2d_backward_stub, "upsample2d_backward");

namespace {
// True for bilinear. Checks the mode, the factors and both images.
bool check_upsample(const char* op, const char* small_arg, const Tensor& small,
                    const char* big_arg, const Tensor& big, int64_t sh, int64_t sw,
                    const std::string& interpolation) {
  CORENN_CHECK(interpolation == "nearest" || interpolation == "bilinear", op,
               ": interpolation must be 'nearest' or 'bilinear', got '", interpolation.substr(0, 40), "'");
  CORENN_CHECK(sh >= 1 && sw >= 1, op, ": size must be positive, got (", sh, ", ", sw, ")");
  for (const auto& [arg, t] : {std::pair<const char*, const Tensor*>{small_arg, &small}, {big_arg, &big}}) {
    check_float32(op, arg, *t);
    CORENN_CHECK(t->dim() == 4, op, ": ", arg, " must be (N, H, W, C) (rank 4), got shape ",
                 t->shape_str());
  }
  const std::string what = detail::str_cat("size (", sh, ", ", sw, ") times ", small_arg, " ",
                                           small.shape_str());
  check_shape(op, big_arg, big,
              {small.size(0), checked_product(op, what, {small.size(1), sh}),
               checked_product(op, what, {small.size(2), sw}), small.size(3)});
  check_same_device(op, small_arg, small, big_arg, big);
  check_no_alias(op, small_arg, small, big_arg, big);
  return interpolation == "bilinear";
}
}  // namespace

void upsample2d_forward(const Tensor& x, const Tensor& y, int64_t sh, int64_t sw,
                        const std::string& interpolation) {
  const char* op = "upsample2d_forward";
  const bool bilinear = check_upsample(op, "x", x, "y", y, sh, sw, interpolation);
  upsample2d_forward_stub.check_device(x.device());
  check_writable(op, "y", y);
  if (y.numel() == 0) return;
  upsample2d_forward_stub(x.device())(bilinear, x.data<float>(), y.data<float>(), x.size(0),
                                      x.size(1), x.size(2), x.size(3), sh, sw);
}

void upsample2d_backward(const Tensor& dy, const Tensor& dx, int64_t sh, int64_t sw,
                         const std::string& interpolation) {
  const char* op = "upsample2d_backward";
  const bool bilinear = check_upsample(op, "dx", dx, "dy", dy, sh, sw, interpolation);
  upsample2d_backward_stub.check_device(dx.device());
  check_writable(op, "dx", dx);
  if (dx.numel() == 0) return;
  upsample2d_backward_stub(dx.device())(bilinear, dy.data<float>(), dx.data<float>(), dx.size(0),
                                        dx.size(1), dx.size(2), dx.size(3), sh, sw);
}

}  // namespace corenn
