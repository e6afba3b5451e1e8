// The tiled SGEMM kernel shared by gemm.cu and conv2d.cu (implicit GEMM).
//
//   C (M, N) := act(alpha * A (M, K) @ B (K, N) + beta * C + bias),  C row-major with ldc.
//
// A and B are not arrays but loaders: a(i, k) and b(k, j) return one element, called only inside
// the bounds (i < M, k < K, j < N); outside them the panels are zero-filled. A dense matrix (with
// or without a transpose) is one loader; a convolution's patch matrix, gathered straight from the
// NHWC image with zero padding, is another (no im2col buffer). Each loader says which of its axes
// is contiguous in memory (kAlongK / kAlongN) so the panel loads put consecutive threads there.
//
// Tiling: a 256-thread block owns a 64 x 64 tile of C and walks K in steps of 16. The A and B
// panels are staged in shared memory k-major (one column of A and one row of B per k); each thread
// accumulates a 4 x 4 register tile at rows ty + 16 i, cols tx + 16 j, so a warp reads 16
// consecutive B values (no bank conflicts), broadcasts A values, and the epilogue writes 16
// consecutive floats per half-warp. Double buffering: the next panels are fetched into registers
// while the current ones are multiplied, then land in the other shared buffer: one __syncthreads
// per K step. Accumulation is float32 FMA in K order (no TF32): float32-exact like the CPU.
// Epilogue: beta == 0 never reads C.
//
// Not yet: float4 vector loads where the loader is dense and aligned, 128 x 128 tiles with 8 x 8
// per thread for large problems, split-K for skinny ones, TF32 / tensor cores (opt-in).
#pragma once

#include "cuda/common.cuh"

namespace corenn::cuda::tiled {

constexpr int kBM = 64, kBN = 64, kBK = 16, kTM = 4, kTN = 4;
constexpr int kThreads = (kBM / kTM) * (kBN / kTN);  // 256
constexpr int kLoads = kBM * kBK / kThreads;          // elements of each panel per thread

struct Epilogue {
  float alpha = 1.0f, beta = 0.0f;
  const float* bias = nullptr;  // (N,) or null
  bool relu = false;
};

template <class A, class B>
struct Panels {
  float a[kLoads];
  float b[kLoads];

  __device__ void load(const A& la, const B& lb, int64_t M, int64_t N, int64_t K, int64_t m0,
                       int64_t n0, int64_t k0) {
#pragma unroll
    for (int l = 0; l < kLoads; ++l) {
      const int idx = threadIdx.x + l * kThreads;
      const int i = A::kAlongK ? idx / kBK : idx % kBM;
      const int ka = A::kAlongK ? idx % kBK : idx / kBM;
      a[l] = (m0 + i < M && k0 + ka < K) ? la(m0 + i, k0 + ka) : 0.0f;
      const int j = B::kAlongN ? idx % kBN : idx / kBK;
      const int kb = B::kAlongN ? idx / kBN : idx % kBK;
      b[l] = (n0 + j < N && k0 + kb < K) ? lb(k0 + kb, n0 + j) : 0.0f;
    }
  }

  __device__ void store(float (*As)[kBM], float (*Bs)[kBN]) const {
#pragma unroll
    for (int l = 0; l < kLoads; ++l) {
      const int idx = threadIdx.x + l * kThreads;
      As[A::kAlongK ? idx % kBK : idx / kBM][A::kAlongK ? idx / kBK : idx % kBM] = a[l];
      Bs[B::kAlongN ? idx / kBN : idx % kBK][B::kAlongN ? idx % kBN : idx / kBK] = b[l];
    }
  }
};

template <class A, class B>
__global__ void __launch_bounds__(kThreads)
gemm_kernel(int64_t M, int64_t N, int64_t K, A la, B lb, float* C, int64_t ldc, Epilogue ep) {
  __shared__ float As[2][kBK][kBM];
  __shared__ float Bs[2][kBK][kBN];
  const int tx = threadIdx.x % (kBN / kTN), ty = threadIdx.x / (kBN / kTN);
  const int64_t m0 = int64_t(blockIdx.x) * kBM, n0 = int64_t(blockIdx.y) * kBN;

  float acc[kTM][kTN] = {};
  Panels<A, B> next;
  next.load(la, lb, M, N, K, m0, n0, 0);
  next.store(As[0], Bs[0]);
  __syncthreads();

  int buf = 0;
  for (int64_t k0 = 0; k0 < K; k0 += kBK) {
    const bool more = k0 + kBK < K;
    if (more) next.load(la, lb, M, N, K, m0, n0, k0 + kBK);
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      float a[kTM], b[kTN];
#pragma unroll
      for (int i = 0; i < kTM; ++i) a[i] = As[buf][kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < kTN; ++j) b[j] = Bs[buf][kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < kTM; ++i)
#pragma unroll
        for (int j = 0; j < kTN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    if (more) next.store(As[buf ^ 1], Bs[buf ^ 1]);
    __syncthreads();
    buf ^= 1;
  }

#pragma unroll
  for (int i = 0; i < kTM; ++i) {
    const int64_t gi = m0 + ty + 16 * i;
    if (gi >= M) continue;
#pragma unroll
    for (int j = 0; j < kTN; ++j) {
      const int64_t gj = n0 + tx + 16 * j;
      if (gj >= N) continue;
      float v = ep.alpha * acc[i][j];
      if (ep.beta != 0.0f) v += ep.beta * C[gi * ldc + gj];
      if (ep.bias) v += ep.bias[gj];
      if (ep.relu) v = v < 0.0f ? 0.0f : v;  // NaN stays NaN
      C[gi * ldc + gj] = v;
    }
  }
}

template <class A, class B>
void launch(const char* op, cudaStream_t stream, int64_t M, int64_t N, int64_t K, const A& la,
            const B& lb, float* C, int64_t ldc, const Epilogue& ep) {
  // Row tiles on grid x (up to 2^31 - 1: conv's N*H*W rows), column tiles on y (up to 65535).
  CORENN_CHECK((N + kBN - 1) / kBN <= 65535, op, ": ", N, " columns exceed the CUDA grid limit");
  const dim3 grid(static_cast<unsigned>((M + kBM - 1) / kBM), static_cast<unsigned>((N + kBN - 1) / kBN));
  gemm_kernel<A, B><<<grid, kThreads, 0, stream>>>(M, N, K, la, lb, C, ldc, ep);
  check_launch(op);
}

// Dense row-major operands; kTrans reads the stored matrix transposed.
template <bool kTrans>
struct DenseA {
  static constexpr bool kAlongK = !kTrans;
  const float* p;
  int64_t ld;
  __device__ float operator()(int64_t i, int64_t k) const { return kTrans ? p[k * ld + i] : p[i * ld + k]; }
};

template <bool kTrans>
struct DenseB {
  static constexpr bool kAlongN = !kTrans;
  const float* p;
  int64_t ld;
  __device__ float operator()(int64_t k, int64_t j) const { return kTrans ? p[j * ld + k] : p[k * ld + j]; }
};

}  // namespace corenn::cuda::tiled
