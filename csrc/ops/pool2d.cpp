// Entries for 2-D pooling: check x / y / argmax / dy / dx, compute the geometry, call the kernel.
#include "ops/pool2d.h"

#include <algorithm>
#include <limits>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(MaxPool2dForwardFn, max_pool2d_forward_stub, "max_pool2d_forward");
CORENN_DEFINE_DISPATCH(MaxPool2dBackwardFn, max_pool2d_backward_stub, "max_pool2d_backward");
CORENN_DEFINE_DISPATCH(Pool2dFn, avg_pool2d_forward_stub, "avg_pool2d_forward");
CORENN_DEFINE_DISPATCH(Pool2dFn, avg_pool2d_backward_stub, "avg_pool2d_backward");
CORENN_DEFINE_DISPATCH(GlobalPool2dFn, global_avg_pool2d_forward_stub, "global_avg_pool2d_forward");
CORENN_DEFINE_DISPATCH(GlobalPool2dFn, global_avg_pool2d_backward_stub,
                       "global_avg_pool2d_backward");
CORENN_DEFINE_DISPATCH(GlobalMaxPool2dForwardFn, global_max_pool2d_forward_stub,
                       "global_max_pool2d_forward");
CORENN_DEFINE_DISPATCH(GlobalMaxPool2dBackwardFn, global_max_pool2d_backward_stub,
                       "global_max_pool2d_backward");

namespace {

void check_window(const char* op, const std::vector<int64_t>& pool_size,
                  const std::vector<int64_t>& strides, const std::string& padding) {
  CORENN_CHECK(pool_size.size() == 2 && pool_size[0] > 0 && pool_size[1] > 0, op,
               ": pool_size must be two positive integers, got ", shape_str(pool_size));
  CORENN_CHECK(strides.size() == 2 && strides[0] > 0 && strides[1] > 0, op,
               ": strides must be two positive integers, got ", shape_str(strides));
  CORENN_CHECK(padding == "valid" || padding == "same", op,
               ": padding must be 'valid' or 'same', got '", padding, "'");
}

// TF 'same': before = total / 2 where total = max((out - 1) * stride + k - in, 0). With
// out = ceil(in / stride), (out - 1) * stride < in; k is bounded by check_geometry_range.
int64_t same_pad_before(int64_t in, int64_t out, int64_t k, int64_t stride) {
  const int64_t total = std::max<int64_t>((out - 1) * stride + k - in, 0);
  return total / 2;
}

// The kernels (cpu/pool2d*.cpp) form window starts i*S - P, ends start + K, the covering range
// (p + P - K + 1) / S and argmax values h*W + w (int32, checked in check_image): all bounded by
// 2H + OH*S + 2K per axis ('same' padding P <= (H + K) / 2), validated here to be at most 2^62
// before anything is computed.
void check_geometry_range(const char* op, const std::vector<int64_t>& x_shape,
                          const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                          int64_t oh, int64_t ow) {
  const std::string what = detail::str_cat("pooling x ", shape_str(x_shape), " with pool_size ",
                                           shape_str(pool_size), " and strides ", shape_str(strides));
  for (int axis = 0; axis < 2; ++axis) {
    const int64_t in = x_shape[1 + axis], out = axis == 0 ? oh : ow;
    checked_sum(op, what, {in, in, checked_product(op, what, {out, strides[axis]}),
                           pool_size[axis], pool_size[axis]});
  }
}

// The tensors of one call share a device; whether it has a kernel is the dispatch table's answer.
void check_device(const char* op, const char* arg_a, const Tensor& a, const char* arg_b,
                  const Tensor& b) {
  check_same_device(op, arg_a, a, arg_b, b);
}

void check_image(const char* op, const char* arg, const Tensor& t) {
  check_float32(op, arg, t);
  CORENN_CHECK(t.dim() == 4, op, ": ", arg, " must be (N, H, W, C) (rank 4), got shape ",
               t.shape_str());
  CORENN_CHECK(t.size(1) * t.size(2) <= std::numeric_limits<int32_t>::max(), op, ": ", arg,
               " has H*W = ", t.size(1) * t.size(2), ", more than int32 argmax indices can address");
}

// Validates everything about the windowed ops and returns the flat problem for x (the input side).
Pool2dGeom make_geom(const char* op, const Tensor& x, const char* y_arg, const Tensor& y,
                     const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                     const std::string& padding) {
  check_window(op, pool_size, strides, padding);
  const auto ohw = pool2d_output_hw(op, x.size(1), x.size(2), pool_size, strides, padding);
  check_geometry_range(op, x.shape(), pool_size, strides, ohw[0], ohw[1]);
  check_shape(op, y_arg, y, {x.size(0), ohw[0], ohw[1], x.size(3)});
  Pool2dGeom g{x.size(0), x.size(1), x.size(2), x.size(3), ohw[0], ohw[1],
               pool_size[0], pool_size[1], strides[0], strides[1], 0, 0};
  if (padding == "same") {
    g.pad_top = same_pad_before(g.h, g.oh, g.kh, g.sh);
    g.pad_left = same_pad_before(g.w, g.ow, g.kw, g.sw);
  }
  return g;
}

}  // namespace

