// depthwise_conv2d entries: validate the call, derive the geometry, dispatch. Math in
// ops/depthwise_conv2d.h; kernels in cpu/depthwise_conv2d.cpp (+ _avx2.cpp).
#include "ops/depthwise_conv2d.h"

#include <string>

#include "core/check.h"
#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(DepthwiseConv2dForwardFn, depthwise_conv2d_forward_stub,
                       "depthwise_conv2d_forward");
CORENN_DEFINE_DISPATCH(DepthwiseConv2dBackwardDataFn, depthwise_conv2d_backward_data_stub,
                       "depthwise_conv2d_backward_data");
CORENN_DEFINE_DISPATCH(DepthwiseConv2dBackwardWeightsFn, depthwise_conv2d_backward_weights_stub,
                       "depthwise_conv2d_backward_weights");

namespace {

std::string describe(const Conv2dGeometry& g) {
  return detail::str_cat("x (", g.n, ", ", g.h, ", ", g.w, ", ", g.cin, "), w (", g.kh, ", ", g.kw,
                         ", ", g.cin, ", ", g.cout / g.cin, "), output (", g.oh, ", ", g.ow,
                         "), strides (", g.sh, ", ", g.sw, "), padding (", g.pt, ", ", g.pl,
                         "), dilation (", g.dh, ", ", g.dw, ")");
}

// Checks x / w / y (y may be dy, x may be dx) against each other and the parameters, with the
// same window and overflow rules as conv2d (ops/conv2d.cpp): padding smaller than the dilated
// kernel, the last window starting inside the padded input, every index below 2^62.
Conv2dGeometry make_geometry(const char* op, const char* xname, const Tensor& x, const char* wname,
                             const Tensor& w, const char* yname, const Tensor& y, int64_t sh,
                             int64_t sw, int64_t pt, int64_t pl, int64_t dh, int64_t dw) {
  check_float32(op, xname, x);
  check_float32(op, wname, w);
  check_float32(op, yname, y);
  check_dim(op, xname, x, 4);
  check_dim(op, wname, w, 4);
  check_dim(op, yname, y, 4);
  check_same_device(op, xname, x, wname, w);
  check_same_device(op, xname, x, yname, y);
  check_nonempty(op, xname, x);
  check_nonempty(op, wname, w);
  check_nonempty(op, yname, y);
  CORENN_CHECK(sh > 0 && sw > 0, op, ": strides must be positive, got (", sh, ", ", sw, ")");
  CORENN_CHECK(dh > 0 && dw > 0, op, ": dilation must be positive, got (", dh, ", ", dw, ")");
  CORENN_CHECK(w.size(2) == x.size(3), op, ": ", xname, " ", x.shape_str(), " has ", x.size(3),
               " channels but ", wname, " ", w.shape_str(), " expects ", w.size(2));
  const int64_t dm = w.size(3);
  CORENN_CHECK(y.size(0) == x.size(0) && y.size(3) == x.size(3) * dm, op, ": ", yname,
               " must have shape (", x.size(0), ", OH, OW, ", x.size(3), " * ", dm, ") for ", xname,
               " ", x.shape_str(), " and ", wname, " ", w.shape_str(), ", got ", y.shape_str());
  const Conv2dGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(1),
                         y.size(3), y.size(1), y.size(2), sh, sw, pt, pl, dh, dw};
  const std::string what = "the geometry " + describe(g);
  const int64_t ekh = checked_sum(op, what, {checked_product(op, what, {g.kh - 1, g.dh}), 1});
  const int64_t ekw = checked_sum(op, what, {checked_product(op, what, {g.kw - 1, g.dw}), 1});
  CORENN_CHECK(pt >= 0 && pl >= 0 && pt < ekh && pl < ekw, op, ": padding (", pt, ", ", pl,
               ") must be non-negative and smaller than the dilated kernel (", ekh, ", ", ekw, ")");
  const int64_t reach_h = checked_sum(op, what, {g.h, checked_product(op, what, {g.oh, g.sh}), pt, ekh});
  const int64_t reach_w = checked_sum(op, what, {g.w, checked_product(op, what, {g.ow, g.sw}), pl, ekw});
  checked_product(op, what, {reach_h, reach_w, g.cout});
  checked_product(op, what, {g.n, g.oh, g.ow, g.kh, g.kw, g.cout});
  CORENN_CHECK((g.oh - 1) * g.sh - pt < g.h && (g.ow - 1) * g.sw - pl < g.w, op, ": ", yname, " ",
               y.shape_str(), " is too large for ", xname, " ", x.shape_str(), " with strides (",
               sh, ", ", sw, ") and padding (", pt, ", ", pl, ")");
  return g;
}


}  // namespace

