// The window arithmetic shared by the CUDA pooling kernels (pool2d.cu, pool3d.cu), one axis at a
// time: window i starts at i * stride - pad and is clipped to the input, so padded cells are
// never part of it.
#pragma once

#include <cstdint>

namespace corenn::cuda {

struct Range {
  int64_t lo, hi;
};

// The real cells [lo, hi) of window i along one axis of `size` cells.
__device__ inline Range window(int64_t i, int64_t stride, int64_t pad, int64_t k, int64_t size) {
  const int64_t start = i * stride - pad;
  return Range{start > 0 ? start : 0, start + k < size ? start + k : size};
}

// Output windows [lo, hi) (of `out`) whose span covers input position p.
__device__ inline Range covering(int64_t p, int64_t stride, int64_t pad, int64_t k, int64_t out) {
  const int64_t a = p + pad - k + 1;  // first window start that still reaches p
  int64_t lo = a <= 0 ? 0 : (a + stride - 1) / stride;
  int64_t hi = (p + pad) / stride + 1;
  if (hi > out) hi = out;
  if (lo > hi) lo = hi;
  return Range{lo, hi};
}

}  // namespace corenn::cuda

// A grid-stride loop over [0, n): every element once, whatever the launch size.
#define CORENN_GRID_STRIDE(i, n)                                              \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += int64_t(gridDim.x) * blockDim.x)
