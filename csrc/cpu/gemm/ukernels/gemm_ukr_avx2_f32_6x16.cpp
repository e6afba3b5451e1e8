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
// Compiled with -mavx2 -mfma (file name carries _avx2); registered as the avx2 GEMM context (end of file).
#include <immintrin.h>

#include <algorithm>

#include "cpu/gemm/gemm.h"
#include "cpu/gemm/kernels_x86.h"
#include "cpu/isa_kernels.h"
#include "cpu/gemm/ukernels/depth_loops_avx2.h"

namespace corenn::cpu::gemm {

namespace {

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
  if (args.act == Activation::relu) {  // MAXPS returns its 2nd operand on NaN: zero first keeps NaN
    v0 = _mm256_max_ps(_mm256_setzero_ps(), v0);
    v1 = _mm256_max_ps(_mm256_setzero_ps(), v1);
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


// The small-M path's wide tile (GemmContext::wide_ukr): m <= 2 rows, 64 columns, full width. Each
// column sums its depth in order in one chain, as depth_loop_strided does, and each 16 columns go
// through store_row: the 6 x 16 tile's bits, with 8 chains per row instead of 2.
void gemm_ukr_avx2_f32_2x64(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a,
                            const float* b, int64_t ldb, float* c, int64_t ldc, int m, int n,
                            const UkrArgs& args) {
  (void)n;  // always 64: the driver hands only full groups
  constexpr int kRows = 2, kVecs = 8;
  for (int r = 0; r < m; ++r)
    for (int v = 0; v < kVecs; v += 2)
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 8 * v), _MM_HINT_T0);
  __m256 acc[kRows][kVecs];
  for (int r = 0; r < kRows; ++r)
    for (int v = 0; v < kVecs; ++v) acc[r][v] = _mm256_setzero_ps();
  if (m == 1) {
    for (int64_t p = 0; p < kc; ++p, a += cs_a, b += ldb) {
      const __m256 ar = _mm256_broadcast_ss(a);
      for (int v = 0; v < kVecs; ++v) acc[0][v] = _mm256_fmadd_ps(ar, _mm256_loadu_ps(b + 8 * v), acc[0][v]);
    }
  } else {
    for (int64_t p = 0; p < kc; ++p, a += cs_a, b += ldb) {
      const __m256 a0 = _mm256_broadcast_ss(a), a1 = _mm256_broadcast_ss(a + rs_a);
      for (int v = 0; v < kVecs; ++v) {
        const __m256 bv = _mm256_loadu_ps(b + 8 * v);
        acc[0][v] = _mm256_fmadd_ps(a0, bv, acc[0][v]);
        acc[1][v] = _mm256_fmadd_ps(a1, bv, acc[1][v]);
      }
    }
  }
  const __m256i all = _mm256_set1_epi32(-1);
  for (int r = 0; r < m; ++r)
    for (int v = 0; v < kVecs; v += 2) {
      UkrArgs part = args;
      if (args.bias) part.bias = args.bias + 8 * v;
      store_row(c + r * ldc + 8 * v, acc[r][v], acc[r][v + 1], part, true, all, all);
    }
}

}  // namespace corenn::cpu::gemm

// The avx2 context of both stubs (gemm.h); AVX-512 CPUs run it for the 6 x 16 format too. B not
// transposed is a row copy: the reference packer's memcpy is as fast.
namespace corenn::cpu::gemm {
namespace {
constexpr GemmContext kAvx2Context{gemm_ukr_avx2_f32_6x16, kMR, kNR, block_sizes,
                                   pack_a_n_avx2, pack_a_t_avx2, pack_b_n_ref, pack_b_t_avx2,
                                   nullptr, gemm_ukr_avx2_f32_2x64, 64};
}  // namespace
}  // namespace corenn::cpu::gemm

namespace corenn::cpu::avx2 {
// Constant-initialized; cpu/isa_registry.cpp puts it in the slots of gemm's two stubs
// (cpu/isa_kernels.h says why not here).
extern const gemm::GemmContext kGemmContext = gemm::kAvx2Context;
}  // namespace corenn::cpu::avx2
