// CPU loop of batched_matmul (ops/batched_matmul.h has the math). The per-item product is the GEMM
// engine's sgemm (no kernel of its own). Items run one after another: sgemm threads inside an
// item, and its per-thread packing workspace must be sized outside any parallel region.
#include <algorithm>

#include "cpu/broadcast.h"
#include "cpu/gemm/gemm.h"
#include "ops/batched_matmul.h"

namespace corenn::cpu {

void batched_matmul(const float* a, const std::vector<int64_t>& a_batch, const float* b,
                    const std::vector<int64_t>& b_batch, float* y,
                    const std::vector<int64_t>& y_batch, int64_t m, int64_t n, int64_t k,
                    bool trans_a, bool trans_b) {
  int64_t items = 1;
  for (int64_t s : y_batch) items *= s;
  if (k == 0) {
    std::fill(y, y + items * m * n, 0.0f);
    return;
  }
  // Item offsets through a broadcast plan over the batch dims (operands: y, a, b), in units of
  // whole matrices.
  const BroadcastPlan p = make_broadcast_plan(y_batch, {y_batch, a_batch, b_batch});
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n, mk = m * k, kn = k * n, mn = m * n;
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
      gemm::sgemm(trans_a, trans_b, m, n, k, 1.0f, a + ia * mk, lda, b + ib * kn, ldb, 0.0f,
                  y + (oy + j) * mn, n, nullptr, gemm::Activation::none);
    }
  }
}

CORENN_REGISTER_KERNEL(batched_matmul_stub, Slot::cpu_ref, batched_matmul);

}  // namespace corenn::cpu
