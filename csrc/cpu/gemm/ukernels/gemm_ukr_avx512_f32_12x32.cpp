// AVX-512 GEMM micro-kernels: one MR x NR = 12 x 32 tile of C (kMR512 x kNR512, gemm.h), and the
// same kernel one vector wide, 12 x 16, for narrow problems (N <= 16, config.cpp).
//
// Same contract as every gemm_ukr_* kernel (see gemm_ukr_avx2_f32_6x16.cpp), with its own tile:
//   a: A tile, element (r, p) at a[r*rs_a + p*cs_a]: a packed 12-row panel (rs_a = 1, cs_a = 12,
//      rows past m zero) or a plain matrix read in place (rows past m never read)
//   b: B panel, row p (32 floats) at b + p*ldb: packed (ldb = 32, cols past n zero) or a plain
//      (K, N) matrix read in place (ldb = N, full 32-column panels only)
//   C[0:m, 0:n] := act(alpha * A*B + beta * C + bias); when beta == 0, C is never read.
//
// Why 12 x 32: 32 zmm registers hold 24 accumulators (12 rows x 2 vectors of 16), 2 for the B
// row and 1 for the broadcast A value (27 of 32, no spills). BLIS's skx sgemm uses the same
// shape transposed (32 x 12, column-major C). 24 independent FMA chains cover the latency (4) x
// throughput (2 per cycle on Skylake-X, one 512-bit FMA per cycle on Zen 4) with room to spare,
// and each depth step does 2 loads + 12 broadcasts for 24 FMAs: a third of the load traffic per
// flop of the 6 x 16 AVX2 tile, so the packed panels can stream from L2 without starving the FMA
// units. 12 rows are also 2 AVX2 panels, so the driver's row splits (multiples of 6) stay valid.
//
// Tails: the n < 32 edge uses masked loads and stores (opmask registers), never scalar loops; the
// m < 12 edge stores only the live rows, and an in-place A computes only those rows (ROWS = m).
//
// Compiled with -mavx512f/vl/bw/dq (file name carries _avx512); registered as the avx512 context
// of sgemm_context_stub and of gemm_packed_context_stub (end of file).
#include <immintrin.h>

#include "cpu/gemm/gemm.h"
#include "cpu/gemm/kernels_x86.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::gemm {

namespace {

constexpr int MR = kMR512;

// acc = A (ROWS x kc) @ B (kc x 16 NV), then the epilogue and the (masked) store of rows < m.
// NV: 16-lane vectors per row (2: the 12 x 32 tile, 1: the narrow 12 x 16 one).
// PACKED: A is a packed panel and B a packed panel (compile-time strides).
template <int ROWS, int NV, bool PACKED>
__attribute__((always_inline)) inline void tile(int64_t kc, const float* a, int64_t rs_a,
                                                int64_t cs_a, const float* b, int64_t ldb,
                                                float* c, int64_t ldc, int m, int n,
                                                const UkrArgs& args) {
  if constexpr (PACKED) {
    rs_a = 1;
    cs_a = MR;
    ldb = 16 * NV;
  }
  __m512 acc[ROWS][NV];
#pragma GCC unroll 12
  for (int r = 0; r < ROWS; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    __m512 bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(b + 16 * v);
    if constexpr (PACKED) _mm_prefetch(reinterpret_cast<const char*>(a + 8 * MR), _MM_HINT_T0);
#pragma GCC unroll 12
    for (int r = 0; r < ROWS; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r * rs_a]);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
    }
    a += cs_a;
    b += ldb;
  }
  // Epilogue while the tile is in registers. Lanes past n are masked off in every C and bias
  // access (maskz loads read nothing there), so edge tiles need no scalar path.
  __mmask16 k[NV];
  for (int v = 0; v < NV; ++v) {
    const int live = n - 16 * v;
    k[v] = live >= 16 ? __mmask16(0xFFFF) : live > 0 ? __mmask16((1u << live) - 1) : __mmask16(0);
  }
  const __m512 alpha = _mm512_set1_ps(args.alpha);
  const __m512 beta = _mm512_set1_ps(args.beta);
  const __m512 zero = _mm512_setzero_ps();
  __m512 bias[NV];
  for (int v = 0; v < NV; ++v)
    bias[v] = args.bias ? _mm512_maskz_loadu_ps(k[v], args.bias + 16 * v) : zero;
