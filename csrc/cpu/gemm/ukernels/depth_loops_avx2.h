// The depth loops of the AVX2 6x16 micro-kernel, shared by gemm_ukr_avx2_f32_6x16.cpp and by
// kernels that drive the loop themselves without a call per tile (conv2d_winograd_avx2.cpp).
// Include only from files compiled with -mavx2 -mfma (name carries _avx2).
//
// Each loop returns the MR x NR = 6 x 16 tile acc = A (6 x kc) @ B (kc x 16) in 12 registers;
// B is a packed panel (16 floats per depth step, 32-byte aligned). They differ in how A is read:
//   depth_loop_packed   packed panel: A(r, p) at a[p * 6 + r]
//   depth_loop_rows     row-major:    A(r, p) at a[r * lda + p]   (6 row streams)
//   depth_loop_cols     column-major: A(r, p) at a[p * lda + r]   (a panel with a stride)
// The two strided forms let a caller multiply operands in the layout it produced them in, with
// no packing pass. Rows are always all 6: a caller with fewer live rows must keep the extra rows
// readable (their results are simply not stored).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "cpu/gemm/gemm.h"

namespace corenn::cpu::gemm {

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
inline __attribute__((always_inline)) Acc depth_loop_packed(int64_t kc, const float* a,
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

// The strided loops pass their stride and trip count through memory (LoopArgs) into scratch
// registers r9-r11: GCC allows at most 30 asm operands, and the 12 accumulators with the
// pointers already count 28.
struct LoopArgs {
  int64_t stride_bytes;  // lda * 4
  int64_t k4;            // depth steps / 4
};

// One depth step, A row-major: rows 0-2 at a0 + {0, L, 2L}, rows 3-5 at r9 = a0 + 3L + {0, L, 2L}
// (L = lda in bytes, in r10), OA the byte offset along the rows.
#define CORENN_ASM_ROWS_STEP(OB, OA)                                  \
  "vmovaps " #OB "(%[b]), %%ymm0\n\t"                                 \
  "vmovaps " #OB "+32(%[b]), %%ymm1\n\t"                              \
  "vbroadcastss " #OA "(%[a0]), %%ymm2\n\t"                           \
  "vfmadd231ps %%ymm0, %%ymm2, %[c00]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm2, %[c01]\n\t"                            \
  "vbroadcastss " #OA "(%[a0],%%r10,1), %%ymm3\n\t"                    \
  "vfmadd231ps %%ymm0, %%ymm3, %[c10]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm3, %[c11]\n\t"                            \
  "vbroadcastss " #OA "(%[a0],%%r10,2), %%ymm2\n\t"                    \
  "vfmadd231ps %%ymm0, %%ymm2, %[c20]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm2, %[c21]\n\t"                            \
  "vbroadcastss " #OA "(%%r9), %%ymm3\n\t"                           \
  "vfmadd231ps %%ymm0, %%ymm3, %[c30]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm3, %[c31]\n\t"                            \
  "vbroadcastss " #OA "(%%r9,%%r10,1), %%ymm2\n\t"                    \
  "vfmadd231ps %%ymm0, %%ymm2, %[c40]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm2, %[c41]\n\t"                            \
  "vbroadcastss " #OA "(%%r9,%%r10,2), %%ymm3\n\t"                    \
  "vfmadd231ps %%ymm0, %%ymm3, %[c50]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm3, %[c51]\n\t"

inline __attribute__((always_inline)) Acc depth_loop_rows(int64_t kc, const float* a, int64_t lda,
                                                           const float* b) {
  CORENN_UKR_DECLARE_ACC
  const LoopArgs args{lda * static_cast<int64_t>(sizeof(float)), kc / 4};
  if (args.k4 > 0) {
    const float* a0 = a;
    __asm__ volatile(
        "mov (%[args]), %%r10\n\t"
        "mov 8(%[args]), %%r11\n\t"
        "lea (%[a0],%%r10,2), %%r9\n\t"
        "add %%r10, %%r9\n\t"
        "1:\n\t"
        CORENN_ASM_ROWS_STEP(0, 0)
        CORENN_ASM_ROWS_STEP(64, 4)
        CORENN_ASM_ROWS_STEP(128, 8)
        CORENN_ASM_ROWS_STEP(192, 12)
        "add $16, %[a0]\n\t"
        "add $16, %%r9\n\t"
        "add $256, %[b]\n\t"
        "dec %%r11\n\t"
        "jnz 1b\n\t"
        : [a0] "+r"(a0), [b] "+r"(b), [c00] "+x"(c00), [c01] "+x"(c01), [c10] "+x"(c10),
          [c11] "+x"(c11), [c20] "+x"(c20), [c21] "+x"(c21), [c30] "+x"(c30), [c31] "+x"(c31),
          [c40] "+x"(c40), [c41] "+x"(c41), [c50] "+x"(c50), [c51] "+x"(c51)
        : [args] "r"(&args)
        : "r9", "r10", "r11", "xmm0", "xmm1", "xmm2", "xmm3", "cc", "memory");
    a = a0;  // the C++ tail continues after the 4-step blocks
  }
#define A_AT(r, P) (a + (r) * lda + (P))
  for (int64_t p = kc / 4 * 4; p < kc; ++p) {
    CORENN_UKR_STEP(A_AT, 0)
    a += 1;
    b += kNR;
  }
#undef A_AT
  Acc acc;
  CORENN_UKR_COLLECT(acc)
  return acc;
}

// One depth step, A column-major: the step's 6 values at a[0..5], then a += L bytes (L in r10).
#define CORENN_ASM_COLS_STEP(OB)                                      \
  "vmovaps " #OB "(%[b]), %%ymm0\n\t"                                 \
  "vmovaps " #OB "+32(%[b]), %%ymm1\n\t"                              \
  "vbroadcastss (%[a]), %%ymm2\n\t"                                   \
  "vfmadd231ps %%ymm0, %%ymm2, %[c00]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm2, %[c01]\n\t"                            \
  "vbroadcastss 4(%[a]), %%ymm3\n\t"                                  \
  "vfmadd231ps %%ymm0, %%ymm3, %[c10]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm3, %[c11]\n\t"                            \
  "vbroadcastss 8(%[a]), %%ymm2\n\t"                                  \
  "vfmadd231ps %%ymm0, %%ymm2, %[c20]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm2, %[c21]\n\t"                            \
  "vbroadcastss 12(%[a]), %%ymm3\n\t"                                 \
  "vfmadd231ps %%ymm0, %%ymm3, %[c30]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm3, %[c31]\n\t"                            \
  "vbroadcastss 16(%[a]), %%ymm2\n\t"                                 \
  "vfmadd231ps %%ymm0, %%ymm2, %[c40]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm2, %[c41]\n\t"                            \
  "vbroadcastss 20(%[a]), %%ymm3\n\t"                                 \
  "vfmadd231ps %%ymm0, %%ymm3, %[c50]\n\t"                            \
  "vfmadd231ps %%ymm1, %%ymm3, %[c51]\n\t"                            \
  "add %%r10, %[a]\n\t"

inline __attribute__((always_inline)) Acc depth_loop_cols(int64_t kc, const float* a, int64_t lda,
                                                           const float* b) {
  CORENN_UKR_DECLARE_ACC
  const LoopArgs args{lda * static_cast<int64_t>(sizeof(float)), kc / 4};
  if (args.k4 > 0) {
    __asm__ volatile(
        "mov (%[args]), %%r10\n\t"
        "mov 8(%[args]), %%r11\n\t"
        "1:\n\t"
        CORENN_ASM_COLS_STEP(0)
        CORENN_ASM_COLS_STEP(64)
        CORENN_ASM_COLS_STEP(128)
        CORENN_ASM_COLS_STEP(192)
        "add $256, %[b]\n\t"
        "dec %%r11\n\t"
        "jnz 1b\n\t"
        : [a] "+r"(a), [b] "+r"(b), [c00] "+x"(c00), [c01] "+x"(c01), [c10] "+x"(c10),
          [c11] "+x"(c11), [c20] "+x"(c20), [c21] "+x"(c21), [c30] "+x"(c30), [c31] "+x"(c31),
          [c40] "+x"(c40), [c41] "+x"(c41), [c50] "+x"(c50), [c51] "+x"(c51)
        : [args] "r"(&args)
        : "r10", "r11", "xmm0", "xmm1", "xmm2", "xmm3", "cc", "memory");
  }
#define A_AT(r, P) (a + (r))
  for (int64_t p = kc / 4 * 4; p < kc; ++p) {
    CORENN_UKR_STEP(A_AT, 0)
    a += lda;
    b += kNR;
  }
#undef A_AT
  Acc acc;
  CORENN_UKR_COLLECT(acc)
  return acc;
}

}  // namespace corenn::cpu::gemm
