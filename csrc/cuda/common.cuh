// Helpers shared by the .cu files: error checks that become corenn exceptions, the device guard
// every entry uses, and small launch helpers.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "core/check.h"
#include "core/tensor.h"
#include "cuda/runtime.h"

namespace corenn::cuda {

inline void check_cuda(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error so the next call starts clean
    throw RuntimeError(std::string(what) + ": " + cudaGetErrorName(err) + " (" +
                       cudaGetErrorString(err) + ")");
  }
}

// After a launch: configuration errors surface here; faults inside a kernel surface at the next
// synchronising call (run with CUDA_LAUNCH_BLOCKING=1 to pin them to the launch).
inline void check_launch(const char* op) { check_cuda(cudaGetLastError(), op); }

inline cudaStream_t stream_of(const Tensor& t) {
  return static_cast<cudaStream_t>(stream(t.device().index));
}

// Makes t's device current for the kernels an entry launches.
struct DeviceGuard {
  explicit DeviceGuard(const Tensor& t) { set_device(t.device().index); }
};

inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  return static_cast<unsigned>(grid_for(n, threads));
}

// Sum / max over a block (blockDim.x a multiple of 32, at most 1024); `identity` is op's neutral
// element (0 for a sum, -inf or the smallest value for a max). Every thread gets the result.
template <class T, class Op>
__device__ T block_reduce(T v, Op op, T identity) {
  __shared__ T partial[32];
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  __syncthreads();  // partial may still be read by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = lane < warps ? partial[lane] : identity;
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

struct SumOp {
  template <class T>
  __device__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {
  template <class T>
  __device__ T operator()(T a, T b) const { return a > b ? a : b; }
};

}  // namespace corenn::cuda
