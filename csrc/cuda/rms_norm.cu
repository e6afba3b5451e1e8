// RMS normalization (CUDA), x viewed as (rows, d); the CPU kernels' math and precision
// (cpu/rms_norm.cpp): row sums in double, per-element products in float in the same order.
//
// forward / dx: one block per row (grid-stride over rows), each thread sums its strided share of
//   the row in double, block_reduce adds the shares (every thread gets the sum), then the row is
//   written. Each thread writes only the elements it read, after the reduction's barrier, so
//   y may be x and dx may be dy.
// dgamma: the bias gradient's layout (cuda/bias_grad.cu): a block of 32 x 8 threads owns 32
//   adjacent features, the 8 thread rows stride over the rows, and a shared-memory pass adds
//   their double partials in a fixed order, so the result does not depend on the launch.
#include "cuda/common.cuh"
#include "cuda/rms_norm.h"
#include "ops/rms_norm.h"

namespace corenn::cuda {

namespace {

constexpr int kCols = 32, kRowThreads = 8;
constexpr unsigned kMaxRowBlocks = 65535;

unsigned row_blocks(int64_t rows) {
  return static_cast<unsigned>(rows < kMaxRowBlocks ? rows : kMaxRowBlocks);
}

__global__ void forward_kernel(const float* x, const float* __restrict__ gamma, float* y,
                               float* __restrict__ inv_rms, int64_t rows, int64_t d,
                               double epsilon) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    double ss = 0.0;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) ss += double(xr[j]) * xr[j];
    ss = block_reduce(ss, SumOp{}, 0.0);
    const float inv = static_cast<float>(1.0 / sqrt(ss / d + epsilon));
    if (threadIdx.x == 0) inv_rms[r] = inv;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
      const float v = xr[j] * inv;
      yr[j] = gamma ? v * gamma[j] : v;
    }
  }
}

__global__ void dx_kernel(const float* dy, const float* __restrict__ x,
                          const float* __restrict__ gamma, const float* __restrict__ inv_rms,
                          float* dx, int64_t rows, int64_t d) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* dyr = dy + r * d;
    const float* xr = x + r * d;
    float* dxr = dx + r * d;
    const float inv = inv_rms[r];
    double s = 0.0;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
      const float g = gamma ? dyr[j] * gamma[j] : dyr[j];
      s += double(g) * (xr[j] * inv);
    }
    s = block_reduce(s, SumOp{}, 0.0);
    const float b = static_cast<float>(s / d);
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
      const float g = gamma ? dyr[j] * gamma[j] : dyr[j];
      dxr[j] = inv * (g - xr[j] * inv * b);
    }
  }
}

__global__ void dgamma_kernel(const float* __restrict__ dy, const float* __restrict__ x,
                              const float* __restrict__ inv_rms, float* __restrict__ dgamma,
                              int64_t rows, int64_t d) {
  __shared__ double partial[kRowThreads][kCols + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t j = int64_t(blockIdx.x) * kCols + tx;
  double s = 0.0;
  if (j < d)
    for (int64_t r = ty; r < rows; r += kRowThreads)
      s += double(dy[r * d + j]) * (x[r * d + j] * inv_rms[r]);
  partial[ty][tx] = s;
  __syncthreads();
  if (ty == 0 && j < d) {
    for (int t = 1; t < kRowThreads; ++t) s += partial[t][tx];
    dgamma[j] = static_cast<float>(s);
  }
}

}  // namespace

void rms_norm_forward(const Tensor& like, const float* x, const float* gamma, float* y,
                      float* inv_rms, int64_t rows, int64_t d, double epsilon) {
  DeviceGuard guard(like);
  forward_kernel<<<row_blocks(rows), kThreads, 0, stream_of(like)>>>(x, gamma, y, inv_rms, rows, d,
                                                                     epsilon);
  check_launch("rms_norm_forward");
}

void rms_norm_backward(const Tensor& like, const float* dy, const float* x, const float* gamma,
                       const float* inv_rms, float* dx, float* dgamma, int64_t rows, int64_t d) {
  DeviceGuard guard(like);
  const cudaStream_t s = stream_of(like);
  // dgamma first: it reads dy, which dx may overwrite.
  if (dgamma) {
    const unsigned grid = static_cast<unsigned>((d + kCols - 1) / kCols);
    dgamma_kernel<<<grid, dim3(kCols, kRowThreads), 0, s>>>(dy, x, inv_rms, dgamma, rows, d);
  }
  if (dx) dx_kernel<<<row_blocks(rows), kThreads, 0, s>>>(dy, x, gamma, inv_rms, dx, rows, d);
  check_launch("rms_norm_backward");
}

}  // namespace corenn::cuda

namespace corenn {
CORENN_REGISTER_KERNEL(rms_norm_forward_stub, Slot::cuda, cuda::rms_norm_forward);
CORENN_REGISTER_KERNEL(rms_norm_backward_stub, Slot::cuda, cuda::rms_norm_backward);
}  // namespace corenn
