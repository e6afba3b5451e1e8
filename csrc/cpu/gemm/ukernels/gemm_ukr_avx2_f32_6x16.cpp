// AVX2/FMA GEMM micro-kernel: one MR x NR = 6 x 16 tile of C.
//
// Micro-kernel contract (shared by every gemm_ukr_* kernel, see also gemm_ukr_ref.cpp):
//   inputs   a: A tile, element (r, p) at a[r*rs_a + p*cs_a]. Usually a packed panel (rs_a = 1,
//               cs_a = MR, rows past m zero-padded); on the small-N path a plain matrix read in
//               place (rows past m absent: never read)
//            b: B panel, row p at b + p*ldb. Usually packed (ldb = NR, cols past n zero-padded,
//               64-byte aligned, so B loads are aligned); on the small-M path a plain (K, N)
//               matrix read in place (ldb = N, unaligned, always a full NR-column panel)
//   computes C[0:m, 0:n] := act(alpha * A*B + beta * C + bias)   (C row-major, leading dim ldc)
//   edges    m <= MR and n <= NR: the full tile is computed in registers; the store writes only
//            rows < m and (masked) columns < n
//   beta     when beta == 0, C is never read (it may hold NaN or garbage)
//
// Register budget (16 ymm): 12 accumulators (6 rows x 2 vectors of 8), 2 for the B row, 1 for the
// broadcast A value. Per depth step: 2 loads, 6 broadcasts, 12 FMAs -- the FMA ports stay busy
// as long as the panels stream from L1/L2, which the block sizes in config.cpp arrange.
//
// Compiled with -mavx2 -mfma (file name carries _avx2); called only when active_isa() == avx2.
#include <immintrin.h>

#include <algorithm>

#include "cpu/gemm/gemm.h"

