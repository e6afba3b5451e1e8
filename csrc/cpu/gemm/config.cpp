// GEMM block sizes per CPU. A new CPU gets a new row here, not a new kernel (BLIS practice).
//
// The cache model (MR x NR = 6 x 16 floats):
//   KC: one B panel (KC x NR) streams through L1 while the micro-kernel runs over it; a larger KC
//       means fewer passes over C (each pass reads and writes the C tile). KC = 512 (32 KiB B
//       panel) measured best on Zen 3 once the kernel prefetches its C tile; K is split into
//       equal steps near KC (784 -> 2 x 392) by the driver.
//   MC: the packed A block (MC x KC) stays in L2 (512 KiB on Zen 2/3): MC = 72 -> 144 KiB, small
//       enough that the B panels streaming through don't evict it. 256 KiB L2 -> MC = 48.
//   NC: the packed B block (KC x NC) lives in L3 shared by the cores: NC = 4080 (8 MiB).
// Measured with bench/kernels/bench_gemm on the 2-core Zen 3 (AMD EPYC) development machine:
// KC = 512, MC = 72 gives 2048^3 at ~95% of peak on 1 and 2 threads; KC 256..768 x MC 48..120
// were within a few percent (flat optimum, noisy shared machine).
// CORENN_GEMM_MC / _KC / _NC override the table (for tuning with bench_gemm; read once).
//
// The AVX-512 kernel (MR x NR = 12 x 32) gets its own row, from the same model:
//   KC = 384 (BLIS skx): the B micro-panel is 384 x 32 floats = 48 KiB, more than a 32 KiB L1, so
//       it streams from L2; the 12 x 32 tile loads 176 bytes per 24 FMAs, well under L2's
//       bandwidth (64 B/cycle on Zen 4, Skylake-X), so the kernel stays FMA-bound.
//   MC: the packed A block takes half of L2: MC = L2 / 2 / (KC * 4 bytes), a multiple of 12,
//       between 48 and 480 (BLIS skx: 480 with 1 MiB L2): 336 on a 1 MiB L2 (Zen 4, 504 KiB).
//   NC = 3072 (BLIS skx): the KC x NC B block is 4.5 MiB of L3.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "cpu/gemm/gemm.h"

namespace corenn::cpu::gemm {

int64_t l2_bytes() {
  static const int64_t bytes = [] {
#ifdef _SC_LEVEL2_CACHE_SIZE
    const long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (v > 0) return static_cast<int64_t>(v);
#endif
    return int64_t{256 * 1024};
  }();
  return bytes;
}

namespace {

int64_t env_or(const char* name, int64_t fallback, int64_t multiple) {
  const char* v = std::getenv(name);
  const int64_t x = v ? std::atoll(v) : 0;
  return x > 0 ? (x + multiple - 1) / multiple * multiple : fallback;
}

BlockSizes detect() {
  BlockSizes bs{48, 512, 4080};
  if (l2_bytes() >= 512 * 1024) bs.mc = 72;
  bs.mc = env_or("CORENN_GEMM_MC", bs.mc, kMR);
  bs.kc = env_or("CORENN_GEMM_KC", bs.kc, 8);
  bs.nc = env_or("CORENN_GEMM_NC", bs.nc, kNR);
  return bs;
}

BlockSizes detect_avx512() {
  BlockSizes bs{0, 384, 3072};
  bs.mc = std::clamp<int64_t>(l2_bytes() / 2 / (bs.kc * 4) / kMR512 * kMR512, 4 * kMR512,
                              40 * kMR512);
  bs.mc = env_or("CORENN_GEMM_MC", bs.mc, kMR512);
  bs.kc = env_or("CORENN_GEMM_KC", bs.kc, 8);
  bs.nc = env_or("CORENN_GEMM_NC", bs.nc, kNR512);
  return bs;
}

}  // namespace

BlockSizes block_sizes() {
  static const BlockSizes bs = detect();
  return bs;
}

BlockSizes block_sizes_avx512() {
  static const BlockSizes bs = detect_avx512();
  return bs;
}

namespace {
Kernel kernel_of(const GemmContext& ctx) {
  return Kernel{ctx.ukr, ctx.mr, ctx.nr, ctx.block_sizes(), &ctx};
}
}  // namespace

Kernel packed_kernel() { return kernel_of(*gemm_packed_context_stub.cpu()); }

Kernel sgemm_kernel() { return kernel_of(*sgemm_context_stub.cpu()); }

namespace {
// A tile wider than the problem wastes its lanes: on N = 3 columns (a conv with 3 output
// channels, a Dense(3) head) the 32-wide AVX-512 tile does 3 useful columns in 32, a 16-wide
// tile 3 in 16, twice the useful work per FMA. So when N rounded up to 16 is narrower than the
// active set's tile, its narrow set runs (avx512: 12 x 16, full-width FMAs; before it, the AVX2
// 6 x 16 set ran there). Measured on Zen 5 (kept B, best of 7 x 200 calls), 256x256x10: the AVX2
// set 18.0 us on one thread, 16.2 on two; the 12 x 16 set 11.0 and 7.6. A Conv2D 32 -> 3
// channels, 64x28x28, forward and both gradients: 7.24 -> 6.37 ms.
GemmContextRef context_for(const DispatchStub<GemmContextRef>& stub, int64_t n) {
  const GemmContextRef ctx = stub.cpu();
  if (n > 0 && ctx->narrow && ctx->narrow->nr < ctx->nr && (n + 15) / 16 * 16 <= ctx->narrow->nr)
    return ctx->narrow;
  return ctx;
}
}  // namespace

Kernel packed_kernel(int64_t n) { return kernel_of(*context_for(gemm_packed_context_stub, n)); }

const GemmContext& sgemm_context(int64_t n) { return *context_for(sgemm_context_stub, n); }

std::vector<std::pair<std::string, Kernel>> kernel_configs() {
  // The sgemm contexts this CPU can run, each under the slot it is registered in.
  std::vector<std::pair<std::string, Kernel>> out;
  const std::pair<Slot, bool> slots[] = {
      {Slot::cpu_ref, true}, {Slot::avx2, cpu_has_avx2_fma()}, {Slot::avx512, cpu_has_avx512()}};
  for (const auto& [slot, runs] : slots) {
    const GemmContextRef ctx = sgemm_context_stub.at(slot);
    if (runs && ctx) out.emplace_back(slot == Slot::cpu_ref ? "ref" : slot_name(slot), kernel_of(*ctx));
  }
  return out;
}

}  // namespace corenn::cpu::gemm