void depthwise_conv2d_forward(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias,
                              const Tensor& y, int64_t stride_h, int64_t stride_w, int64_t pad_top,
                              int64_t pad_left, int64_t dil_h, int64_t dil_w) {
  constexpr const char* op = "depthwise_conv2d_forward";
  const Conv2dGeometry g = make_geometry(op, "x", x, "w", w, "y", y, stride_h, stride_w, pad_top,
                                         pad_left, dil_h, dil_w);
  check_writable(op, "y", y);
  if (bias) {
    check_float32(op, "bias", *bias);
    check_same_device(op, "x", x, "bias", *bias);
    check_shape(op, "bias", *bias, {g.cout});
    check_no_alias(op, "y", y, "bias", *bias);
  }
  check_no_alias(op, "y", y, "x", x);
  check_no_alias(op, "y", y, "w", w);
  depthwise_conv2d_forward_stub(x.device())(g, x.data<float>(), w.data<float>(),
                                            bias ? bias->data<float>() : nullptr, y.data<float>());
}

void depthwise_conv2d_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                                    int64_t stride_h, int64_t stride_w, int64_t pad_top,
                                    int64_t pad_left, int64_t dil_h, int64_t dil_w) {
  constexpr const char* op = "depthwise_conv2d_backward_data";
  const Conv2dGeometry g = make_geometry(op, "dx", dx, "w", w, "dy", dy, stride_h, stride_w,
                                         pad_top, pad_left, dil_h, dil_w);
  check_writable(op, "dx", dx);
  check_no_alias(op, "dx", dx, "dy", dy);
  check_no_alias(op, "dx", dx, "w", w);
  depthwise_conv2d_backward_data_stub(dy.device())(g, dy.data<float>(), w.data<float>(),
                                                   dx.data<float>());
}

void depthwise_conv2d_backward_weights(const Tensor& x, const Tensor& dy, const Tensor& dw,
                                       const std::optional<Tensor>& db, int64_t stride_h,
                                       int64_t stride_w, int64_t pad_top, int64_t pad_left,
                                       int64_t dil_h, int64_t dil_w) {
  constexpr const char* op = "depthwise_conv2d_backward_weights";
  const Conv2dGeometry g = make_geometry(op, "x", x, "dw", dw, "dy", dy, stride_h, stride_w,
                                         pad_top, pad_left, dil_h, dil_w);
  check_writable(op, "dw", dw);
  if (db) {
    check_float32(op, "db", *db);
    check_writable(op, "db", *db);
    check_same_device(op, "x", x, "db", *db);
    check_shape(op, "db", *db, {g.cout});
    check_no_alias(op, "db", *db, "dy", dy);
    check_no_alias(op, "db", *db, "dw", dw);
  }
  check_no_alias(op, "dw", dw, "x", x);
  check_no_alias(op, "dw", dw, "dy", dy);
  depthwise_conv2d_backward_weights_stub(x.device())(g, x.data<float>(), dy.data<float>(),
                                                     dw.data<float>(),
                                                     db ? db->data<float>() : nullptr);
}

}  // namespace corenn
