// Entry for resize2d: x / dx (N, H, W, C), y / dy (N, OH, OW, C), float32, CPU. The math is in
// ops/resize2d.h.
#include "ops/resize2d.h"

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(Resize2dForwardFn, resize2d_forward_stub, "resize2d_forward");
CORENN_DEFINE_DISPATCH(Resize2dBackwardFn, resize2d_backward_stub, "resize2d_backward");

namespace {
// The checked problem: both images rank 4, same N and C, the window inside the input.
cpu::Resize2dShape check_resize(const char* op, const char* in_arg, const Tensor& in,
                                const char* out_arg, const Tensor& out, int64_t top, int64_t left,
                                int64_t wh, int64_t ww, const std::string& interpolation) {
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
  const int64_t h = in.size(1), w = in.size(2);
  CORENN_CHECK(top >= 0 && left >= 0 && wh >= 1 && ww >= 1 && top <= h - wh && left <= w - ww, op,
               ": window (top ", top, ", left ", left, ", height ", wh, ", width ", ww,
               ") must be non-empty and lie inside ", in_arg, " ", in.shape_str());
  check_same_device(op, in_arg, in, out_arg, out);
  check_no_alias(op, in_arg, in, out_arg, out);
  return {in.size(0), h, w, in.size(3), top, left, wh, ww, out.size(1), out.size(2)};
}
}  // namespace

void resize2d_forward(const Tensor& x, const Tensor& y, int64_t top, int64_t left, int64_t wh,
                      int64_t ww, const std::string& interpolation) {
  const char* op = "resize2d_forward";
  const auto s = check_resize(op, "x", x, "y", y, top, left, wh, ww, interpolation);
  resize2d_forward_stub.check_device(x.device());
  check_writable(op, "y", y);
  if (y.numel() == 0) return;
  resize2d_forward_stub(x.device())(x.data<float>(), y.data<float>(), s,
                                    interpolation == "bilinear");
}

void resize2d_backward(const Tensor& dy, const Tensor& dx, int64_t top, int64_t left, int64_t wh,
                       int64_t ww, const std::string& interpolation) {
  const char* op = "resize2d_backward";
  const auto s = check_resize(op, "dx", dx, "dy", dy, top, left, wh, ww, interpolation);
  resize2d_backward_stub.check_device(dx.device());
  check_writable(op, "dx", dx);
  if (dx.numel() == 0) return;
  resize2d_backward_stub(dx.device())(dy.data<float>(), dx.data<float>(), s,
                                      interpolation == "bilinear");
}

}  // namespace corenn