namespace corenn::cpu::gemm {

namespace {

struct Acc {
  __m256 v[kMR][2];
};

// The depth loop. A_AT(r, p) yields the address of A element (r, p); the packed instance uses
// compile-time strides, the in-place instance six row pointers clamped to valid rows.
#define CORENN_UKR_STEP(A_AT, P)                                    \
  {                                                                 \
    const __m256 b0 = _mm256_load_ps(b + (P) * kNR);                \
    const __m256 b1 = _mm256_load_ps(b + (P) * kNR + 8);            \
    __m256 ar = _mm256_broadcast_ss(A_AT(0, P));                    \
    c00 = _mm256_fmadd_ps(ar, b0, c00);                             \
    c01 = _mm256_fmadd_ps(ar, b1, c01);                             \
    ar = _mm256_broadcast_ss(A_AT(1, P));                           \
    c10 = _mm256_fmadd_ps(ar, b0, c10);                             \
    c11 = _mm256_fmadd_ps(ar, b1, c11);                             \
    ar = _mm256_broadcast_ss(A_AT(2, P));                           \
    c20 = _mm256_fmadd_ps(ar, b0, c20);                             \
    c21 = _mm256_fmadd_ps(ar, b1, c21);                             \
    ar = _mm256_broadcast_ss(A_AT(3, P));                           \
    c30 = _mm256_fmadd_ps(ar, b0, c30);                             \
    c31 = _mm256_fmadd_ps(ar, b1, c31);                             \
    ar = _mm256_broadcast_ss(A_AT(4, P));                           \
    c40 = _mm256_fmadd_ps(ar, b0, c40);                             \
    c41 = _mm256_fmadd_ps(ar, b1, c41);                             \
    ar = _mm256_broadcast_ss(A_AT(5, P));                           \
    c50 = _mm256_fmadd_ps(ar, b0, c50);                             \
    c51 = _mm256_fmadd_ps(ar, b1, c51);                             \
  }

#define CORENN_UKR_DECLARE_ACC                                      \
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();      \
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();      \
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();      \
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();      \
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();      \
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

#define CORENN_UKR_COLLECT(acc)                                     \
  acc.v[0][0] = c00; acc.v[0][1] = c01; acc.v[1][0] = c10; acc.v[1][1] = c11; \
  acc.v[2][0] = c20; acc.v[2][1] = c21; acc.v[3][0] = c30; acc.v[3][1] = c31; \
  acc.v[4][0] = c40; acc.v[4][1] = c41; acc.v[5][0] = c50; acc.v[5][1] = c51;

// One depth step in assembly: B row (2 vectors) at byte offset OB of b, A column at OA of a.
#define CORENN_ASM_STEP(OB, OA)                                       \
  "vmovaps " #OB "(%[b]), %%ymm0\n\t"                                 \
  "vmovaps " #OB "+32(%[b]), %%ymm1\n\t"                              \
  "vbroadcastss " #OA "(%[a]), %%ymm2\n\t"                            \
  "vfmadd231ps %%ymm0, %%ymm2, %[c00]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm2, %[c01]\n\t"                            \
  "vbroadcastss " #OA "+4(%[a]), %%ymm3\n\t"                          \
  "vfmadd231ps %%ymm0, %%ymm3, %[c10]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm3, %[c11]\n\t"                            \
  "vbroadcastss " #OA "+8(%[a]), %%ymm2\n\t"                          \
  "vfmadd231ps %%ymm0, %%ymm2, %[c20]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm2, %[c21]\n\t"                            \
  "vbroadcastss " #OA "+12(%[a]), %%ymm3\n\t"                         \
  "vfmadd231ps %%ymm0, %%ymm3, %[c30]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm3, %[c31]\n\t"                            \
  "vbroadcastss " #OA "+16(%[a]), %%ymm2\n\t"                         \
  "vfmadd231ps %%ymm0, %%ymm2, %[c40]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm2, %[c41]\n\t"                            \
  "vbroadcastss " #OA "+20(%[a]), %%ymm3\n\t"                         \
  "vfmadd231ps %%ymm0, %%ymm3, %[c50]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm3, %[c51]\n\t"

// The hot loop is written in assembly because GCC, left to itself, spills one of the 12
// accumulators to the stack (a load/store on the FMA dependency chain: ~10% of peak). The asm
// pins the accumulators to 12 registers and uses ymm0-3 for the B row and the broadcasts.
__attribute__((always_inline)) inline Acc depth_loop_packed(int64_t kc, const float* a,
                                                            const float* b) {
  CORENN_UKR_DECLARE_ACC
  int64_t k4 = kc / 4;
  if (k4 > 0) {
    __asm__ volatile(
        "1:\n\t"
        "prefetcht0 512(%[b])\n\t"
        "prefetcht0 576(%[b])\n\t"
        CORENN_ASM_STEP(0, 0)
        CORENN_ASM_STEP(64, 24)
        "prefetcht0 640(%[b])\n\t"
        "prefetcht0 704(%[b])\n\t"
        CORENN_ASM_STEP(128, 48)
        CORENN_ASM_STEP(192, 72)
        "add $96, %[a]\n\t"
        "add $256, %[b]\n\t"
        "dec %[k4]\n\t"
        "jnz 1b\n\t"
        : [a] "+r"(a), [b] "+r"(b), [k4] "+r"(k4), [c00] "+x"(c00), [c01] "+x"(c01),
          [c10] "+x"(c10), [c11] "+x"(c11), [c20] "+x"(c20), [c21] "+x"(c21), [c30] "+x"(c30),
          [c31] "+x"(c31), [c40] "+x"(c40), [c41] "+x"(c41), [c50] "+x"(c50), [c51] "+x"(c51)
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "cc", "memory");
  }
#define A_AT(r, P) (a + (P) * kMR + (r))
  for (int64_t p = kc / 4 * 4; p < kc; ++p) {
    CORENN_UKR_STEP(A_AT, 0)
    a += kMR;
    b += kNR;
  }
#undef A_AT
  Acc acc;
  CORENN_UKR_COLLECT(acc)
  return acc;
}

// A (and possibly B) read in place. Only the ROWS live rows are computed (ROWS = m), so a small-M
// call does no wasted FMAs and never touches rows past m.
template <int ROWS>
__attribute__((always_inline)) inline Acc depth_loop_strided(int64_t kc, const float* a,
                                                             int64_t rs_a, int64_t cs_a,
                                                             const float* b, int64_t ldb) {
  __m256 c[ROWS][2];
#pragma GCC unroll 6
  for (int r = 0; r < ROWS; ++r) c[r][0] = c[r][1] = _mm256_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_loadu_ps(b);
    const __m256 b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < ROWS; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + r * rs_a);
      c[r][0] = _mm256_fmadd_ps(ar, b0, c[r][0]);
      c[r][1] = _mm256_fmadd_ps(ar, b1, c[r][1]);
    }
    a += cs_a;
    b += ldb;
  }
  Acc acc;
