// corenn's float32 GEMM engine: the internal C++ interface (used by ops/gemm.cpp and, later, by
// convolution and recurrent kernels).
//
// Math:   C := act(alpha * op(A) @ op(B) + beta * C + bias)
// Shapes: op(A) is (M, K), op(B) is (K, N), C is (M, N) row-major with leading dimension ldc,
//         bias is (N,) broadcast over rows; act is an Activation (none | relu).
//
// Algorithm (BLIS, Van Zee & van de Geijn 2015): five loops around an MR x NR micro-kernel
//
//   for jc in N step NC            B block  op(B)[pc:pc+KC, jc:jc+NC] is packed once (L3)
//     for pc in K step KC            and shared by all threads
//       for ic in M step MC          A block  op(A)[ic:ic+MC, pc:pc+KC] packed per thread (L2)
//         for jr in NC step NR         one B panel (KC x NR) stays in L1
//           for ir in MC step MR       micro-kernel: MR x NR tile of C in registers
//
// Packed panel format (what every packing routine, including a caller-supplied one, produces):
//   A block of mc rows x kc depth -> ceil(mc / MR) panels, panel i holds rows [i*MR, i*MR + MR),
//       stored depth-major: panel[p * MR + r] = op(A)[i0 + i*MR + r, p0 + p]; rows past mc are 0.
//       Panel i starts at dst + i * MR * kc.
//   B block of kc depth x nc cols -> ceil(nc / NR) panels, panel j holds cols [j*NR, j*NR + NR),
//       stored depth-major: panel[p * NR + c] = op(B)[p0 + p, j0 + j*NR + c]; cols past nc are 0.
//       Panel j starts at dst + j * NR * kc.
// Zero padding lets the micro-kernel always compute full MR x NR tiles; only the store is clipped.
// Buffers are 64-byte aligned; panels start at multiples of MR*kc / NR*kc floats.
//
// The packing routines absorb transposes (all four trans_a/trans_b forms run the same kernel), and
// an implicit-GEMM convolution can supply its own PackA that gathers patches straight from the
// NHWC input instead of materializing an im2col matrix.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/dispatch.h"

namespace corenn {
class Storage;
}

