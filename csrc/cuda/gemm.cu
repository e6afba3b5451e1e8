// SGEMM on CUDA with a fused epilogue.
//
//   C := act(alpha * op(A) @ op(B) + beta * C + bias)
//   op(A) (M, K): A is (M, K) row-major with leading dimension lda, or (K, M) when trans_a;
//   op(B) (K, N): B is (K, N), or (N, K) when trans_b;  C (M, N), ldc;  bias (N,);  act none|relu.
//
// The kernel is tiled_gemm.cuh's (64 x 64 block tile, 4 x 4 per thread, double-buffered shared
// panels, float32-exact); this file only picks the dense loaders for the four transpose cases.
#include "cuda/gemm.h"
#include "cuda/tiled_gemm.cuh"

namespace corenn::cuda {

void sgemm(const Tensor& like, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
           float alpha, const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
           float* c, int64_t ldc, const float* bias, bool relu) {
  using namespace tiled;
  DeviceGuard guard(like);
  const cudaStream_t s = stream_of(like);
  const Epilogue ep{alpha, beta, bias, relu};
  if (!trans_a && !trans_b)
    launch("gemm", s, m, n, k, DenseA<false>{a, lda}, DenseB<false>{b, ldb}, c, ldc, ep);
  else if (!trans_a && trans_b)
    launch("gemm", s, m, n, k, DenseA<false>{a, lda}, DenseB<true>{b, ldb}, c, ldc, ep);
  else if (trans_a && !trans_b)
    launch("gemm", s, m, n, k, DenseA<true>{a, lda}, DenseB<false>{b, ldb}, c, ldc, ep);
  else
    launch("gemm", s, m, n, k, DenseA<true>{a, lda}, DenseB<true>{b, ldb}, c, ldc, ep);
}

}  // namespace corenn::cuda

namespace corenn {
// The CUDA kernel packs nothing, so it has no packed B to keep: keep_b is ignored.
CORENN_REGISTER_KERNEL(sgemm_stub, Slot::cuda,
                       +[](const Tensor& like, bool trans_a, bool trans_b, int64_t m, int64_t n,
                           int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                           int64_t ldb, float beta, float* c, int64_t ldc, const float* bias,
                           bool relu, const Storage*) {
                         cuda::sgemm(like, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta,
                                     c, ldc, bias, relu);
                       });
}  // namespace corenn
