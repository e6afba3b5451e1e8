// The implicit-GEMM loaders of the patch matrix P (tiled_gemm.cuh's A operand), shared by
// conv2d.cu and conv3d.cu: each file defines `patch(g, x, m, k)` = P[m, k] for its geometry type
// G, found by argument-dependent lookup.
#pragma once

#include <cstdint>

namespace corenn::cuda {

template <class G>
struct PatchA {  // forward: A = P, contiguous along ci = the k axis
  static constexpr bool kAlongK = true;
  G g;
  const float* x;
  __device__ float operator()(int64_t m, int64_t k) const { return patch(g, x, m, k); }
};

template <class G>
struct PatchTransposedA {  // backward_weights: A = P^T, contiguous along its row index (ci)
  static constexpr bool kAlongK = false;
  G g;
  const float* x;
  __device__ float operator()(int64_t k, int64_t m) const { return patch(g, x, m, k); }
};

}  // namespace corenn::cuda