namespace corenn::cpu::gemm {

// Micro-tile of the ref and AVX2 kernels (the 6 x 16 panel format).
constexpr int kMR = 6;
constexpr int kNR = 16;
// Micro-tile of the AVX-512 kernel (gemm_ukr_avx512_f32_12x32.cpp says why 12 x 32): the panel
// format above with MR = 12, NR = 32. Each kernel set (GemmContext) has one format; a caller that
// supplies its own packers (implicit-GEMM convolution, rnn.cpp) asks packed_kernel() for the set
// and packs for its mr / nr, never for these constants.
constexpr int kMR512 = 12;
constexpr int kNR512 = 32;

// Epilogue activation, applied after alpha/beta/bias while the tile is still in registers.
// Adding one: a member here, its name in ops/gemm.cpp parse_activation, and its formula in
// store_tile_scalar and in each vector micro-kernel's store_row.
enum class Activation : int8_t { none = 0, relu = 1 };

// Block sizes (in elements). mc is a multiple of MR, nc of NR. Chosen per CPU in config.cpp.
struct BlockSizes {
  int64_t mc, kc, nc;
};
BlockSizes block_sizes();         // for the 6 x 16 kernels (ref, avx2)
BlockSizes block_sizes_avx512();  // for the 12 x 32 kernel
int64_t l2_bytes();               // one core's L2 (sysconf; 256 KiB where it is not known)

// Packs rows [i0, i0 + mc) x depth [p0, p0 + kc) of op(A) into the A panel format above.
// Called concurrently from several threads on disjoint row ranges: it must be thread-safe.
using PackA = std::function<void(int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* dst)>;
// Packs depth [p0, p0 + kc) x cols [j0, j0 + nc) of op(B) into the B panel format above.
// Also called concurrently (disjoint column ranges).
using PackB = std::function<void(int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* dst)>;

// What the micro-kernel applies at the store (see the contract in ukernels/*.cpp).
struct UkrArgs {
  float alpha;
  float beta;           // 0: C is write-only (never read, may hold NaN)
  const float* bias;    // nullptr, or the bias entries of this tile's columns (n valid entries)
  Activation act;
};

// C[0:m, 0:n] (leading dim ldc) := epilogue(A @ B) for one tile; m <= MR, n <= NR.
// A element (r, p) is read at a[r * rs_a + p * cs_a]: a packed panel has rs_a = 1, cs_a = MR;
// a plain matrix read in place (small-N / small-M paths) has (lda, 1), or (1, lda) when
// transposed. An unpacked A has no zero padding, so a kernel must not read rows r >= m.
// B row p (NR floats) is read at b + p * ldb: ldb = NR for a packed panel; a plain row-major
// (K, N) matrix read in place (small-M path, always a full NR-column panel) has ldb = N.
using UkrFn = void (*)(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a, const float* b,
                       int64_t ldb, float* c, int64_t ldc, int m, int n, const UkrArgs& args);

// The packers of plain row-major matrices: same arguments as the PackA / PackB calls plus the
// matrix and its leading dimension.
using PackAFn = void (*)(const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
                         int64_t kc, float* dst);
using PackBFn = void (*)(const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                         int64_t nc, float* dst);

// One ISA's GEMM kernel set, a BLIS-style context: the micro-kernel, its tile, its block sizes
// (config.cpp, from the cache sizes) and the packers that produce its panel format. The kernel
// files register their context in the stubs below; the driver (gemm.cpp) asks the stub and never
// names an ISA. A pack_a_n may write up to kPackSlack floats past its block.
struct GemmContext {
  UkrFn ukr;
  int mr, nr;
  BlockSizes (*block_sizes)();
  PackAFn pack_a_n, pack_a_t;
  PackBFn pack_b_n, pack_b_t;
  // Problems with N <= 16 (sgemm_context(n), packed_kernel(n)) run this set instead, where the
  // ISA has one (avx512: 12 x 16, the same mr); null: this set runs them (config.cpp).
  const GemmContext* narrow = nullptr;
  // The small-M path's tile for m <= kWideRows rows: A and B read in place (the ukr contract),
  // wide_nr columns (a multiple of nr, full width only), the same arithmetic per C element as ukr
  // (one chain over the whole depth, the same epilogue), so the same bits. Why: a 1-row MR x NR
  // tile has NR / lanes accumulator chains (2), each waiting out the FMA latency (4 cycles) on
  // every depth step; batch-1 inference (a GEMV) then ran at a quarter of the FMA rate. wide_nr
  // columns give 8 chains per row. Null: ukr runs those rows too.
  UkrFn wide_ukr = nullptr;
  int wide_nr = 0;
};
constexpr int kWideRows = 2;
using GemmContextRef = const GemmContext*;
// The kernel set of gemm_packed (caller-supplied packers: conv, rnn): cpu_ref = gemm_ukr_ref.cpp,
// avx2 = gemm_ukr_avx2_f32_6x16.cpp (6 x 16), avx512 = gemm_ukr_avx512_f32_12x32.cpp (12 x 32).
CORENN_DECLARE_DISPATCH(GemmContextRef, gemm_packed_context_stub);
// sgemm on plain matrices: the same three kernel sets.
CORENN_DECLARE_DISPATCH(GemmContextRef, sgemm_context_stub);

// The largest tile of any context, and what a pack_a_n may write past its block: workspace sizes.
constexpr int kMaxMR = kMR512;
constexpr int kMaxNR = kNR512;
constexpr int64_t kPackSlack = 16;

// The reference micro-kernel and plain-matrix packers of the 6 x 16 format (every CPU).
void gemm_ukr_ref_f32_6x16(int64_t kc, const float* a, int64_t rs_a, int64_t cs_a,
                           const float* b, int64_t ldb, float* c, int64_t ldc, int m, int n,
                           const UkrArgs& args);
void pack_a_n_ref(const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                  float* dst);
void pack_a_t_ref(const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                  float* dst);
void pack_b_n_ref(const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                  float* dst);
void pack_b_t_ref(const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                  float* dst);

// A micro-kernel with its tile and block sizes: what the blocked driver runs; ctx is the kernel
// set it came from (its plain-matrix packers produce the mr x nr format).
struct Kernel {
  UkrFn ukr;
  int mr, nr;
  BlockSizes bs;
  GemmContextRef ctx = nullptr;
};
// The kernel set of the active ISA for caller-supplied packers (gemm_packed, and callers that run
// the micro-kernel themselves: rnn.cpp). Ask once per operation and pack for its mr / nr.
Kernel packed_kernel();
// The same for a problem of n output columns: a narrower tile when n is much narrower than the
// active set's (config.cpp says when); the caller packs for the mr / nr of what it gets.
Kernel packed_kernel(int64_t n);
// The sgemm kernel set for n output columns (the same rule).
const GemmContext& sgemm_context(int64_t n);
// For sgemm: the kernel of sgemm_context_stub under the active ISA.
Kernel sgemm_kernel();
// Every kernel this build and CPU can run, by slot name, with its tile and block sizes
// (show_config).
std::vector<std::pair<std::string, Kernel>> kernel_configs();

// Scalar store of an accumulated tile (acc is MR x NR, row stride kNR) into C with the epilogue;
// shared by the reference kernel and by the edge tiles of the vector kernels.
inline void store_tile_scalar(const float* acc, float* c, int64_t ldc, int m, int n,
                              const UkrArgs& args) {
  for (int r = 0; r < m; ++r) {
    float* crow = c + r * ldc;
    for (int j = 0; j < n; ++j) {
      float v = args.alpha * acc[r * kNR + j];
      if (args.beta != 0.0f) v += args.beta * crow[j];
      if (args.bias) v += args.bias[j];
      if (args.act == Activation::relu) v = v < 0.0f ? 0.0f : v;  // NaN stays NaN
      crow[j] = v;
    }
  }
}

// The standard packers for row-major A / B with leading dimensions lda / ldb, in kern's format.
PackA pack_a_matrix(const Kernel& kern, const float* a, int64_t lda, bool trans_a);
PackB pack_b_matrix(const Kernel& kern, const float* b, int64_t ldb, bool trans_b);

// The general driver: any packers producing kern's panel format (kern from packed_kernel()), C
// row-major with leading dimension ldc, bias (N,) or nullptr. Chooses threads
// (corenn::get_num_threads, none for small problems). Never reads C when beta == 0.
void gemm_packed(const Kernel& kern, int64_t m, int64_t n, int64_t k, const PackA& pack_a,
                 const PackB& pack_b, float alpha, float beta, float* c, int64_t ldc,
                 const float* bias, Activation act);
// gemm_packed whose op(B) is the plain row-major (K, N) matrix b (leading dimension ldb) of a
// weight: its panels come from the copy kept on keep_b (packed_b_cache.cpp) where there is one,
// else are packed per call (keep_b nullptr: always). The same bits either way. An implicit-GEMM
// conv's kernel at inference.
void gemm_packed_kept_b(const Kernel& kern, int64_t m, int64_t n, int64_t k, const PackA& pack_a,
                        const float* b, int64_t ldb, const Storage* keep_b, float alpha,
                        float beta, float* c, int64_t ldc, const float* bias, Activation act);

// Plain row-major matrices: A is (M, K) or (K, M) when trans_a, B is (K, N) or (N, K).
// keep_b: the Storage that b lives in when the caller asks for op(B) to be packed once and kept
// on it (a layer's weight at inference: packed_b_cache.cpp); nullptr packs per call. The result
// is bit-identical either way.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc, const float* bias, Activation act, const Storage* keep_b = nullptr);

// ---- op(B) packed once and kept (packed_b_cache.cpp) -------------------------------------------
//
// The whole op(B) in one kernel set's panel format, laid out as the driver walks it: the depth
// step starting at pc (steps of kc_step = the driver's depth_step) begins at pc * np floats
// (np = N rounded up to NR), and within a step of depth kc the panel of column j0 (a multiple
// of NR) begins at j0 * kc. Its size is k * np floats (a 784 x 512 Dense kernel: 1.6 MB).
struct PackedBKey {
  const GemmContext* ctx = nullptr;  // the kernel set (ISA, tile) it was packed for
  int64_t kc_step = 0, k = 0, n = 0, ldb = 0;
  const float* b = nullptr;
  bool trans_b = false;
  bool operator==(const PackedBKey& o) const {
    return ctx == o.ctx && kc_step == o.kc_step && k == o.k && n == o.n && ldb == o.ldb &&
           b == o.b && trans_b == o.trans_b;
  }
};
struct PackedB {
  PackedBKey key;
  int64_t np = 0;
  AlignedBuffer buf;
  const float* data() const { return data_; }
  float* data_ = nullptr;
};
// The driver's depth step for k and the block depth kc: equal steps, a multiple of 8.
int64_t depth_step(int64_t k, int64_t kc);
// Packs all of op(B) for `key` into out (threads over depth steps and panels).
void pack_whole_b(const GemmContext& ctx, const PackedBKey& key, PackedB& out);
// The packed op(B) kept on `storage` for `key` at the storage's current version, or nullptr:
// the storage's versions cannot vouch for its contents (a live writable export, borrowed
// memory), or this (key, version) is seen for the first time (a training step, whose weights
// change every step, never pays for packing into the cache). A stale entry is dropped as soon as
// a call sees another version or key. Thread-safe.
std::shared_ptr<const PackedB> kept_packed_b(const Storage& storage, const PackedBKey& key);
// Counters for tests: hits, packs (entries made), first sights, untrusted (bypassed).
struct PackedBStats {
  uint64_t hits, packs, first_sights, untrusted;
};
PackedBStats packed_b_stats();
// Bytes of the packed copy kept on `storage` (0: none).
size_t packed_b_bytes(const Storage& storage);

}  // namespace corenn::cpu::gemm
