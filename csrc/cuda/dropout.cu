// Dropout kernels (CUDA), as cpu/dropout.cpp:
//   forward:  mask[i] = u(seed, i) >= rate ? 1 / (1 - rate) : 0,  y[i] = x[i] * mask[i]
//   backward: dx[i] = dy[i] * mask[i]
// Flat arrays of n floats. u is core/rng.h's counter-based uniform01 (compiled for the device
// too), a function of (seed, i) only: the GPU draws exactly the CPU's mask for the same seed.
#include "core/rng.h"
#include "cuda/common.cuh"
#include "cuda/dropout.h"

namespace corenn::cuda {

namespace {

__global__ void dropout_forward_kernel(const float* x, float* y, float* mask, int64_t n, float rate,
                                       float keep_scale, uint64_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float m = uniform01(seed, static_cast<uint64_t>(i)) >= rate ? keep_scale : 0.0f;
    mask[i] = m;
    y[i] = x[i] * m;
  }
}

__global__ void dropout_backward_kernel(const float* dy, const float* mask, float* dx, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = dy[i] * mask[i];
}

}  // namespace

void dropout_forward(const Tensor& x, const Tensor& y, const Tensor& mask, float rate, uint64_t seed) {
  DeviceGuard guard(x);
  dropout_forward_kernel<<<blocks_for(x.numel()), kThreads, 0, stream_of(x)>>>(
      x.data<float>(), y.data<float>(), mask.data<float>(), x.numel(), rate, 1.0f / (1.0f - rate),
      seed);
  check_launch("dropout_forward");
}

void dropout_backward(const Tensor& dy, const Tensor& mask, const Tensor& dx) {
  DeviceGuard guard(dy);
  dropout_backward_kernel<<<blocks_for(dy.numel()), kThreads, 0, stream_of(dy)>>>(
      dy.data<float>(), mask.data<float>(), dx.data<float>(), dy.numel());
  check_launch("dropout_backward");
}

}  // namespace corenn::cuda

namespace corenn {
CORENN_REGISTER_KERNEL(dropout_forward_stub, Slot::cuda, cuda::dropout_forward);
CORENN_REGISTER_KERNEL(dropout_backward_stub, Slot::cuda, cuda::dropout_backward);
}  // namespace corenn
