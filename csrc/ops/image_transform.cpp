// Entry for image_transform: x / dx (N, H, W, C), y / dy (N, OH, OW, C), transforms (N, 8),
// float32, CPU. The math is in ops/image_transform.h.
#include "ops/image_transform.h"

#include <cmath>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(ImageTransformForwardFn, image_transform_forward_stub,
                       "image_transform_forward");
CORENN_DEFINE_DISPATCH(ImageTransformBackwardFn, image_transform_backward_stub,
                       "image_transform_backward");

namespace {

cpu::FillMode fill_mode_of(const char* op, const std::string& fill_mode) {
  if (fill_mode == "reflect") return cpu::FillMode::kReflect;
  if (fill_mode == "wrap") return cpu::FillMode::kWrap;
  if (fill_mode == "nearest") return cpu::FillMode::kNearest;
  if (fill_mode == "constant") return cpu::FillMode::kConstant;
  CORENN_CHECK(false, op, ": fill_mode must be 'reflect', 'wrap', 'nearest' or 'constant', got '",
               fill_mode.substr(0, 40), "'");
  return cpu::FillMode::kConstant;
}

cpu::ImageTransformShape check_transform(const char* op, const char* in_arg, const Tensor& in,
                                         const Tensor& transforms, const char* out_arg,
                                         const Tensor& out, const std::string& interpolation) {
  CORENN_CHECK(interpolation == "nearest" || interpolation == "bilinear", op,
               ": interpolation must be 'nearest' or 'bilinear', got '", interpolation.substr(0, 40), "'");
  for (const auto& [arg, t] : {std::pair<const char*, const Tensor*>{in_arg, &in}, {out_arg, &out}}) {
    check_float32(op, arg, *t);
    CORENN_CHECK(t->dim() == 4, op, ": ", arg, " must be (N, H, W, C) (rank 4), got shape ",
                 t->shape_str());
  }
  CORENN_CHECK(out.size(0) == in.size(0) && out.size(3) == in.size(3), op, ": ", out_arg, " ",
               out.shape_str(), " must have the batch and channel sizes of ", in_arg, " ",
               in.shape_str());
  check_float32(op, "transforms", transforms);
  check_shape(op, "transforms", transforms, {in.size(0), 8});
  // A transformed image of an empty input has no source pixel to read (and no fill to invent).
  CORENN_CHECK(out.numel() == 0 || (in.size(1) > 0 && in.size(2) > 0), op, ": ", in_arg, " ",
               in.shape_str(), " has no pixels to sample for ", out_arg, " ", out.shape_str());
  for (const Tensor* t : {&transforms, &out}) check_same_device(op, in_arg, in, "other", *t);
  check_no_alias(op, in_arg, in, out_arg, out);
  check_no_alias(op, "transforms", transforms, out_arg, out);
  return {in.size(0), in.size(1), in.size(2), in.size(3), out.size(1), out.size(2)};
}

}  // namespace

void image_transform_forward(const Tensor& x, const Tensor& transforms, const Tensor& y,
                             const std::string& interpolation, const std::string& fill_mode,
                             double fill_value) {
  const char* op = "image_transform_forward";
  const auto s = check_transform(op, "x", x, transforms, "y", y, interpolation);
  image_transform_forward_stub.check_device(x.device());
  const auto mode = fill_mode_of(op, fill_mode);
  check_writable(op, "y", y);
  if (y.numel() == 0) return;
  image_transform_forward_stub(x.device())(x.data<float>(), transforms.data<float>(),
                                           y.data<float>(), s, interpolation == "bilinear", mode,
                                           static_cast<float>(fill_value));
}

void image_transform_backward(const Tensor& dy, const Tensor& transforms, const Tensor& dx,
                              const std::string& interpolation, const std::string& fill_mode) {
  const char* op = "image_transform_backward";
  const auto s = check_transform(op, "dx", dx, transforms, "dy", dy, interpolation);
  image_transform_backward_stub.check_device(dx.device());
  const auto mode = fill_mode_of(op, fill_mode);
  check_writable(op, "dx", dx);
  if (dx.numel() == 0) return;
  image_transform_backward_stub(dx.device())(dy.data<float>(), transforms.data<float>(),
                                             dx.data<float>(), s, interpolation == "bilinear",
                                             mode);
}

}  // namespace corenn
