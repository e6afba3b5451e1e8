// pool3d entries: validate the call, derive the geometry, dispatch by device (ops/pool3d.h).
#include "ops/pool3d.h"

#include <limits>

#include "core/check.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(MaxPool3dForwardFn, max_pool3d_forward_stub, "max_pool3d_forward");
CORENN_DEFINE_DISPATCH(MaxPool3dBackwardFn, max_pool3d_backward_stub, "max_pool3d_backward");
CORENN_DEFINE_DISPATCH(Pool3dFn, avg_pool3d_forward_stub, "avg_pool3d_forward");
CORENN_DEFINE_DISPATCH(Pool3dFn, avg_pool3d_backward_stub, "avg_pool3d_backward");

namespace {

void check_window(const char* op, const std::vector<int64_t>& pool_size,
                  const std::vector<int64_t>& strides, const std::string& padding) {
  CORENN_CHECK(pool_size.size() == 3, op, ": pool_size must have 3 entries (D, H, W), got ",
               shape_str(pool_size));
  CORENN_CHECK(strides.size() == 3, op, ": strides must have 3 entries (D, H, W), got ",
               shape_str(strides));
  for (int a = 0; a < 3; ++a)
    CORENN_CHECK(pool_size[a] > 0 && strides[a] > 0, op, ": pool_size ", shape_str(pool_size),
                 " and strides ", shape_str(strides), " must be positive");
  CORENN_CHECK(padding == "valid" || padding == "same", op,
               ": padding must be 'valid' or 'same', got '", padding, "'");
}

// Checks a volume x (N, D, H, W, C) and the output-shaped y against the window; returns the
// geometry. Every index the kernels form is below N*D*H*W*C or the window volume (checked).
Pool3dGeom make_geom(const char* op, const char* xname, const Tensor& x, const char* yname,
                     const Tensor& y, const std::vector<int64_t>& pool_size,
                     const std::vector<int64_t>& strides, const std::string& padding) {
  check_float32(op, xname, x);
  check_float32(op, yname, y);
  check_dim(op, xname, x, 5);
  check_dim(op, yname, y, 5);
  check_same_device(op, xname, x, yname, y);
  check_nonempty(op, xname, x);
  const auto out = pool3d_output_dhw(op, {x.size(1), x.size(2), x.size(3)}, pool_size, strides,
                                     padding);
  check_shape(op, yname, y, {x.size(0), out[0], out[1], out[2], x.size(4)});
  checked_product(op, "the pooling window", {pool_size[0], pool_size[1], pool_size[2]});
  CORENN_CHECK(x.size(1) * x.size(2) * x.size(3) <= std::numeric_limits<int32_t>::max(), op, ": ",
               xname, " ", x.shape_str(), " has more cells per volume than int32 argmax indices "
               "can address");
  Pool3dGeom g{x.size(0), x.size(1), x.size(2), x.size(3), x.size(4), out[0], out[1], out[2],
               pool_size[0], pool_size[1], pool_size[2], strides[0], strides[1], strides[2],
               0, 0, 0};
  if (padding == "same") {
    // TensorFlow's rule: the odd padded cell goes after
    const auto before = [](int64_t in, int64_t o, int64_t k, int64_t s) {
      const int64_t total = (o - 1) * s + k - in;
      return total > 0 ? total / 2 : int64_t{0};
    };
    g.pf = before(g.d, g.od, g.kd, g.sd);
    g.pt = before(g.h, g.oh, g.kh, g.sh);
    g.pl = before(g.w, g.ow, g.kw, g.sw);
  }
  return g;
}

}  // namespace

std::vector<int64_t> pool3d_output_dhw(const char* op, const std::vector<int64_t>& dhw,
                                       const std::vector<int64_t>& pool_size,
                                       const std::vector<int64_t>& strides,
                                       const std::string& padding) {
  check_window(op, pool_size, strides, padding);
  CORENN_CHECK(dhw.size() == 3 && dhw[0] >= 0 && dhw[1] >= 0 && dhw[2] >= 0, op,
               ": invalid input size (D, H, W) = ", shape_str(dhw));
  std::vector<int64_t> out(3);
  for (int a = 0; a < 3; ++a) {
    if (padding == "same") {
      out[a] = dhw[a] / strides[a] + (dhw[a] % strides[a] != 0);  // ceil without overflow
    } else {
      CORENN_CHECK(dhw[a] >= pool_size[a], op, ": pool_size ", shape_str(pool_size),
                   " is larger than the input's (D, H, W) = ", shape_str(dhw),
                   " with padding 'valid'");
      out[a] = (dhw[a] - pool_size[a]) / strides[a] + 1;
    }
  }
  return out;
}