#pragma GCC unroll 12
  for (int r = 0; r < ROWS; ++r) {
    if (r >= m) break;
    float* cr = c + r * ldc;
    for (int v = 0; v < NV; ++v) {
      __m512 x = _mm512_mul_ps(acc[r][v], alpha);
      if (args.beta != 0.0f) x = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(k[v], cr + 16 * v), x);
      x = _mm512_add_ps(x, bias[v]);
      // MAXPS returns its 2nd operand on NaN: zero first keeps NaN
      if (args.act == Activation::relu) x = _mm512_max_ps(zero, x);
      _mm512_mask_storeu_ps(cr + 16 * v, k[v], x);
    }
  }
}

// The tile for m rows of A (any m <= 12): the packed panel at full height, or A in place with
// only its live rows computed.
template <int NV>
void run_tile(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a, const float* b, int64_t ldb,
              float* c, int64_t ldc, int m, int n, const UkrArgs& args) {
  // The C tile is needed only after the depth loop: start fetching its rows now (NV lines each).
  for (int r = 0; r < m; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    if constexpr (NV == 2) _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 31), _MM_HINT_T0);
  }
  if (rs_a == 1 && cs_a == MR && ldb == 16 * NV) {
    tile<MR, NV, true>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args);
    return;
  }
  switch (m) {
    case 1: tile<1, NV, false>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args); break;
    case 2: tile<2, NV, false>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args); break;
    case 3: tile<3, NV, false>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args); break;
    case 4: tile<4, NV, false>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args); break;
    case 5: tile<5, NV, false>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args); break;
    case 6: tile<6, NV, false>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args); break;
    case 7: tile<7, NV, false>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args); break;
    case 8: tile<8, NV, false>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args); break;
    case 9: tile<9, NV, false>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args); break;
    case 10: tile<10, NV, false>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args); break;
    case 11: tile<11, NV, false>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args); break;
    default: tile<12, NV, false>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args); break;
  }
}

}  // namespace

void gemm_ukr_avx512_f32_12x32(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a,
                               const float* b, int64_t ldb, float* c, int64_t ldc, int m, int n,
                               const UkrArgs& args) {
  run_tile<2>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args);
}

void gemm_ukr_avx512_f32_12x16(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a,
                               const float* b, int64_t ldb, float* c, int64_t ldc, int m, int n,
                               const UkrArgs& args) {
  run_tile<1>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args);
}

// The small-M path's wide tile (GemmContext::wide_ukr): m <= 2 rows of A and B in place, 128
// columns, 8 accumulator chains per row; tile<> with 8 vectors, so the arithmetic per element is
// the 12 x 32 tile's.
void gemm_ukr_avx512_f32_2x128(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a,
                               const float* b, int64_t ldb, float* c, int64_t ldc, int m, int n,
                               const UkrArgs& args) {
  for (int r = 0; r < m; ++r)
    for (int v = 0; v < 8; ++v)
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 16 * v), _MM_HINT_T0);
  if (m == 1) tile<1, 8, false>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args);
  else tile<2, 8, false>(kc, a, rs_a, cs_a, b, ldb, c, ldc, m, n, args);
}

}  // namespace corenn::cpu::gemm

// The avx512 context of both stubs: sgemm (plain matrices, its own 12 x 32 packers, its own block
// sizes) and gemm_packed, whose callers pack the 12 x 32 format themselves (conv2d's patch packers,
// rnn.cpp's recurrent weights through pack_b_matrix).
namespace corenn::cpu::gemm {
namespace {
// The narrow set (N <= 16, config.cpp): the 12-row A panels of the set below, 16-column B panels
// (the AVX2 set's format and packers). On N = 10 the 32-wide tile would do 10 useful columns in
// 32; this one does 10 in 16 at the same rate per FMA, twice the AVX2 tile's 8-lane FMAs.
constexpr GemmContext kAvx512NarrowContext{gemm_ukr_avx512_f32_12x16, kMR512, 16, block_sizes_avx512,
                                           pack_a_n_avx512, pack_a_t_avx512, pack_b_n_ref,
                                           pack_b_t_avx2};
constexpr GemmContext kAvx512Context{gemm_ukr_avx512_f32_12x32, kMR512, kNR512, block_sizes_avx512,
                                     pack_a_n_avx512, pack_a_t_avx512, pack_b_n_avx512,
                                     pack_b_t_avx512, &kAvx512NarrowContext,
                                     gemm_ukr_avx512_f32_2x128, 128};
}  // namespace
}  // namespace corenn::cpu::gemm

namespace corenn::cpu::avx512 {
// Constant-initialized; cpu/isa_registry.cpp puts it in the slots of gemm's two stubs
// (cpu/isa_kernels.h says why not here).
extern const gemm::GemmContext kGemmContext = gemm::kAvx512Context;
}  // namespace corenn::cpu::avx512
