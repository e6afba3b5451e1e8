// conv2d entries: validate the call, derive the geometry, dispatch by device. See ops/conv2d.h for
// the math; the CPU kernels (implicit GEMM) are in cpu/conv2d.cpp, the CUDA ones in cuda/conv2d.cu.
#include "ops/conv2d.h"

#include <limits>
#include <utility>
#include <vector>

#include "core/check.h"
#include "ops/bias_grad.h"
#include "ops/pool2d.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(Conv2dForwardFn, conv2d_forward_stub, "conv2d_forward");
CORENN_DEFINE_DISPATCH(Conv2dBackwardDataFn, conv2d_backward_data_stub, "conv2d_backward_data");
CORENN_DEFINE_DISPATCH(Conv2dBackwardDataReluSumFn, conv2d_backward_data_relu_sum_stub,
                       "conv2d_backward_data_relu_sum");
CORENN_DEFINE_DISPATCH(Conv2dBackwardWeightsFn, conv2d_backward_weights_stub,
                       "conv2d_backward_weights");
CORENN_DEFINE_DISPATCH(Conv2dReluMaxPoolForwardFn, conv2d_relu_max_pool2d_forward_stub,
                       "conv2d_relu_max_pool2d_forward");
CORENN_DEFINE_DISPATCH(Conv2dReluMaxPoolBackwardWeightsFn,
                       conv2d_relu_max_pool2d_backward_weights_stub,
                       "conv2d_relu_max_pool2d_backward_weights");
CORENN_DEFINE_DISPATCH(Conv2dTransposeForwardFn, conv2d_transpose_forward_stub,
                       "conv2d_transpose_forward");
CORENN_DEFINE_DISPATCH(Conv2dBackwardDataFn, conv2d_transpose_backward_data_stub,
                       "conv2d_transpose_backward_data");
CORENN_DEFINE_DISPATCH(Conv2dTransposeBackwardWeightsFn, conv2d_transpose_backward_weights_stub,
                       "conv2d_transpose_backward_weights");