std::vector<int64_t> pool2d_output_hw(const char* op, int64_t h, int64_t w,
                                      const std::vector<int64_t>& pool_size,
                                      const std::vector<int64_t>& strides, const std::string& padding) {
  check_window(op, pool_size, strides, padding);
  CORENN_CHECK(h >= 0 && w >= 0, op, ": invalid input size (H, W) = (", h, ", ", w, ")");
  // ceil(h / s) without forming h + s - 1, which overflows for a huge stride
  const auto ceil_div = [](int64_t a, int64_t b) { return a / b + (a % b != 0); };
  if (padding == "same") return {ceil_div(h, strides[0]), ceil_div(w, strides[1])};
  CORENN_CHECK(h >= pool_size[0] && w >= pool_size[1], op, ": pool_size ", shape_str(pool_size),
               " is larger than the input's (H, W) = (", h, ", ", w, ") with padding 'valid'");
  return {(h - pool_size[0]) / strides[0] + 1, (w - pool_size[1]) / strides[1] + 1};
}

// `bad`: the flat index of an argmax entry that is not a cell of its window (or -1). The backward
// would drop that entry's gradient without a word, so the call is refused instead.
static void report_bad_argmax(const char* op, const Tensor& argmax, int64_t bad) {
  CORENN_CHECK(bad < 0, op, ": argmax of shape ", argmax.shape_str(), " holds ",
               argmax.data<int32_t>()[bad], " at flat position ", bad,
               ", which is not a cell of that output's pooling window; pass the argmax that the "
               "forward pass returned");
}

void check_max_pool_argmax(const char* op, const Tensor& argmax, const Pool2dGeom& g) {
  report_bad_argmax(op, argmax, cpu::max_pool2d_first_bad_argmax(g, argmax.data<int32_t>()));
}

void max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                        const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                        const std::string& padding) {
  const char* op = "max_pool2d_forward";
  check_image(op, "x", x);
  check_image(op, "y", y);
  check_dtype(op, "argmax", argmax, DType::int32);
  check_writable(op, "y", y);
  check_writable(op, "argmax", argmax);
  check_device(op, "x", x, "y", y);
  check_device(op, "x", x, "argmax", argmax);
  const Pool2dGeom g = make_geom(op, x, "y", y, pool_size, strides, padding);
  check_same_shape(op, "y", y, "argmax", argmax);
  check_no_alias(op, "x", x, "y", y);
  check_no_alias(op, "x", x, "argmax", argmax);
  check_no_alias(op, "y", y, "argmax", argmax);
  if (y.numel() == 0) return;
  max_pool2d_forward_stub(x.device())(x, g, x.data<float>(), y.data<float>(),
                                      argmax.data<int32_t>());
}

void max_pool2d_backward(const Tensor& dy, const Tensor& argmax, const Tensor& dx,
                         const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                         const std::string& padding) {
  const char* op = "max_pool2d_backward";
  check_image(op, "dy", dy);
  check_image(op, "dx", dx);
  check_writable(op, "dx", dx);
  check_dtype(op, "argmax", argmax, DType::int32);
  check_device(op, "dy", dy, "dx", dx);
  check_device(op, "dy", dy, "argmax", argmax);
  const Pool2dGeom g = make_geom(op, dx, "dy", dy, pool_size, strides, padding);
  check_same_shape(op, "dy", dy, "argmax", argmax);
  check_no_alias(op, "dy", dy, "dx", dx);
  check_no_alias(op, "argmax", argmax, "dx", dx);
  if (dx.numel() == 0) return;
  // An argmax entry outside its window would lose its gradient silently: refuse it. The usual
  // tiled kernel vouches for the argmax as it routes it; otherwise it is checked here.
  if (!max_pool2d_backward_stub(dy.device())(dy, g, dy.data<float>(), argmax.data<int32_t>(),
                                             dx.data<float>()))
    check_max_pool_argmax(op, argmax, g);
}