#pragma GCC unroll 6
  for (int r = 0; r < ROWS; ++r) {
    acc.v[r][0] = c[r][0];
    acc.v[r][1] = c[r][1];
  }
  return acc;
}

// Epilogue and store of one row (two vectors); masked where the tile is clipped at n.
__attribute__((always_inline)) inline void store_row(float* cr, __m256 v0, __m256 v1,
                                                     const UkrArgs& args, bool full,
                                                     __m256i mask0, __m256i mask1) {
  const __m256 alpha = _mm256_set1_ps(args.alpha);
  v0 = _mm256_mul_ps(v0, alpha);
  v1 = _mm256_mul_ps(v1, alpha);
  if (args.beta != 0.0f) {
    const __m256 beta = _mm256_set1_ps(args.beta);
    const __m256 old0 = full ? _mm256_loadu_ps(cr) : _mm256_maskload_ps(cr, mask0);
    const __m256 old1 = full ? _mm256_loadu_ps(cr + 8) : _mm256_maskload_ps(cr + 8, mask1);
    v0 = _mm256_fmadd_ps(beta, old0, v0);
    v1 = _mm256_fmadd_ps(beta, old1, v1);
  }
  if (args.bias) {
    const float* bias = args.bias;
    v0 = _mm256_add_ps(v0, full ? _mm256_loadu_ps(bias) : _mm256_maskload_ps(bias, mask0));
    v1 = _mm256_add_ps(v1, full ? _mm256_loadu_ps(bias + 8) : _mm256_maskload_ps(bias + 8, mask1));
  }
  if (args.act == Activation::relu) {
    v0 = _mm256_max_ps(v0, _mm256_setzero_ps());
    v1 = _mm256_max_ps(v1, _mm256_setzero_ps());
  }
  if (full) {
    _mm256_storeu_ps(cr, v0);
    _mm256_storeu_ps(cr + 8, v1);
  } else {
    _mm256_maskstore_ps(cr, mask0, v0);
    _mm256_maskstore_ps(cr + 8, mask1, v1);
  }
}

__attribute__((always_inline)) inline void store_tile(const Acc& acc, float* c, int64_t ldc,
                                                      int m, int n, const UkrArgs& args) {
  if (m == kMR && n == kNR) {
    const __m256i all = _mm256_set1_epi32(-1);
    for (int r = 0; r < kMR; ++r)
      store_row(c + r * ldc, acc.v[r][0], acc.v[r][1], args, true, all, all);
    return;
  }
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i mask0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
  const __m256i mask1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), lane);
  for (int r = 0; r < m; ++r)
    store_row(c + r * ldc, acc.v[r][0], acc.v[r][1], args, false, mask0, mask1);
}

}  // namespace

void gemm_ukr_avx2_f32_6x16(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a,
                            const float* b, int64_t ldb, float* c, int64_t ldc, int m, int n,
                            const UkrArgs& args) {
  // The C tile is needed only after the depth loop: start fetching its rows now.
  for (int r = 0; r < m; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + kNR - 1), _MM_HINT_T0);
  }
  if (rs_a == 1 && cs_a == kMR && ldb == kNR) {
    store_tile(depth_loop_packed(kc, a, b), c, ldc, m, n, args);
    return;
  }
  switch (m) {
    case 1: store_tile(depth_loop_strided<1>(kc, a, rs_a, cs_a, b, ldb), c, ldc, m, n, args); break;
    case 2: store_tile(depth_loop_strided<2>(kc, a, rs_a, cs_a, b, ldb), c, ldc, m, n, args); break;
    case 3: store_tile(depth_loop_strided<3>(kc, a, rs_a, cs_a, b, ldb), c, ldc, m, n, args); break;
    case 4: store_tile(depth_loop_strided<4>(kc, a, rs_a, cs_a, b, ldb), c, ldc, m, n, args); break;
    case 5: store_tile(depth_loop_strided<5>(kc, a, rs_a, cs_a, b, ldb), c, ldc, m, n, args); break;
    default: store_tile(depth_loop_strided<6>(kc, a, rs_a, cs_a, b, ldb), c, ldc, m, n, args); break;
  }
}

}  // namespace corenn::cpu::gemm