namespace {

std::string describe(const Conv2dGeometry& g) {
  return detail::str_cat("x (", g.n, ", ", g.h, ", ", g.w, ", ", g.cin, "), w (", g.kh, ", ", g.kw,
                         ", ", g.cin, ", ", g.cout, "), output (", g.oh, ", ", g.ow, "), strides (",
                         g.sh, ", ", g.sw, "), padding (", g.pt, ", ", g.pl, "), dilation (", g.dh,
                         ", ", g.dw, ")");
}

// Every index and count the kernels form (cpu/conv2d*.cpp, the flipped data-gradient geometry,
// the work estimates that size thread grains) is bounded by a quantity validated here to be at
// most 2^62 (core/check.h), so the kernels' plain int64 arithmetic cannot overflow:
//   ek = (K-1)*D + 1: the dilated kernel extent (every tap offset k*d < ek);
//   reach = H + OH*S + P + 2*ek: every row coordinate in the input, the padded input or (flipped
//     for the data gradient) the padded dy; the same for columns;
//   reach_h * W * Cin, reach_w * Cin (and with OW, Cout for dy): flat offsets into one image;
//   S * W * Cin, S * Cin: the steps between neighbouring output rows / pixels;
//   N*OH*OW * KH*KW*Cin * Cout: the multiply-adds.
// Shapes of real tensors are far smaller (core/tensor.h); the parameters are the risk.
// The bounds check_geometry_range enforces, as a plain test. Every conv call runs it, and the
// checked form builds its message (describe(g): a dozen number formats) before it knows whether it
// will need it; that alone cost more instructions than the rest of an entry's checks.
bool geometry_fits(const Conv2dGeometry& g) {
  auto sum_fits = [](std::initializer_list<int64_t> terms, int64_t* out) {
    int64_t s = 0;
    for (int64_t t : terms) {
      if (t < 0 || t > kMaxIndex - s) return false;
      s += t;
    }
    *out = s;
    return true;
  };
  int64_t ekh, ekw, reach_h, reach_w, p;
  if (!product_fits({g.kh - 1, g.dh}, &p) || !sum_fits({p, 1}, &ekh)) return false;
  if (!product_fits({g.kw - 1, g.dw}, &p) || !sum_fits({p, 1}, &ekw)) return false;
  if (!product_fits({g.oh, g.sh}, &p) || !sum_fits({g.h, p, g.pt, ekh, ekh}, &reach_h)) return false;
  if (!product_fits({g.ow, g.sw}, &p) || !sum_fits({g.w, p, g.pl, ekw, ekw}, &reach_w)) return false;
  return product_fits({reach_h, g.w, g.cin}, &p) && product_fits({reach_w, g.cin}, &p) &&
         product_fits({reach_h, g.ow, g.cout}, &p) && product_fits({reach_w, g.cout}, &p) &&
         product_fits({g.sh, g.w, g.cin}, &p) && product_fits({g.sw, g.cin}, &p) &&
         product_fits({g.n, g.oh, g.ow, g.kh, g.kw, g.cin, g.cout}, &p);
}

void check_geometry_range(const char* op, const Conv2dGeometry& g) {
  CORENN_CHECK(g.n > 0 && g.h > 0 && g.w > 0 && g.cin > 0 && g.kh > 0 && g.kw > 0 && g.cout > 0 &&
                   g.oh > 0 && g.ow > 0 && g.sh > 0 && g.sw > 0 && g.dh > 0 && g.dw > 0 &&
                   g.pt >= 0 && g.pl >= 0,
               op, ": invalid geometry ", describe(g),
               ": sizes, strides and dilation must be positive, padding non-negative");
  if (geometry_fits(g)) return;  // the usual case: no message built
  const std::string what = "the geometry " + describe(g);
  const int64_t ekh = checked_sum(op, what, {checked_product(op, what, {g.kh - 1, g.dh}), 1});
  const int64_t ekw = checked_sum(op, what, {checked_product(op, what, {g.kw - 1, g.dw}), 1});
  const int64_t reach_h =
      checked_sum(op, what, {g.h, checked_product(op, what, {g.oh, g.sh}), g.pt, ekh, ekh});
  const int64_t reach_w =
      checked_sum(op, what, {g.w, checked_product(op, what, {g.ow, g.sw}), g.pl, ekw, ekw});
  checked_product(op, what, {reach_h, g.w, g.cin});
  checked_product(op, what, {reach_w, g.cin});
  checked_product(op, what, {reach_h, g.ow, g.cout});
  checked_product(op, what, {reach_w, g.cout});
  checked_product(op, what, {g.sh, g.w, g.cin});
  checked_product(op, what, {g.sw, g.cin});
  checked_product(op, what, {g.n, g.oh, g.ow, g.kh, g.kw, g.cin, g.cout});
}

// Padding smaller than the (dilated) kernel, and every output window starting inside the padded
// input: the last one at (O-1)*s - p < H.
void check_window_fit(const char* op, const Conv2dGeometry& g, const char* xname, const Tensor& x,
                      const char* yname, const std::string& yshape) {
  CORENN_CHECK(g.pt >= 0 && g.pl >= 0, op, ": padding (", g.pt, ", ", g.pl,
               ") must be non-negative");
  check_geometry_range(op, g);
  const int64_t ekh = (g.kh - 1) * g.dh + 1, ekw = (g.kw - 1) * g.dw + 1;
  CORENN_CHECK(g.pt >= 0 && g.pl >= 0 && g.pt < ekh && g.pl < ekw, op, ": padding (", g.pt, ", ",
               g.pl, ") must be non-negative and smaller than the dilated kernel (", ekh, ", ", ekw, ")");
  CORENN_CHECK(g.oh > 0 && g.ow > 0 && (g.oh - 1) * g.sh - g.pt < g.h && (g.ow - 1) * g.sw - g.pl < g.w,
               op, ": ", yname, " ", yshape, " is too large for ", xname, " ", x.shape_str(),
               " with strides (", g.sh, ", ", g.sw, ") and padding (", g.pt, ", ", g.pl, ")");
}

// Checks x / w / y (y may be dy) against each other and the conv parameters; returns the geometry.
// `op` names the entry, `xname` / `yname` the argument names it uses.
Conv2dGeometry make_geometry(const char* op, const char* xname, const Tensor& x, const Tensor& w,
                             const char* yname, const Tensor& y, int64_t sh, int64_t sw,
                             int64_t pt, int64_t pl, int64_t dh, int64_t dw, int64_t groups = 1) {
  check_float32(op, xname, x);
  check_float32(op, "w", w);
  check_float32(op, yname, y);
  check_dim(op, xname, x, 4);
  check_dim(op, "w", w, 4);
  check_dim(op, yname, y, 4);
  check_same_device(op, xname, x, "w", w);
  check_same_device(op, xname, x, yname, y);
  check_nonempty(op, xname, x);
  check_nonempty(op, "w", w);
  check_nonempty(op, yname, y);
  CORENN_CHECK(sh > 0 && sw > 0, op, ": strides must be positive, got (", sh, ", ", sw, ")");
  CORENN_CHECK(dh > 0 && dw > 0, op, ": dilation must be positive, got (", dh, ", ", dw, ")");
  CORENN_CHECK(groups > 0, op, ": groups must be positive, got ", groups);
  Conv2dGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(1), w.size(3),
                   y.size(1), y.size(2), sh, sw, pt, pl, dh, dw};
  g.groups = groups;
  if (groups > 1) {
    CORENN_CHECK(g.cin % groups == 0 && g.cout % groups == 0, op, ": groups=", groups,
                 " must divide the input channels of ", xname, " ", x.shape_str(),
                 " and the output channels of w ", w.shape_str());
    CORENN_CHECK(w.size(2) * groups == g.cin, op, ": ", xname, " ", x.shape_str(), " has ", g.cin,
                 " channels, so with groups=", groups, " w must be (KH, KW, ", g.cin / groups,
                 ", Cout), got ", w.shape_str());
  }
  CORENN_CHECK(w.size(2) * groups == g.cin, op, ": ", xname, " ", x.shape_str(), " has ", g.cin,
               " channels but w ", w.shape_str(), " expects ", w.size(2), " input channels");
  CORENN_CHECK(y.size(0) == g.n && y.size(3) == g.cout, op, ": ", yname, " must have shape (",
               g.n, ", OH, OW, ", g.cout, ") for ", xname, " ", x.shape_str(), " and w ",
               w.shape_str(), ", got ", y.shape_str());
  check_window_fit(op, g, xname, x, yname, y.shape_str());
  return g;
}

