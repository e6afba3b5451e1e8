// SGEMM on CUDA with a fused epilogue.
//
//   C := act(alpha * op(A) @ op(B) + beta * C + bias)
//   op(A) (M, K): A is (M, K) row-major with leading dimension lda, or (K, M) when trans_a;
//   op(B) (K, N): B is (K, N), or (N, K) when trans_b;  C (M, N), ldc;  bias (N,);  act none|relu.
//
// Algorithm (one variant for every shape for now): each 256-thread block owns a 64 x 64 tile of C
// and walks K in steps of 16. A 64 x 16 panel of op(A) and a 16 x 64 panel of op(B) are staged in
// shared memory, k-major, so the inner product reads one column of A and one row of B per k; the
// transposes are absorbed by the loads (each variant reads global memory along its contiguous
// axis). Each thread accumulates a 4 x 4 register tile at rows ty + 16 i, cols tx + 16 j: a warp
// reads 16 consecutive B values (no bank conflicts) and broadcasts A values, and the epilogue
// stores 16 consecutive floats per half-warp. Double buffering: the next panels are fetched into
// registers while the current ones are multiplied, and land in the second shared buffer, so one
// __syncthreads per K step suffices. Edges are zero-filled on load and masked on store.
// Accumulation is float32 FMA in K order: no TF32 (float32-exact, like the CPU path).
// Epilogue: beta == 0 never reads C (C may hold NaN garbage from an empty() allocation).
//
// Not yet: vectorised float4 loads (need lda % 4 == 0 and aligned bases), 128 x 128 tiles with
// 8 x 8 per thread for large problems, split-K for skinny ones, TF32 tensor cores (opt-in).
#include "cuda/common.cuh"
#include "cuda/gemm.h"

namespace corenn::cuda {

namespace {

constexpr int kBM = 64, kBN = 64, kBK = 16, kTM = 4, kTN = 4;
constexpr int kGemmThreads = (kBM / kTM) * (kBN / kTN);  // 256
constexpr int kLoads = kBM * kBK / kGemmThreads;         // 4 elements of each panel per thread

struct Panels {
  float a[kLoads];
  float b[kLoads];
};

template <bool kTransA, bool kTransB>
__device__ void load_panels(Panels& r, const float* __restrict__ A, const float* __restrict__ B,
                            int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t m0,
                            int64_t n0, int64_t k0) {
#pragma unroll
  for (int l = 0; l < kLoads; ++l) {
    const int idx = threadIdx.x + l * kGemmThreads;
    // A panel element (row i, depth kk); read along A's contiguous axis.
    const int i = kTransA ? idx % kBM : idx / kBK;
    const int kk = kTransA ? idx / kBM : idx % kBK;
    const int64_t gi = m0 + i, gk = k0 + kk;
    r.a[l] = (gi < M && gk < K) ? (kTransA ? A[gk * lda + gi] : A[gi * lda + gk]) : 0.0f;
    const int j = kTransB ? idx / kBK : idx % kBN;
    const int kb = kTransB ? idx % kBK : idx / kBN;
    const int64_t gj = n0 + j, gkb = k0 + kb;
    r.b[l] = (gj < N && gkb < K) ? (kTransB ? B[gj * ldb + gkb] : B[gkb * ldb + gj]) : 0.0f;
  }
}

template <bool kTransA, bool kTransB>
__device__ void store_panels(const Panels& r, float (*As)[kBM], float (*Bs)[kBN]) {
#pragma unroll
  for (int l = 0; l < kLoads; ++l) {
    const int idx = threadIdx.x + l * kGemmThreads;
    const int i = kTransA ? idx % kBM : idx / kBK;
    const int kk = kTransA ? idx / kBM : idx % kBK;
    As[kk][i] = r.a[l];
    const int j = kTransB ? idx / kBK : idx % kBN;
    const int kb = kTransB ? idx % kBK : idx / kBN;
    Bs[kb][j] = r.b[l];
  }
}

template <bool kTransA, bool kTransB>
__global__ void __launch_bounds__(kGemmThreads)
sgemm_kernel(int64_t M, int64_t N, int64_t K, float alpha, const float* __restrict__ A,
             int64_t lda, const float* __restrict__ B, int64_t ldb, float beta, float* C,
             int64_t ldc, const float* __restrict__ bias, bool relu) {
  __shared__ float As[2][kBK][kBM];
  __shared__ float Bs[2][kBK][kBN];
  const int tx = threadIdx.x % (kBN / kTN), ty = threadIdx.x / (kBN / kTN);
  const int64_t m0 = int64_t(blockIdx.y) * kBM, n0 = int64_t(blockIdx.x) * kBN;

  float acc[kTM][kTN] = {};
  Panels next;
  load_panels<kTransA, kTransB>(next, A, B, M, N, K, lda, ldb, m0, n0, 0);
  store_panels<kTransA, kTransB>(next, As[0], Bs[0]);
  __syncthreads();

  int buf = 0;
  for (int64_t k0 = 0; k0 < K; k0 += kBK) {
    const bool more = k0 + kBK < K;
    if (more) load_panels<kTransA, kTransB>(next, A, B, M, N, K, lda, ldb, m0, n0, k0 + kBK);
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
    if (more) store_panels<kTransA, kTransB>(next, As[buf ^ 1], Bs[buf ^ 1]);
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
      float v = alpha * acc[i][j];
      if (beta != 0.0f) v += beta * C[gi * ldc + gj];
      if (bias) v += bias[gj];
      if (relu) v = v > 0.0f ? v : 0.0f;
      C[gi * ldc + gj] = v;
    }
  }
}

}  // namespace

void sgemm(const Tensor& like, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
           float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
           float* c, int64_t ldc, const float* bias, bool relu) {
  DeviceGuard guard(like);
  CORENN_CHECK((m + kBM - 1) / kBM <= 65535, "gemm: m = ", m, " exceeds the CUDA grid limit");
  const dim3 grid(static_cast<unsigned>((n + kBN - 1) / kBN), static_cast<unsigned>((m + kBM - 1) / kBM));
  const cudaStream_t s = stream_of(like);
  if (!trans_a && !trans_b)
    sgemm_kernel<false, false><<<grid, kGemmThreads, 0, s>>>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, relu);
  else if (!trans_a && trans_b)
    sgemm_kernel<false, true><<<grid, kGemmThreads, 0, s>>>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, relu);
  else if (trans_a && !trans_b)
    sgemm_kernel<true, false><<<grid, kGemmThreads, 0, s>>>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, relu);
  else
    sgemm_kernel<true, true><<<grid, kGemmThreads, 0, s>>>(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, relu);
  check_launch("gemm");
}

}  // namespace corenn::cuda
