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
// The cpu_ref slot of both GEMM context stubs (CPUs without AVX2/FMA, CORENN_ISA=ref, set_isa('ref')).
// Plain C++ with 4-lane vector types (baseline SSE2 on x86-64, no FMA).
#include <cstring>

#include "cpu/gemm/gemm.h"

namespace corenn::cpu::gemm {

namespace {

// 4-lane vectors through the GCC/Clang vector extension: SSE2 on x86-64, NEON on ARM, scalar code
// elsewhere; memcpy keeps the loads and stores free of alignment assumptions.
typedef float v4 __attribute__((vector_size(16)));

inline v4 load4(const float* p) {
  v4 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// ROWS x 8 columns (half the tile) at a time: 12 accumulators fit the 16 baseline registers,
// where a whole 6 x 16 tile would spill. ROWS is a constant so the rows unroll.
template <int ROWS>
void half_tile(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a, const float* b,
               int64_t ldb, float* acc) {
  for (int h = 0; h < kNR; h += 8) {
    v4 t0[ROWS], t1[ROWS];
#pragma GCC unroll 6
    for (int r = 0; r < ROWS; ++r) t0[r] = t1[r] = v4{0, 0, 0, 0};
    for (int64_t p = 0; p < kc; ++p) {
      const v4 b0 = load4(b + p * ldb + h), b1 = load4(b + p * ldb + h + 4);
#pragma GCC unroll 6
      for (int r = 0; r < ROWS; ++r) {
        const float ar = a[r * rs_a + p * cs_a];
        t0[r] += ar * b0;
        t1[r] += ar * b1;
      }
    }
#pragma GCC unroll 6
    for (int r = 0; r < ROWS; ++r) {
      std::memcpy(acc + r * kNR + h, &t0[r], sizeof(v4));
      std::memcpy(acc + r * kNR + h + 4, &t1[r], sizeof(v4));
    }
  }
}

}  // namespace

void gemm_ukr_ref_f32_6x16(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a,
                           const float* b, int64_t ldb, float* c, int64_t ldc, int m, int n,
                           const UkrArgs& args) {
  float acc[kMR * kNR];
  switch (m) {  // rows past m are never read (an in-place A has none)
    case 1: half_tile<1>(kc, a, rs_a, cs_a, b, ldb, acc); break;
    case 2: half_tile<2>(kc, a, rs_a, cs_a, b, ldb, acc); break;
    case 3: half_tile<3>(kc, a, rs_a, cs_a, b, ldb, acc); break;
    case 4: half_tile<4>(kc, a, rs_a, cs_a, b, ldb, acc); break;
    case 5: half_tile<5>(kc, a, rs_a, cs_a, b, ldb, acc); break;
    default: half_tile<6>(kc, a, rs_a, cs_a, b, ldb, acc); break;
  }
  store_tile_scalar(acc, c, ldc, m, n, args);
}

}  // namespace corenn::cpu::gemm

namespace corenn::cpu::gemm {
namespace {
constexpr GemmContext kRefContext{gemm_ukr_ref_f32_6x16, kMR, kNR, block_sizes,
                                  pack_a_n_ref, pack_a_t_ref, pack_b_n_ref, pack_b_t_ref};
}  // namespace
CORENN_REGISTER_KERNEL(gemm_packed_context_stub, Slot::cpu_ref, &kRefContext);
CORENN_REGISTER_KERNEL(sgemm_context_stub, Slot::cpu_ref, &kRefContext);
}  // namespace corenn::cpu::gemm