// A stride-1 conv whose (conv_oh, conv_ow) output feeds a 2x2 / 2 max pool: checks x and the
// kernel-shaped `k` (w, or dw; named karg), the window fit and that a pooled output exists; returns
// the geometry, and the pooled shape (N, conv_oh / 2, conv_ow / 2, Cout) in `pooled`.
Conv2dGeometry pooled_conv_geometry(const char* op, const Tensor& x, const char* karg,
                                    const Tensor& k, int64_t conv_oh, int64_t conv_ow,
                                    int64_t pad_top, int64_t pad_left,
                                    std::vector<int64_t>& pooled) {
  check_float32(op, "x", x);
  check_float32(op, karg, k);
  check_dim(op, "x", x, 4);
  check_dim(op, karg, k, 4);
  check_same_device(op, "x", x, karg, k);
  check_nonempty(op, "x", x);
  check_nonempty(op, karg, k);
  const Conv2dGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), k.size(0), k.size(1),
                         k.size(3), conv_oh, conv_ow, 1, 1, pad_top, pad_left, 1, 1};
  CORENN_CHECK(k.size(2) == g.cin, op, ": x ", x.shape_str(), " has ", g.cin, " channels but ",
               karg, " ", k.shape_str(), " expects ", k.size(2), " input channels");
  const std::string conv_shape = "(" + std::to_string(g.n) + ", " + std::to_string(conv_oh) + ", " +
                                 std::to_string(conv_ow) + ", " + std::to_string(g.cout) + ")";
  CORENN_CHECK(conv_oh > 0 && conv_ow > 0, op, ": the conv output ", conv_shape,
               " must have a positive size");
  check_window_fit(op, g, "x", x, "the conv output", conv_shape);
  CORENN_CHECK(conv_oh >= 2 && conv_ow >= 2, op, ": the conv output ", conv_shape,
               " is smaller than the 2x2 pooling window");
  // argmax holds oh * conv_ow + ow as int32
  CORENN_CHECK(conv_oh * conv_ow <= std::numeric_limits<int32_t>::max(), op, ": the conv output ",
               conv_shape, " has more cells per image than int32 argmax indices can address");
  pooled = {g.n, conv_oh / 2, conv_ow / 2, g.cout};
  return g;
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias,
                    const Tensor& y, int64_t stride_h, int64_t stride_w, int64_t pad_top,
                    int64_t pad_left, int64_t dil_h, int64_t dil_w, const std::string& activation,
                    int64_t groups, bool keep_w) {
  constexpr const char* op = "conv2d_forward";
  CORENN_CHECK(activation == "none" || activation == "linear" || activation == "relu", op,
               ": unknown activation '", activation, "'; the fused epilogue supports 'none' and 'relu'");
  const Conv2dGeometry g = make_geometry(op, "x", x, w, "y", y, stride_h, stride_w, pad_top,
                                         pad_left, dil_h, dil_w, groups);
  check_writable(op, "y", y);
  if (bias) {
    check_float32(op, "bias", *bias);
    check_same_device(op, "x", x, "bias", *bias);
    check_shape(op, "bias", *bias, {g.cout});
    check_no_alias(op, "y", y, "bias", *bias);
  }
  check_no_alias(op, "y", y, "x", x);
  check_no_alias(op, "y", y, "w", w);
  conv2d_forward_stub(x.device())(x, g, x.data<float>(), w.data<float>(),
                                  bias ? bias->data<float>() : nullptr, y.data<float>(),
                                  activation == "relu", keep_w ? w.storage().get() : nullptr);
}