void max_pool3d_forward(const Tensor& x, const Tensor& y, const Tensor& argmax,
                        const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                        const std::string& padding) {
  const char* op = "max_pool3d_forward";
  for (const Tensor* t : {&x, &y, &argmax}) max_pool3d_forward_stub.check_device(t->device());
  const Pool3dGeom g = make_geom(op, "x", x, "y", y, pool_size, strides, padding);
  check_dtype(op, "argmax", argmax, DType::int32);
  check_same_device(op, "x", x, "argmax", argmax);
  check_same_shape(op, "y", y, "argmax", argmax);
  check_writable(op, "y", y);
  check_writable(op, "argmax", argmax);
  check_no_alias(op, "x", x, "y", y);
  check_no_alias(op, "x", x, "argmax", argmax);
  check_no_alias(op, "y", y, "argmax", argmax);
  max_pool3d_forward_stub(x.device())(x, g, x.data<float>(), y.data<float>(),
                                      argmax.data<int32_t>());
}

void max_pool3d_backward(const Tensor& dy, const Tensor& argmax, const Tensor& dx,
                         const std::vector<int64_t>& pool_size, const std::vector<int64_t>& strides,
                         const std::string& padding) {
  const char* op = "max_pool3d_backward";
  for (const Tensor* t : {&dy, &argmax, &dx}) max_pool3d_backward_stub.check_device(t->device());
  const Pool3dGeom g = make_geom(op, "dx", dx, "dy", dy, pool_size, strides, padding);
  check_dtype(op, "argmax", argmax, DType::int32);
  check_same_device(op, "dy", dy, "argmax", argmax);
  check_same_shape(op, "dy", dy, "argmax", argmax);
  check_writable(op, "dx", dx);
  check_no_alias(op, "dx", dx, "dy", dy);
  check_no_alias(op, "dx", dx, "argmax", argmax);
  const int64_t bad = max_pool3d_backward_stub(dy.device())(dy, g, dy.data<float>(),
                                                            argmax.data<int32_t>(),
                                                            dx.data<float>());
  CORENN_CHECK(bad < 0, op, ": argmax of shape ", argmax.shape_str(), " holds ",
               bad < 0 ? 0 : argmax.data<int32_t>()[bad], " at flat position ", bad,
               ", which is not a cell of that output's pooling window; pass the argmax that the "
               "forward pass returned");
}

void avg_pool3d_forward(const Tensor& x, const Tensor& y, const std::vector<int64_t>& pool_size,
                        const std::vector<int64_t>& strides, const std::string& padding) {
  const char* op = "avg_pool3d_forward";
  for (const Tensor* t : {&x, &y}) avg_pool3d_forward_stub.check_device(t->device());
  const Pool3dGeom g = make_geom(op, "x", x, "y", y, pool_size, strides, padding);
  check_writable(op, "y", y);
  check_no_alias(op, "x", x, "y", y);
  avg_pool3d_forward_stub(x.device())(x, g, x.data<float>(), y.data<float>());
}

void avg_pool3d_backward(const Tensor& dy, const Tensor& dx, const std::vector<int64_t>& pool_size,
                         const std::vector<int64_t>& strides, const std::string& padding) {
  const char* op = "avg_pool3d_backward";
  for (const Tensor* t : {&dy, &dx}) avg_pool3d_backward_stub.check_device(t->device());
  const Pool3dGeom g = make_geom(op, "dx", dx, "dy", dy, pool_size, strides, padding);
  check_writable(op, "dx", dx);
  check_no_alias(op, "dx", dx, "dy", dy);
  avg_pool3d_backward_stub(dy.device())(dy, g, dy.data<float>(), dx.data<float>());
}

}  // namespace corenn
