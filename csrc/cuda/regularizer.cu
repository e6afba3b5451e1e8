// Weight regularizer (CUDA), as cpu/regularizer.cpp:
//   penalty = l1 sum_i |w_i| + l2 sum_i w_i^2
//   grad_i += l1 sign(w_i) + 2 l2 w_i          (sign(0) = 0; only when grad is given)
// One grid-stride pass does the gradient and per-block double partial sums of |w| and w^2; the
// partials (one pair per block, a fixed grid) come back to the host and are added in block
// order, so the penalty is deterministic. The copy back synchronises: the penalty is a Python
// float the caller adds to the loss.
#include <vector>

#include "cuda/common.cuh"
#include "cuda/regularizer.h"

namespace corenn::cuda {

namespace {

constexpr int kBlocks = 256;

__global__ void penalty_kernel(const float* w, float* grad, int64_t n, float l1, float l2,
                               double* partial) {
  double s1 = 0.0, s2 = 0.0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float v = w[i];
    s1 += fabsf(v);
    s2 += double(v) * v;
    if (grad) grad[i] += l1 * float((v > 0.0f) - (v < 0.0f)) + 2.0f * l2 * v;
  }
  s1 = block_reduce(s1, SumOp{}, 0.0);
  s2 = block_reduce(s2, SumOp{}, 0.0);
  if (threadIdx.x == 0) {
    partial[2 * blockIdx.x] = s1;
    partial[2 * blockIdx.x + 1] = s2;
  }
}

}  // namespace

double regularizer_penalty(const Tensor& like, const float* w, float* grad, int64_t n, float l1,
                           float l2) {
  DeviceGuard guard(like);
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(kBlocks, grid_for(n)));
  Tensor partial = Tensor::empty({2 * int64_t(blocks)}, DType::int64, like.device());
  penalty_kernel<<<blocks, kThreads, 0, stream_of(like)>>>(w, grad, n, l1, l2,
                                                           partial.data<double>());
  check_launch("regularizer");
  std::vector<double> host(2 * blocks);
  cuda::copy_bytes(host.data(), Device{}, partial.raw_data(), like.device(),
                   host.size() * sizeof(double));
  double s1 = 0.0, s2 = 0.0;
  for (unsigned b = 0; b < blocks; ++b) {
    s1 += host[2 * b];
    s2 += host[2 * b + 1];
  }
  return double(l1) * s1 + double(l2) * s2;
}

}  // namespace corenn::cuda

namespace corenn {
CORENN_REGISTER_KERNEL(regularizer_penalty_stub, Slot::cuda, cuda::regularizer_penalty);
}  // namespace corenn
