// conv3d entries: validate the call, derive the geometry, dispatch by device. See ops/conv3d.h for
// the math; the CPU kernels (implicit GEMM) are in cpu/conv3d.cpp.
#include "ops/conv3d.h"

#include <string>

#include "core/check.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(Conv3dForwardFn, conv3d_forward_stub, "conv3d_forward");
CORENN_DEFINE_DISPATCH(Conv3dBackwardDataFn, conv3d_backward_data_stub, "conv3d_backward_data");
CORENN_DEFINE_DISPATCH(Conv3dBackwardWeightsFn, conv3d_backward_weights_stub,
                       "conv3d_backward_weights");

namespace {

std::string triple(const std::vector<int64_t>& v) {
  return detail::str_cat("(", v[0], ", ", v[1], ", ", v[2], ")");
}

void check_triple(const char* op, const char* what, const std::vector<int64_t>& v, bool positive) {
  CORENN_CHECK(v.size() == 3, op, ": ", what, " must have 3 entries (D, H, W), got ", v.size());
  for (int64_t e : v)
    CORENN_CHECK(positive ? e > 0 : e >= 0, op, ": ", what, " must be ",
                 positive ? "positive" : "non-negative", ", got ", triple(v));
}

// Every index the kernels form is bounded by a quantity checked here to be at most 2^62
// (core/check.h): the dilated kernel extent, each axis' reach (input + output * stride +
// padding + 2 extents), flat offsets into one volume of x and y, and the multiply-adds.
void check_geometry_range(const char* op, const Conv3dGeometry& g) {
  const std::string what = "the conv3d geometry";
  const int64_t sizes[3] = {g.d, g.h, g.w}, ks[3] = {g.kd, g.kh, g.kw}, os[3] = {g.od, g.oh, g.ow},
                ss[3] = {g.sd, g.sh, g.sw}, ps[3] = {g.pf, g.pt, g.pl}, ds[3] = {g.dd, g.dh, g.dw};
  int64_t reach[3];
  for (int a = 0; a < 3; ++a) {
    const int64_t ek = checked_sum(op, what, {checked_product(op, what, {ks[a] - 1, ds[a]}), 1});
    reach[a] = checked_sum(op, what, {sizes[a], checked_product(op, what, {os[a], ss[a]}), ps[a],
                                      ek, ek});
  }
  checked_product(op, what, {reach[0], reach[1], reach[2], g.cin});
  checked_product(op, what, {reach[0], reach[1], reach[2], g.cout});
  checked_product(op, what, {g.n, g.d, g.h, g.w, g.cin});
  checked_product(op, what, {g.n, g.od, g.oh, g.ow, g.kd, g.kh, g.kw, g.cin, g.cout});
}

// Checks x / w / y (y may be dy) against each other and the conv parameters; returns the geometry.
// `xname` / `yname` / `wname` are the argument names the entry uses.
Conv3dGeometry make_geometry(const char* op, const char* xname, const Tensor& x,
                             const char* wname, const Tensor& w, const char* yname,
                             const Tensor& y, const std::vector<int64_t>& strides,
                             const std::vector<int64_t>& padding,
                             const std::vector<int64_t>& dilation, int64_t groups) {
  check_float32(op, xname, x);
  check_float32(op, wname, w);
  check_float32(op, yname, y);
  check_dim(op, xname, x, 5);
  check_dim(op, wname, w, 5);
  check_dim(op, yname, y, 5);
  check_same_device(op, xname, x, wname, w);
  check_same_device(op, xname, x, yname, y);
  check_nonempty(op, xname, x);
  check_nonempty(op, wname, w);
  check_nonempty(op, yname, y);
  check_triple(op, "strides", strides, true);
  check_triple(op, "padding", padding, false);
  check_triple(op, "dilation", dilation, true);
  CORENN_CHECK(groups > 0, op, ": groups must be positive, got ", groups);
  Conv3dGeometry g{x.size(0), x.size(1), x.size(2), x.size(3), x.size(4),
                   w.size(0), w.size(1), w.size(2), w.size(4),
                   y.size(1), y.size(2), y.size(3),
                   strides[0], strides[1], strides[2],
                   padding[0], padding[1], padding[2],
                   dilation[0], dilation[1], dilation[2], groups};
  CORENN_CHECK(g.cin % groups == 0 && g.cout % groups == 0, op, ": groups=", groups,
               " must divide the channels of ", xname, " ", x.shape_str(), " and the output channels of ",
               wname, " ", w.shape_str());
  CORENN_CHECK(w.size(3) * groups == g.cin, op, ": ", xname, " ", x.shape_str(), " has ", g.cin,
               " channels, so with groups=", groups, " ", wname, " must be (KD, KH, KW, ",
               g.cin / groups, ", Cout), got ", w.shape_str());
  CORENN_CHECK(y.size(0) == g.n && y.size(4) == g.cout, op, ": ", yname, " must have shape (", g.n,
               ", OD, OH, OW, ", g.cout, ") for ", xname, " ", x.shape_str(), " and ", wname, " ",
               w.shape_str(), ", got ", y.shape_str());
  check_geometry_range(op, g);
  // Padding smaller than the dilated kernel, and each output window starting inside the padded
  // input (the last one at (O - 1) * s - p < size).
  const int64_t sizes[3] = {g.d, g.h, g.w}, ks[3] = {g.kd, g.kh, g.kw}, os[3] = {g.od, g.oh, g.ow};
  for (int a = 0; a < 3; ++a) {
    const int64_t ek = (ks[a] - 1) * dilation[a] + 1;
    CORENN_CHECK(padding[a] < ek, op, ": padding ", triple(padding),
                 " must be smaller than the dilated kernel along each axis");
    CORENN_CHECK((os[a] - 1) * strides[a] - padding[a] < sizes[a] &&
                     (os[a] - 1) * strides[a] - padding[a] + ek > 0,
                 op, ": ", yname, " ", y.shape_str(), " does not fit ", xname, " ", x.shape_str(),
                 " with kernel ", w.shape_str(), ", strides ", triple(strides), ", padding ",
                 triple(padding), " and dilation ", triple(dilation));
  }
  return g;
}

void check_bias(const char* op, const char* name, const Tensor& like, const Tensor& bias,
                int64_t channels, const char* out_name, const Tensor& out) {
  check_float32(op, name, bias);
  conv3d_forward_stub.check_device(bias.device());
  check_same_device(op, "x", like, name, bias);
  check_shape(op, name, bias, {channels});
  check_no_alias(op, out_name, out, name, bias);
}

// The transposed conv's own view of the shapes, checked before the swapped conv geometry so the
// message speaks of its arguments: x (N, D, H, W, Cin) against w (KD, KH, KW, Cout, Cin).
void check_transpose_channels(const char* op, const char* xname, const Tensor& x,
                              const char* wname, const Tensor& w) {
  check_dim(op, xname, x, 5);
  check_dim(op, wname, w, 5);
  CORENN_CHECK(w.size(4) == x.size(4), op, ": ", xname, " ", x.shape_str(), " has ", x.size(4),
               " channels but ", wname, " ", w.shape_str(), " (KD, KH, KW, Cout, Cin) expects ",
               w.size(4), " input channels");
}

}  // namespace

