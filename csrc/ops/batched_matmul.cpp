// Entry and CPU loop of batched_matmul; see batched_matmul.h. The per-item product is the GEMM
// engine's sgemm (no kernel of its own). Items run one after another: sgemm threads inside an
// item, and its per-thread packing workspace must be sized outside any parallel region.
#include "ops/batched_matmul.h"

#include <algorithm>

#include "cpu/broadcast.h"
#include "cpu/gemm/gemm.h"
#include "ops/tensor_math_common.h"

namespace corenn {

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
  check_cpu_float32(kOp, "a", a);
  check_cpu_float32(kOp, "b", b);
  check_cpu_float32(kOp, "y", y);
  check_writable(kOp, "y", y);
  check_shape(kOp, "y", y, batched_matmul_output_shape(a.shape(), b.shape(), trans_a, trans_b));
  check_no_alias(kOp, "y", y, "a", a);
  check_no_alias(kOp, "y", y, "b", b);
  if (y.numel() == 0) return;
  float* py = y.data<float>();
  const Dims d = dims_of(a.shape(), b.shape(), trans_a, trans_b);
  if (d.k == 0) {
    std::fill(py, py + y.numel(), 0.0f);
    return;
  }
  // Item offsets through a broadcast plan over the batch dims (operands: y, a, b), in units of
  // whole matrices.
  std::vector<int64_t> batch(y.shape().begin(), y.shape().end() - 2);
  const cpu::BroadcastPlan p = cpu::make_broadcast_plan(batch, {batch, d.batch_a, d.batch_b});
  const int64_t lda = a.size(-1), ldb = b.size(-1), mk = d.m * d.k, kn = d.k * d.n,
                mn = d.m * d.n;
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  const int64_t rows = p.numel / p.inner();
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rest = r, oa = 0, ob = 0, oy = 0;
    for (int64_t dd = static_cast<int64_t>(p.dims.size()) - 2; dd >= 0; --dd) {
      const int64_t i = rest % p.dims[dd];
      rest /= p.dims[dd];
      oy += i * p.strides[0][dd], oa += i * p.strides[1][dd], ob += i * p.strides[2][dd];
    }
    for (int64_t j = 0; j < p.inner(); ++j) {
      const int64_t ia = oa + j * p.inner_stride(1), ib = ob + j * p.inner_stride(2);
      cpu::gemm::sgemm(trans_a, trans_b, d.m, d.n, d.k, 1.0f, pa + ia * mk, lda, pb + ib * kn, ldb,
                       0.0f, py + (oy + j) * mn, d.n, nullptr, cpu::gemm::Activation::none);
    }
  }
}

}  // namespace corenn
