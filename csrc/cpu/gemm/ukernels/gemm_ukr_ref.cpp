// Portable GEMM micro-kernel: one MR x NR = 6 x 16 tile of C from packed panels.
//
// Micro-kernel contract (shared by every gemm_ukr_* kernel):
//   inputs   a: A tile, element (r, p) at a[r*rs_a + p*cs_a]: a packed panel (rs_a = 1,
//               cs_a = MR, rows past m zero-padded) or a plain matrix read in place (rows past m
//               absent: never read)
//            b: B panel, row p at b + p*ldb: packed (ldb = NR, cols past n zero-padded) or a
//               plain (K, N) matrix read in place (ldb = N, full NR-column panels only)
//   computes C[0:m, 0:n] := act(alpha * A*B + beta * C + bias)   (C row-major, leading dim ldc)
//   edges    m <= MR and n <= NR; the full tile is always computed, only the store is clipped
//   beta     when beta == 0, C is never read (it may hold NaN or garbage)
// The driver passes beta = user beta on the first KC step and 1 afterwards, and bias / act only on
// the last KC step, so the epilogue runs once while the tile is in registers.
//
// Chosen when active_isa() == Isa::ref (CPUs without AVX2/FMA, CORENN_ISA=ref, set_isa('ref')).
// Plain loops the compiler can vectorize with baseline SSE2.
#include "cpu/gemm/gemm.h"

namespace corenn::cpu::gemm {

void gemm_ukr_ref_f32_6x16(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a,
                           const float* b, int64_t ldb, float* c, int64_t ldc, int m, int n,
                           const UkrArgs& args) {
  float acc[kMR * kNR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    const float* bp = b + p * ldb;
    for (int r = 0; r < m; ++r) {
      const float ar = a[r * rs_a + p * cs_a];
      for (int j = 0; j < kNR; ++j) acc[r * kNR + j] += ar * bp[j];
    }
  }
  store_tile_scalar(acc, c, ldc, m, n, args);
}

}  // namespace corenn::cpu::gemm
