// Entry of batched_matmul: shapes, dtype, device, aliasing; see batched_matmul.h. The loop over
// the items is cpu/batched_matmul.cpp.
#include "ops/batched_matmul.h"

#include <algorithm>

#include "ops/tensor_math_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(BatchedMatmulFn, batched_matmul_stub, "batched_matmul");

namespace {

constexpr const char* kOp = "batched_matmul";

struct Dims {
  int64_t m, k, kb, n;
  std::vector<int64_t> batch_a, batch_b;
};

Dims dims_of(const std::vector<int64_t>& a, const std::vector<int64_t>& b, bool ta, bool tb) {
  CORENN_CHECK(a.size() >= 2 && b.size() >= 2, kOp, ": a and b must have rank >= 2 (..., rows, ",
               "cols), got shapes ", shape_str(a), " and ", shape_str(b));
  const size_t ra = a.size(), rb = b.size();
  Dims d;
  d.m = ta ? a[ra - 1] : a[ra - 2];
  d.k = ta ? a[ra - 2] : a[ra - 1];
  d.kb = tb ? b[rb - 1] : b[rb - 2];
  d.n = tb ? b[rb - 2] : b[rb - 1];
  CORENN_CHECK(d.k == d.kb, kOp, ": a has shape ", shape_str(a), ta ? " (transposed)" : "",
               " and b has shape ", shape_str(b), tb ? " (transposed)" : "",
               ": inner dimensions differ (", d.k, " vs ", d.kb, ")");
  d.batch_a.assign(a.begin(), a.end() - 2);
  d.batch_b.assign(b.begin(), b.end() - 2);
  return d;
}

}  // namespace

std::vector<int64_t> batched_matmul_output_shape(const std::vector<int64_t>& a,
                                                 const std::vector<int64_t>& b, bool trans_a,
                                                 bool trans_b) {
  const Dims d = dims_of(a, b, trans_a, trans_b);
  std::vector<int64_t> y = broadcast_shapes(kOp, "a's batch dims", d.batch_a, "b's batch dims",
                                            d.batch_b);
  y.push_back(d.m);
  y.push_back(d.n);
  return y;
}

void batched_matmul(const Tensor& a, const Tensor& b, const Tensor& y, bool trans_a, bool trans_b) {
  check_float32_on(batched_matmul_stub, kOp, "a", a);
  check_float32_on(batched_matmul_stub, kOp, "b", b);
  check_float32_on(batched_matmul_stub, kOp, "y", y);
  check_writable(kOp, "y", y);
  check_shape(kOp, "y", y, batched_matmul_output_shape(a.shape(), b.shape(), trans_a, trans_b));
  check_no_alias(kOp, "y", y, "a", a);
  check_no_alias(kOp, "y", y, "b", b);
  if (y.numel() == 0) return;
  const Dims d = dims_of(a.shape(), b.shape(), trans_a, trans_b);
  const std::vector<int64_t> batch(y.shape().begin(), y.shape().end() - 2);
  batched_matmul_stub(y.device())(a.data<float>(), d.batch_a, b.data<float>(), d.batch_b,
                                  y.data<float>(), batch, d.m, d.n, d.k, trans_a, trans_b);
}

}  // namespace corenn