void conv3d_forward(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias,
                    const Tensor& y, const std::vector<int64_t>& strides,
                    const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation,
                    int64_t groups) {
  constexpr const char* op = "conv3d_forward";
  for (const Tensor* t : {&x, &w, &y}) conv3d_forward_stub.check_device(t->device());
  const Conv3dGeometry g =
      make_geometry(op, "x", x, "w", w, "y", y, strides, padding, dilation, groups);
  check_writable(op, "y", y);
  if (bias) check_bias(op, "bias", x, *bias, g.cout, "y", y);
  check_no_alias(op, "y", y, "x", x);
  check_no_alias(op, "y", y, "w", w);
  conv3d_forward_stub(x.device())(x, g, x.data<float>(), w.data<float>(),
                                  bias ? bias->data<float>() : nullptr, y.data<float>());
}

void conv3d_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                          const std::vector<int64_t>& strides, const std::vector<int64_t>& padding,
                          const std::vector<int64_t>& dilation, int64_t groups) {
  constexpr const char* op = "conv3d_backward_data";
  for (const Tensor* t : {&dy, &w, &dx}) conv3d_backward_data_stub.check_device(t->device());
  const Conv3dGeometry g =
      make_geometry(op, "dx", dx, "w", w, "dy", dy, strides, padding, dilation, groups);
  check_writable(op, "dx", dx);
  check_no_alias(op, "dx", dx, "dy", dy);
  check_no_alias(op, "dx", dx, "w", w);
  conv3d_backward_data_stub(dx.device())(dx, g, dy.data<float>(), w.data<float>(), nullptr,
                                        dx.data<float>());
}