void conv2d_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx, int64_t stride_h,
                          int64_t stride_w, int64_t pad_top, int64_t pad_left, int64_t dil_h,
                          int64_t dil_w, int64_t groups) {
  constexpr const char* op = "conv2d_backward_data";
  const Conv2dGeometry g = make_geometry(op, "dx", dx, w, "dy", dy, stride_h, stride_w, pad_top,
                                         pad_left, dil_h, dil_w, groups);
  check_writable(op, "dx", dx);
  check_no_alias(op, "dx", dx, "dy", dy);
  check_no_alias(op, "dx", dx, "w", w);
  conv2d_backward_data_stub(dx.device())(dx, g, dy.data<float>(), w.data<float>(),
                                        dx.data<float>());
}

void conv2d_backward_data_relu_sum(const Tensor& dy, const Tensor& w, const Tensor& dx,
                                   const std::optional<Tensor>& add,
                                   const std::optional<Tensor>& relu_of, int64_t stride_h,
                                   int64_t stride_w, int64_t pad_top, int64_t pad_left,
                                   int64_t dil_h, int64_t dil_w, int64_t groups) {
  constexpr const char* op = "conv2d_backward_data_relu_sum";
  const Conv2dGeometry g = make_geometry(op, "dx", dx, w, "dy", dy, stride_h, stride_w, pad_top,
                                         pad_left, dil_h, dil_w, groups);
  check_writable(op, "dx", dx);
  check_no_alias(op, "dx", dx, "dy", dy);
  check_no_alias(op, "dx", dx, "w", w);
  // dx is written before (the other algorithms) or while (Winograd) these are read: no overlap
  for (const auto& [name, t] : {std::pair<const char*, const std::optional<Tensor>*>{"add", &add},
                                {"relu_of", &relu_of}}) {
    if (!*t) continue;
    check_float32(op, name, **t);
    check_same_shape(op, "dx", dx, name, **t);
    check_same_device(op, "dx", dx, name, **t);
    check_no_alias(op, "dx", dx, name, **t);
  }
  conv2d_backward_data_relu_sum_stub(dx.device())(dx, g, dy.data<float>(), w.data<float>(),
                                                  dx.data<float>(), add ? add->data<float>() : nullptr,
                                                  relu_of ? relu_of->data<float>() : nullptr);
}

void conv2d_backward_weights(const Tensor& x, const Tensor& dy, const Tensor& dw,
                             const std::optional<Tensor>& db, int64_t stride_h, int64_t stride_w,
                             int64_t pad_top, int64_t pad_left, int64_t dil_h, int64_t dil_w,
                             int64_t groups) {
  constexpr const char* op = "conv2d_backward_weights";
  const Conv2dGeometry g = make_geometry(op, "x", x, dw, "dy", dy, stride_h, stride_w, pad_top,
                                         pad_left, dil_h, dil_w, groups);
  check_writable(op, "dw", dw);
  if (db) {
    check_float32(op, "db", *db);
    check_writable(op, "db", *db);
    check_same_device(op, "x", x, "db", *db);
    check_shape(op, "db", *db, {g.cout});
    check_no_alias(op, "db", *db, "dy", dy);
  }
  check_no_alias(op, "dw", dw, "x", x);
  check_no_alias(op, "dw", dw, "dy", dy);
  conv2d_backward_weights_stub(x.device())(x, g, x.data<float>(), dy.data<float>(),
                                           dw.data<float>(), db ? db->data<float>() : nullptr);
}

