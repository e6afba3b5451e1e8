// n-ary sum and scaling (CPU); see ops/sum_n.h.
//
// sum_n: blocks of kBlock elements in parallel; per block the inputs are added in order (x_0 +
// x_1 + ...) into a stack buffer, then stored: y may be any of the inputs, so it is written only
// after every input's block has been read. The adds run across the block and vectorise.
// sum_n_relu_grad: the same, with relu' from y applied to the block before it is stored.
#include <algorithm>

#include "core/parallel.h"
#include "ops/sum_n.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kBlock = 1024;

// y = xs[0] + xs[1] + ... block by block, `finish(i0, block, m)` applied to each block's sums
// before they are stored.
template <class Finish>
void sum_blocks(const std::vector<const float*>& xs, float* y, int64_t n, const Finish& finish) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for(0, blocks, std::max<int64_t>(1, 16384 / kBlock), [&](int64_t lo, int64_t hi) {
    float acc[kBlock];
    for (int64_t blk = lo; blk < hi; ++blk) {
      const int64_t i0 = blk * kBlock, m = std::min(n, i0 + kBlock) - i0;
      std::copy(xs[0] + i0, xs[0] + i0 + m, acc);
      for (size_t k = 1; k < xs.size(); ++k) {
        const float* x = xs[k] + i0;
        for (int64_t j = 0; j < m; ++j) acc[j] += x[j];
      }
      finish(i0, acc, m);
      std::copy(acc, acc + m, y + i0);
    }
  });
}

}  // namespace

void sum_n(const std::vector<const float*>& xs, float* y, int64_t n) {
  sum_blocks(xs, y, n, [](int64_t, float*, int64_t) {});
}

void sum_n_relu_grad(const std::vector<const float*>& dys, const float* y, float* dz, int64_t n) {
  sum_blocks(dys, dz, n, [y](int64_t i0, float* acc, int64_t m) {
    const float* yb = y + i0;
    for (int64_t j = 0; j < m; ++j) acc[j] = yb[j] > 0.0f ? acc[j] : acc[j] * yb[j];
  });
}

void scale(const float* x, float alpha, float* y, int64_t n) {
  parallel_for(0, n, 16384, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) y[i] = alpha * x[i];
  });
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(sum_n_stub, Slot::cpu_ref, sum_n);
CORENN_REGISTER_KERNEL(scale_stub, Slot::cpu_ref, scale);
CORENN_REGISTER_KERNEL(sum_n_relu_grad_stub, Slot::cpu_ref, sum_n_relu_grad);
}  // namespace corenn::cpu
