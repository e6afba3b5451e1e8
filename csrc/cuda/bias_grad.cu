// Bias gradient (CUDA): db[j] = sum over rows r of dy[r, j]; dy viewed as (rows, C) contiguous.
//
// A block of 32 x 8 threads owns 32 adjacent columns: each warp row reads 32 consecutive floats
// (coalesced), the 8 thread rows stride over the rows, and a shared-memory pass adds the 8
// partial sums. Accumulation in double (rows can be N*H*W in a conv net) and in a fixed order:
// the result does not depend on the launch, so it is deterministic run to run. Very tall,
// narrow dy (few columns, many rows) leaves most SMs idle: a split-rows variant would help there.
#include "cuda/bias_grad.h"
#include "cuda/common.cuh"

namespace corenn::cuda {

namespace {

constexpr int kCols = 32, kRowThreads = 8;

__global__ void bias_grad_kernel(const float* __restrict__ dy, float* __restrict__ db, int64_t rows,
                                 int64_t cols) {
  __shared__ double partial[kRowThreads][kCols + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t j = int64_t(blockIdx.x) * kCols + tx;
  double s = 0.0;
  if (j < cols)
    for (int64_t r = ty; r < rows; r += kRowThreads) s += dy[r * cols + j];
  partial[ty][tx] = s;
  __syncthreads();
  if (ty == 0 && j < cols) {
    for (int t = 1; t < kRowThreads; ++t) s += partial[t][tx];
    db[j] = static_cast<float>(s);
  }
}

}  // namespace

void bias_grad(const Tensor& like, const float* dy, float* db, int64_t rows, int64_t cols) {
  DeviceGuard guard(like);
  const unsigned grid = static_cast<unsigned>((cols + kCols - 1) / kCols);
  bias_grad_kernel<<<grid, dim3(kCols, kRowThreads), 0, stream_of(like)>>>(dy, db, rows, cols);
  check_launch("bias_grad");
}

void bias_grad(const Tensor& dy, const Tensor& db) {
  bias_grad(dy, dy.data<float>(), db.data<float>(), dy.rows(), dy.cols());
}

}  // namespace corenn::cuda

namespace corenn {
CORENN_REGISTER_KERNEL(bias_grad_stub, Slot::cuda,
                       static_cast<BiasGradFn>(&cuda::bias_grad));
}  // namespace corenn