void conv2d_relu_max_pool2d_forward(const Tensor& x, const Tensor& w,
                                    const std::optional<Tensor>& bias, const Tensor& y,
                                    const Tensor& argmax, int64_t conv_oh, int64_t conv_ow,
                                    int64_t pad_top, int64_t pad_left, bool keep_w) {
  constexpr const char* op = "conv2d_relu_max_pool2d_forward";
  std::vector<int64_t> pooled;
  const Conv2dGeometry g =
      pooled_conv_geometry(op, x, "w", w, conv_oh, conv_ow, pad_top, pad_left, pooled);
  check_float32(op, "y", y);
  check_dtype(op, "argmax", argmax, DType::int32);
  check_writable(op, "y", y);
  check_writable(op, "argmax", argmax);
  check_same_device(op, "x", x, "y", y);
  check_same_device(op, "x", x, "argmax", argmax);
  check_shape(op, "y", y, pooled);
  check_shape(op, "argmax", argmax, pooled);
  if (bias) {
    check_float32(op, "bias", *bias);
    check_same_device(op, "x", x, "bias", *bias);
    check_shape(op, "bias", *bias, {g.cout});
  }
  check_no_alias(op, "y", y, "x", x);
  check_no_alias(op, "y", y, "w", w);
  conv2d_relu_max_pool2d_forward_stub(x.device())(x, g, x.data<float>(), w.data<float>(),
                                                  bias ? bias->data<float>() : nullptr,
                                                  y.data<float>(), argmax.data<int32_t>(),
                                                  keep_w ? w.storage().get() : nullptr);
}

void conv2d_relu_max_pool2d_backward_weights(const Tensor& x, const Tensor& dy, const Tensor& y,
                                             const Tensor& argmax, const Tensor& dw,
                                             const std::optional<Tensor>& db, int64_t conv_oh,
                                             int64_t conv_ow, int64_t pad_top, int64_t pad_left) {
  constexpr const char* op = "conv2d_relu_max_pool2d_backward_weights";
  std::vector<int64_t> pooled;
  const Conv2dGeometry g =
      pooled_conv_geometry(op, x, "dw", dw, conv_oh, conv_ow, pad_top, pad_left, pooled);
  check_writable(op, "dw", dw);
  check_float32(op, "dy", dy);
  check_float32(op, "y", y);
  check_dtype(op, "argmax", argmax, DType::int32);
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"dy", &dy}, {"y", &y},
                                {"argmax", &argmax}})
    check_same_device(op, "x", x, name, *t);
  check_shape(op, "dy", dy, pooled);
  check_shape(op, "y", y, pooled);
  check_shape(op, "argmax", argmax, pooled);
  if (db) {
    check_float32(op, "db", *db);
    check_same_device(op, "x", x, "db", *db);
    check_shape(op, "db", *db, {g.cout});
    check_writable(op, "db", *db);
    check_no_alias(op, "dw", dw, "db", *db);
  }
  for (const auto& [name, t] : {std::pair<const char*, const Tensor*>{"x", &x}, {"dy", &dy},
                                {"y", &y}, {"argmax", &argmax}}) {
    check_no_alias(op, "dw", dw, name, *t);
    if (db) check_no_alias(op, "db", *db, name, *t);
  }
  const bool all_found = conv2d_relu_max_pool2d_backward_weights_stub(x.device())(
      x, g, x.data<float>(), dy.data<float>(), y.data<float>(), argmax.data<int32_t>(), dw.data<float>(),
      db ? db->data<float>() : nullptr);
  // The kernel notices a winner outside its window for free; only then is the entry searched for
  // (the argmax is the 2x2 / 2 max pooling's over the (conv_oh, conv_ow) conv output).
  if (!all_found)
    check_max_pool_argmax(op, argmax, Pool2dGeom{g.n, conv_oh, conv_ow, g.cout, pooled[1], pooled[2],
                                                 2, 2, 2, 2, 0, 0});
}

// ---- Conv2DTranspose: the conv2d kernels with x and y swapped (see ops/conv2d.h) -------------

// The transposed conv's own view of the shapes, checked before the swapped conv geometry so the
// message speaks of its arguments: x (N, H, W, Cin) against w (KH, KW, Cout, Cin).
static void check_transpose_channels(const char* op, const char* xname, const Tensor& x,
                                     const char* wname, const Tensor& w) {
  check_dim(op, xname, x, 4);
  check_dim(op, wname, w, 4);
  CORENN_CHECK(w.size(3) == x.size(3), op, ": ", xname, " ", x.shape_str(), " has ", x.size(3),
               " channels but ", wname, " ", w.shape_str(), " (KH, KW, Cout, Cin) expects ",
               w.size(3), " input channels");
}

