// AVX2/FMA GEMM micro-kernel: one MR x NR = 6 x 16 tile of C from packed panels.
//
// Micro-kernel contract (shared by every gemm_ukr_* kernel, see also gemm_ukr_ref.cpp):
//   inputs   a: packed A panel, kc x MR depth-major (a[p*MR + r]), rows past m zero-padded
//            b: packed B panel, kc x NR depth-major (b[p*NR + j]), cols past n zero-padded;
//               64-byte aligned (packing buffers), so B loads are aligned
//   computes C[0:m, 0:n] := act(alpha * A*B + beta * C + bias)   (C row-major, leading dim ldc)
//   edges    m <= MR and n <= NR: the full tile is computed in registers; a clipped tile goes
//            through a small temporary and the scalar store (store_tile_scalar)
//   beta     when beta == 0, C is never read (it may hold NaN or garbage)
//
// Register budget (16 ymm): 12 accumulators (6 rows x 2 vectors of 8), 2 for the B row, 1 for the
// broadcast A value. Per depth step: 2 loads, 6 broadcasts, 12 FMAs -- the FMA ports stay busy
// as long as the panels stream from L1/L2, which the block sizes in config.cpp arrange.
//
// Compiled with -mavx2 -mfma (file name carries _avx2); called only when active_isa() == avx2.
#include <immintrin.h>

#include "cpu/gemm/gemm.h"

namespace corenn::cpu::gemm {

namespace {

inline __m256 epilogue(__m256 acc, const float* c, __m256 alpha, __m256 beta, bool read_c,
                       const float* bias, Activation act) {
  __m256 v = _mm256_mul_ps(acc, alpha);
  if (read_c) v = _mm256_fmadd_ps(beta, _mm256_loadu_ps(c), v);
  if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias));
  if (act == Activation::relu) v = _mm256_max_ps(v, _mm256_setzero_ps());
  return v;
}

}  // namespace

void gemm_ukr_avx2_f32_6x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                            int m, int n, const UkrArgs& args) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

#define CORENN_UKR_STEP(P)                                          \
  {                                                                 \
    const __m256 b0 = _mm256_load_ps(b + (P) * kNR);                \
    const __m256 b1 = _mm256_load_ps(b + (P) * kNR + 8);            \
    __m256 ar = _mm256_broadcast_ss(a + (P) * kMR + 0);             \
    c00 = _mm256_fmadd_ps(ar, b0, c00);                             \
    c01 = _mm256_fmadd_ps(ar, b1, c01);                             \
    ar = _mm256_broadcast_ss(a + (P) * kMR + 1);                    \
    c10 = _mm256_fmadd_ps(ar, b0, c10);                             \
    c11 = _mm256_fmadd_ps(ar, b1, c11);                             \
    ar = _mm256_broadcast_ss(a + (P) * kMR + 2);                    \
    c20 = _mm256_fmadd_ps(ar, b0, c20);                             \
    c21 = _mm256_fmadd_ps(ar, b1, c21);                             \
    ar = _mm256_broadcast_ss(a + (P) * kMR + 3);                    \
    c30 = _mm256_fmadd_ps(ar, b0, c30);                             \
    c31 = _mm256_fmadd_ps(ar, b1, c31);                             \
    ar = _mm256_broadcast_ss(a + (P) * kMR + 4);                    \
    c40 = _mm256_fmadd_ps(ar, b0, c40);                             \
    c41 = _mm256_fmadd_ps(ar, b1, c41);                             \
    ar = _mm256_broadcast_ss(a + (P) * kMR + 5);                    \
    c50 = _mm256_fmadd_ps(ar, b0, c50);                             \
    c51 = _mm256_fmadd_ps(ar, b1, c51);                             \
  }

  int64_t p = 0;
  for (; p + 4 <= kc; p += 4) {
    _mm_prefetch(reinterpret_cast<const char*>(b + 8 * kNR), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + 9 * kNR), _MM_HINT_T0);
    CORENN_UKR_STEP(0)
    CORENN_UKR_STEP(1)
    CORENN_UKR_STEP(2)
    CORENN_UKR_STEP(3)
    a += 4 * kMR;
    b += 4 * kNR;
  }
  for (; p < kc; ++p) {
    CORENN_UKR_STEP(0)
    a += kMR;
    b += kNR;
  }
#undef CORENN_UKR_STEP

  const __m256 alpha = _mm256_set1_ps(args.alpha), beta = _mm256_set1_ps(args.beta);
  if (m == kMR && n == kNR) {
    const bool read_c = args.beta != 0.0f;
    const float* bias0 = args.bias;
    const float* bias1 = args.bias ? args.bias + 8 : nullptr;
    auto store_row = [&](int r, __m256 v0, __m256 v1) {
      float* cr = c + r * ldc;
      v0 = epilogue(v0, cr, alpha, beta, read_c, bias0, args.act);
      v1 = epilogue(v1, cr + 8, alpha, beta, read_c, bias1, args.act);
      _mm256_storeu_ps(cr, v0);
      _mm256_storeu_ps(cr + 8, v1);
    };
    store_row(0, c00, c01);
    store_row(1, c10, c11);
    store_row(2, c20, c21);
    store_row(3, c30, c31);
    store_row(4, c40, c41);
    store_row(5, c50, c51);
    return;
  }
  alignas(32) float acc[kMR * kNR];
  _mm256_store_ps(acc + 0 * kNR, c00); _mm256_store_ps(acc + 0 * kNR + 8, c01);
  _mm256_store_ps(acc + 1 * kNR, c10); _mm256_store_ps(acc + 1 * kNR + 8, c11);
  _mm256_store_ps(acc + 2 * kNR, c20); _mm256_store_ps(acc + 2 * kNR + 8, c21);
  _mm256_store_ps(acc + 3 * kNR, c30); _mm256_store_ps(acc + 3 * kNR + 8, c31);
  _mm256_store_ps(acc + 4 * kNR, c40); _mm256_store_ps(acc + 4 * kNR + 8, c41);
  _mm256_store_ps(acc + 5 * kNR, c50); _mm256_store_ps(acc + 5 * kNR + 8, c51);
  store_tile_scalar(acc, c, ldc, m, n, args);
}

}  // namespace corenn::cpu::gemm
