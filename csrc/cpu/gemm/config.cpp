// GEMM block sizes per CPU. A new CPU gets a new row here, not a new kernel (BLIS practice).
//
// The cache model (MR x NR = 6 x 16 floats):
//   KC: one B panel (KC x NR) plus one A panel (MR x KC) sit in L1 (32 KiB): KC = 256 uses 22 KiB.
//   MC: the packed A block (MC x KC) stays in L2, about half of it so B panels streaming through
//       don't evict it: 512 KiB L2 (Zen 2/3) -> MC = 144 (147 KiB);  256 KiB L2 -> MC = 96.
//   NC: the packed B block (KC x NC) lives in L3 shared by the cores: NC = 4080 (4 MiB).
// Measured with bench/kernels/bench_gemm on the 2-core Zen 3 (AMD EPYC) development machine.
#include <unistd.h>

#include "cpu/gemm/gemm.h"

namespace corenn::cpu::gemm {

namespace {

int64_t l2_bytes() {
#ifdef _SC_LEVEL2_CACHE_SIZE
  const long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (v > 0) return v;
#endif
  return 256 * 1024;
}

BlockSizes detect() {
  BlockSizes bs{96, 256, 4080};
  if (l2_bytes() >= 512 * 1024) bs.mc = 144;
  return bs;
}

}  // namespace

BlockSizes block_sizes() {
  static const BlockSizes bs = detect();
  return bs;
}

}  // namespace corenn::cpu::gemm