void conv2d_transpose_forward(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias,
                              const Tensor& y, int64_t stride_h, int64_t stride_w, int64_t pad_top,
                              int64_t pad_left, int64_t dil_h, int64_t dil_w) {
  constexpr const char* op = "conv2d_transpose_forward";
  check_transpose_channels(op, "x", x, "w", w);
  // The conv that this transposes maps y (its input) to x (its output).
  const Conv2dGeometry g = make_geometry(op, "y", y, w, "x", x, stride_h, stride_w, pad_top,
                                         pad_left, dil_h, dil_w);
  check_writable(op, "y", y);
  if (bias) {
    check_float32(op, "bias", *bias);
    check_same_device(op, "x", x, "bias", *bias);
    check_shape(op, "bias", *bias, {g.cin});
    check_no_alias(op, "y", y, "bias", *bias);
  }
  check_no_alias(op, "y", y, "x", x);
  check_no_alias(op, "y", y, "w", w);
  conv2d_transpose_forward_stub(x.device())(x, g, x.data<float>(), w.data<float>(),
                                            bias ? bias->data<float>() : nullptr, y.data<float>());
}

void conv2d_transpose_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                                    int64_t stride_h, int64_t stride_w, int64_t pad_top,
                                    int64_t pad_left, int64_t dil_h, int64_t dil_w) {
  constexpr const char* op = "conv2d_transpose_backward_data";
  check_transpose_channels(op, "dx", dx, "w", w);
  const Conv2dGeometry g = make_geometry(op, "dy", dy, w, "dx", dx, stride_h, stride_w, pad_top,
                                         pad_left, dil_h, dil_w);
  check_writable(op, "dx", dx);
  check_no_alias(op, "dx", dx, "dy", dy);
  check_no_alias(op, "dx", dx, "w", w);
  conv2d_transpose_backward_data_stub(dy.device())(dy, g, dy.data<float>(), w.data<float>(),
                                                  dx.data<float>());
}

void conv2d_transpose_backward_weights(const Tensor& x, const Tensor& dy, const Tensor& dw,
                                       const std::optional<Tensor>& db, int64_t stride_h,
                                       int64_t stride_w, int64_t pad_top, int64_t pad_left,
                                       int64_t dil_h, int64_t dil_w) {
  constexpr const char* op = "conv2d_transpose_backward_weights";
  check_transpose_channels(op, "x", x, "dw", dw);
  const Conv2dGeometry g = make_geometry(op, "dy", dy, dw, "x", x, stride_h, stride_w, pad_top,
                                         pad_left, dil_h, dil_w);
  check_writable(op, "dw", dw);
  if (db) {
    check_float32(op, "db", *db);
    check_writable(op, "db", *db);
    check_same_device(op, "x", x, "db", *db);
    check_shape(op, "db", *db, {g.cin});
    check_no_alias(op, "db", *db, "dy", dy);
    check_no_alias(op, "db", *db, "x", x);
  }
  check_no_alias(op, "dw", dw, "x", x);
  check_no_alias(op, "dw", dw, "dy", dy);
  conv2d_transpose_backward_weights_stub(x.device())(x, g, x.data<float>(), dy.data<float>(),
                                                     dw.data<float>(),
                                                     db ? db->data<float>() : nullptr);
}

std::vector<std::string> conv2d_algorithms(const Conv2dGeometry& g) {
  using namespace cpu;
  check_geometry_range("conv2d_algorithms", g);  // the choices compute with the geometry too
  CORENN_CHECK(g.groups > 0 && g.cin % g.groups == 0 && g.cout % g.groups == 0,
               "conv2d_algorithms: groups=", g.groups, " must divide Cin ", g.cin, " and Cout ",
               g.cout);
  std::string data = conv_algo_name(conv2d_data_algo(g));
  if (conv2d_data_algo(g) == ConvAlgo::flipped_forward)
    data += std::string("/") + conv_algo_name(conv2d_forward_algo(flipped_geometry(g)));
  return {conv_algo_name(conv2d_forward_algo(g)), data, conv_algo_name(conv2d_weights_algo(g))};
}

}  // namespace corenn