void conv3d_backward_weights(const Tensor& x, const Tensor& dy, const Tensor& dw,
                             const std::optional<Tensor>& db, const std::vector<int64_t>& strides,
                             const std::vector<int64_t>& padding,
                             const std::vector<int64_t>& dilation, int64_t groups) {
  constexpr const char* op = "conv3d_backward_weights";
  for (const Tensor* t : {&x, &dy, &dw}) conv3d_backward_weights_stub.check_device(t->device());
  const Conv3dGeometry g =
      make_geometry(op, "x", x, "dw", dw, "dy", dy, strides, padding, dilation, groups);
  check_writable(op, "dw", dw);
  if (db) {
    check_bias(op, "db", x, *db, g.cout, "dw", dw);
    check_writable(op, "db", *db);
    check_no_alias(op, "db", *db, "dy", dy);
    check_no_alias(op, "db", *db, "x", x);
  }
  check_no_alias(op, "dw", dw, "x", x);
  check_no_alias(op, "dw", dw, "dy", dy);
  conv3d_backward_weights_stub(x.device())(x, g, x.data<float>(), dy.data<float>(),
                                           dw.data<float>(), db ? db->data<float>() : nullptr,
                                           false);
}

// ---- Conv3DTranspose: the conv3d kernels with x and y swapped (see ops/conv3d.h) --------------

void conv3d_transpose_forward(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias,
                              const Tensor& y, const std::vector<int64_t>& strides,
                              const std::vector<int64_t>& padding,
                              const std::vector<int64_t>& dilation) {
  constexpr const char* op = "conv3d_transpose_forward";
  for (const Tensor* t : {&x, &w, &y}) conv3d_backward_data_stub.check_device(t->device());
  check_transpose_channels(op, "x", x, "w", w);
  // The conv that this transposes maps y (its input) to x (its output).
  const Conv3dGeometry g = make_geometry(op, "y", y, "w", w, "x", x, strides, padding, dilation, 1);
  check_writable(op, "y", y);
  if (bias) check_bias(op, "bias", x, *bias, g.cin, "y", y);
  check_no_alias(op, "y", y, "x", x);
  check_no_alias(op, "y", y, "w", w);
  conv3d_backward_data_stub(x.device())(x, g, x.data<float>(), w.data<float>(),
                                        bias ? bias->data<float>() : nullptr, y.data<float>());
}

void conv3d_transpose_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                                    const std::vector<int64_t>& strides,
                                    const std::vector<int64_t>& padding,
                                    const std::vector<int64_t>& dilation) {
  constexpr const char* op = "conv3d_transpose_backward_data";
  for (const Tensor* t : {&dy, &w, &dx}) conv3d_forward_stub.check_device(t->device());
  check_transpose_channels(op, "dx", dx, "w", w);
  const Conv3dGeometry g = make_geometry(op, "dy", dy, "w", w, "dx", dx, strides, padding, dilation, 1);
  check_writable(op, "dx", dx);
  check_no_alias(op, "dx", dx, "dy", dy);
  check_no_alias(op, "dx", dx, "w", w);
  conv3d_forward_stub(dy.device())(dy, g, dy.data<float>(), w.data<float>(), nullptr,
                                   dx.data<float>());
}

void conv3d_transpose_backward_weights(const Tensor& x, const Tensor& dy, const Tensor& dw,
                                       const std::optional<Tensor>& db,
                                       const std::vector<int64_t>& strides,
                                       const std::vector<int64_t>& padding,
                                       const std::vector<int64_t>& dilation) {
  constexpr const char* op = "conv3d_transpose_backward_weights";
  for (const Tensor* t : {&x, &dy, &dw}) conv3d_backward_weights_stub.check_device(t->device());
  check_transpose_channels(op, "x", x, "dw", dw);
  const Conv3dGeometry g =
      make_geometry(op, "dy", dy, "dw", dw, "x", x, strides, padding, dilation, 1);
  check_writable(op, "dw", dw);
  if (db) {
    check_bias(op, "db", x, *db, g.cin, "dw", dw);
    check_writable(op, "db", *db);
    check_no_alias(op, "db", *db, "dy", dy);
    check_no_alias(op, "db", *db, "x", x);
  }
  check_no_alias(op, "dw", dw, "x", x);
  check_no_alias(op, "dw", dw, "dy", dy);
  // the conv's x is this layer's dy: db sums it
  conv3d_backward_weights_stub(x.device())(x, g, dy.data<float>(), x.data<float>(),
                                           dw.data<float>(), db ? db->data<float>() : nullptr,
                                           true);
}

}  // namespace corenn