void avg_pool2d_forward(const Tensor& x, const Tensor& y, const std::vector<int64_t>& pool_size,
                        const std::vector<int64_t>& strides, const std::string& padding) {
  const char* op = "avg_pool2d_forward";
  check_image(op, "x", x);
  check_image(op, "y", y);
  check_writable(op, "y", y);
  check_device(op, "x", x, "y", y);
  const Pool2dGeom g = make_geom(op, x, "y", y, pool_size, strides, padding);
  check_no_alias(op, "x", x, "y", y);
  if (y.numel() == 0) return;
  avg_pool2d_forward_stub(x.device())(x, g, x.data<float>(), y.data<float>());
}

void avg_pool2d_backward(const Tensor& dy, const Tensor& dx, const std::vector<int64_t>& pool_size,
                         const std::vector<int64_t>& strides, const std::string& padding) {
  const char* op = "avg_pool2d_backward";
  check_image(op, "dy", dy);
  check_image(op, "dx", dx);
  check_writable(op, "dx", dx);
  check_device(op, "dy", dy, "dx", dx);
  const Pool2dGeom g = make_geom(op, dx, "dy", dy, pool_size, strides, padding);
  check_no_alias(op, "dy", dy, "dx", dx);
  if (dx.numel() == 0) return;
  avg_pool2d_backward_stub(dy.device())(dy, g, dy.data<float>(), dx.data<float>());
}

namespace {
// Global pooling: x / dx (N, H, W, C) against y / dy (N, C); H*W must be nonzero.
void check_global(const char* op, const char* img_arg, const Tensor& img, const char* vec_arg,
                  const Tensor& vec) {
  check_image(op, img_arg, img);
  check_float32(op, vec_arg, vec);
  check_device(op, img_arg, img, vec_arg, vec);
  check_shape(op, vec_arg, vec, {img.size(0), img.size(3)});
  CORENN_CHECK(img.size(0) == 0 || img.size(3) == 0 || img.size(1) * img.size(2) > 0, op, ": ",
               img_arg, " has an empty image, shape ", img.shape_str());
  check_no_alias(op, img_arg, img, vec_arg, vec);
}
}  // namespace

void global_avg_pool2d_forward(const Tensor& x, const Tensor& y) {
  const char* op = "global_avg_pool2d_forward";
  check_global(op, "x", x, "y", y);
  check_writable(op, "y", y);
  if (y.numel() == 0) return;
  global_avg_pool2d_forward_stub(x.device())(x, x.size(0), x.size(1) * x.size(2), x.size(3),
                                             x.data<float>(), y.data<float>());
}

void global_avg_pool2d_backward(const Tensor& dy, const Tensor& dx) {
  const char* op = "global_avg_pool2d_backward";
  check_global(op, "dx", dx, "dy", dy);
  check_writable(op, "dx", dx);
  if (dy.numel() == 0) return;
  global_avg_pool2d_backward_stub(dy.device())(dy, dx.size(0), dx.size(1) * dx.size(2),
                                               dx.size(3), dy.data<float>(), dx.data<float>());
}

void global_max_pool2d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax) {
  const char* op = "global_max_pool2d_forward";
  check_global(op, "x", x, "y", y);
  check_dtype(op, "argmax", argmax, DType::int32);
  check_writable(op, "y", y);
  check_writable(op, "argmax", argmax);
  check_device(op, "x", x, "argmax", argmax);
  check_same_shape(op, "y", y, "argmax", argmax);
  check_no_alias(op, "x", x, "argmax", argmax);
  check_no_alias(op, "y", y, "argmax", argmax);
  if (y.numel() == 0) return;
  global_max_pool2d_forward_stub(x.device())(x, x.size(0), x.size(1) * x.size(2), x.size(3),
                                             x.data<float>(), y.data<float>(),
                                             argmax.data<int32_t>());
}

void global_max_pool2d_backward(const Tensor& dy, const Tensor& argmax, const Tensor& dx) {
  const char* op = "global_max_pool2d_backward";
  check_global(op, "dx", dx, "dy", dy);
  check_dtype(op, "argmax", argmax, DType::int32);
  check_writable(op, "dx", dx);
  check_device(op, "dy", dy, "argmax", argmax);
  check_same_shape(op, "dy", dy, "argmax", argmax);
  check_no_alias(op, "argmax", argmax, "dx", dx);
  if (dy.numel() == 0) return;
  report_bad_argmax(op, argmax,
                    global_max_pool2d_backward_stub(dy.device())(
                        dy, dx.size(0), dx.size(1) * dx.size(2), dx.size(3), dy.data<float>(),
                        argmax.data<int32_t>(), dx.data<float>()));
}

}  // namespace corenn
