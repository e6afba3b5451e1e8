// GEMM driver: BLIS-style blocked loops, packing, threads. See gemm.h for the math, the loop nest
// and the packed panel format.
//
// Shapes:  op(A) (M, K), op(B) (K, N), C (M, N) row-major (leading dim ldc), bias (N,).
// Layout:  inputs are plain row-major matrices (or whatever a caller's PackA/PackB reads);
//          packed buffers are 64-byte aligned, kept per calling thread and grown on demand.
// Variants:
//   micro-kernel: a GemmContext (micro-kernel, tile, block sizes, packers) from the dispatch
//                 table: sgemm (plain matrices) asks sgemm_context_stub, gemm_packed (caller-
//                 supplied packers) runs the Kernel its caller got from packed_kernel()
//                 (gemm_packed_context_stub) and packed for; the kernel files register their
//                 contexts per ISA (gemm.h). The loops below take the tile from
//                 Problem and name no instruction set.
//   threads:      small problems (2*M*N*K below kMinParallelFlops) run on the calling thread;
//                 otherwise rows or columns are split into chunks of whole micro-tiles that the
//                 pool's threads claim (core/parallel.h), whichever divides more evenly. Row
//                 split: per column block, one job packs B for the whole depth into a shared
//                 buffer, a second job runs row chunks, each packing its own A blocks -- two jobs
//                 and no barrier per column block, so a descheduled thread delays only the chunk
//                 it holds. Column split: each chunk runs an independent blocked GEMM on its
//                 columns. Every C element sums the same depth steps in the same order on every
//                 path, so the result does not depend on the thread count.
//   small N:      with n <= 2*NR the micro-kernel reads A in place (packing would cost about as
//                 much as the multiply); so it does with a kept B (below) and A not transposed.
//   small M:      with m <= 12 and B not transposed nothing is packed: the kernel streams A and B
//                 in place (GEMV-like inference calls), in the same depth steps as the other
//                 paths; column panels are split over threads. For m <= 2 a context's wide tile
//                 (wide_nr columns) keeps 8 FMA chains per row busy. A kept B larger than L2
//                 serves 2 to 12 rows better than B in place (kept_b_beats_in_place).
//   kept B:       sgemm's caller may name the Storage of a B it multiplies by again (a layer's
//                 weight); packed_b_cache.cpp then hands back all of op(B) packed (PackedB), and
//                 the loops read its blocks where packing would have written them: no packing
//                 job, the same depth steps, the same bits.
#include "cpu/gemm/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "core/aligned_buffer.h"
#include "ops/gemm.h"
#include "core/parallel.h"

namespace corenn::cpu::gemm {

int64_t depth_step(int64_t k, int64_t kc) {
  const int64_t k_steps = (k + kc - 1) / kc;
  return ((k + k_steps - 1) / k_steps + 7) / 8 * 8;
}

namespace {

constexpr double kMinParallelFlops = 1.5e5;
constexpr int64_t kDirectAMaxPanels = 2;  // n <= 2 NR (32, or 64 on avx512): skip packing A
constexpr int64_t kSmallM = 12;            // m <= 12 with B not transposed: pack nothing
constexpr double kRowSplitSlack = 0.02;    // row-split imbalance accepted to share B (run())

// ---- packing buffers ------------------------------------------------------------------------

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// The packing buffers of one thread (the caller or a pool worker): an A block and a B block,
// kept between calls (thread_local), so steady-state calls allocate nothing. Running out of
// memory on a worker raises std::bad_alloc there, which the pool rethrows on the caller
// (MemoryError in Python).
struct Workspace {
  AlignedBuffer a, b;
  float* a_block(const BlockSizes& bs) {
    // whole micro-panels of either tile format (6 and 12 rows, 16 and 32 columns)
    return a.get(static_cast<size_t>(round_up(bs.mc, kMaxMR) * bs.kc + kPackSlack));
  }
  float* b_block(const BlockSizes& bs) {
    return b.get(static_cast<size_t>(bs.kc * round_up(bs.nc, kMaxNR)));
  }
};

thread_local Workspace tls_workspace;
// The row split's B, packed for the whole depth of one column block and shared by all chunks;
// owned by the calling thread.
thread_local AlignedBuffer tls_shared_b;

}  // namespace

// ---- reference packers for plain row-major matrices (6 x 16 format) ------------------------------

// op(A) = A (M, K), lda >= K: each panel gathers MR rows; a row's kc values are contiguous.
void pack_a_n_ref(const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
              float* dst) {
  for (int64_t i = 0; i < mc; i += kMR, dst += kMR * kc) {
    const int rows = static_cast<int>(std::min<int64_t>(kMR, mc - i));
    for (int r = 0; r < rows; ++r) {
      const float* src = a + (i0 + i + r) * lda + p0;
      for (int64_t p = 0; p < kc; ++p) dst[p * kMR + r] = src[p];
    }
    for (int r = rows; r < kMR; ++r)
      for (int64_t p = 0; p < kc; ++p) dst[p * kMR + r] = 0.0f;
  }
}

// op(A) = A^T, A stored (K, M): the MR values of one depth step are contiguous in memory.
void pack_a_t_ref(const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
              float* dst) {
  for (int64_t i = 0; i < mc; i += kMR, dst += kMR * kc) {
    const int rows = static_cast<int>(std::min<int64_t>(kMR, mc - i));
    const float* src = a + p0 * lda + i0 + i;
    for (int64_t p = 0; p < kc; ++p, src += lda) {
      int r = 0;
      for (; r < rows; ++r) dst[p * kMR + r] = src[r];
      for (; r < kMR; ++r) dst[p * kMR + r] = 0.0f;
    }
  }
}

// op(B) = B (K, N): the NR values of one depth step are contiguous.
void pack_b_n_ref(const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
              float* dst) {
  for (int64_t j = 0; j < nc; j += kNR, dst += kNR * kc) {
    const int cols = static_cast<int>(std::min<int64_t>(kNR, nc - j));
    const float* src = b + p0 * ldb + j0 + j;
    if (cols == kNR) {
      for (int64_t p = 0; p < kc; ++p, src += ldb) std::memcpy(dst + p * kNR, src, sizeof(float) * kNR);
    } else {
      for (int64_t p = 0; p < kc; ++p, src += ldb) {
        int c = 0;
        for (; c < cols; ++c) dst[p * kNR + c] = src[c];
        for (; c < kNR; ++c) dst[p * kNR + c] = 0.0f;
      }
    }
  }
}

// op(B) = B^T, B stored (N, K): each panel gathers NR rows of B; a row's kc values are contiguous.
void pack_b_t_ref(const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
              float* dst) {
  for (int64_t j = 0; j < nc; j += kNR, dst += kNR * kc) {
    const int cols = static_cast<int>(std::min<int64_t>(kNR, nc - j));
    for (int c = 0; c < cols; ++c) {
      const float* src = b + (j0 + j + c) * ldb + p0;
      for (int64_t p = 0; p < kc; ++p) dst[p * kNR + c] = src[p];
    }
    for (int c = cols; c < kNR; ++c)
      for (int64_t p = 0; p < kc; ++p) dst[p * kNR + c] = 0.0f;
  }
}

namespace {

// ---- blocked loops ---------------------------------------------------------------------------

struct Problem {
  int64_t m, n, k;
  const PackA* pack_a;
  const PackB* pack_b;
  float alpha, beta;
  float* c;
  int64_t ldc;
  const float* bias;
  Activation act;
  UkrFn ukr;
  int mr, nr;  // the micro-kernel's tile: the panel format of the packers
  BlockSizes bs;
  // Small-N path: A read in place (element (i, p) at a_plain[i*rs_a + p*cs_a]), no A packing.
  const float* a_plain = nullptr;
  int64_t rs_a = 0, cs_a = 0;
  // op(B) packed beforehand (a kept weight, gemm.h's PackedB layout): pack_b is never called.
  const float* packed_b = nullptr;
  int64_t packed_np = 0;
};

// The packed B block of depth step [pc, pc + kc) from column jc, in a kept PackedB.
const float* kept_b_block(const Problem& pb, int64_t pc, int64_t kc, int64_t jc) {
  return pb.packed_b + pc * pb.packed_np + jc * kc;
}

// jr / ir loops over one packed A block (mc x kc) and B block (kc x nc).
void macro_kernel(const Problem& pb, int64_t mc, int64_t nc, int64_t kc, const float* pa,
                  const float* pbk, float* c, const float* bias, const UkrArgs& base) {
  UkrArgs args = base;
  for (int64_t jr = 0; jr < nc; jr += pb.nr) {
    const int n = static_cast<int>(std::min<int64_t>(pb.nr, nc - jr));
    args.bias = bias ? bias + jr : nullptr;
    const float* bpanel = pbk + jr * kc;
    for (int64_t ir = 0; ir < mc; ir += pb.mr) {
      const int m = static_cast<int>(std::min<int64_t>(pb.mr, mc - ir));
      pb.ukr(kc, pa + ir * kc, 1, pb.mr, bpanel, pb.nr, c + ir * pb.ldc + jr, pb.ldc, m, n, args);
    }
  }
}

// Like macro_kernel, with A read in place instead of from a packed block.
void direct_a_kernel(const Problem& pb, int64_t ic, int64_t mc, int64_t pc, int64_t nc,
                     int64_t kc, const float* pbk, float* c, const float* bias,
                     const UkrArgs& base) {
  UkrArgs args = base;
  const float* a = pb.a_plain + ic * pb.rs_a + pc * pb.cs_a;
  for (int64_t jr = 0; jr < nc; jr += pb.nr) {
    const int n = static_cast<int>(std::min<int64_t>(pb.nr, nc - jr));
    args.bias = bias ? bias + jr : nullptr;
    const float* bpanel = pbk + jr * kc;
    for (int64_t ir = 0; ir < mc; ir += pb.mr) {
      const int m = static_cast<int>(std::min<int64_t>(pb.mr, mc - ir));
      pb.ukr(kc, a + ir * pb.rs_a, pb.rs_a, pb.cs_a, bpanel, pb.nr, c + ir * pb.ldc + jr, pb.ldc,
             m, n, args);
    }
  }
}

// Equal depth steps (784 -> 2 x 392, not 512 + 272), a multiple of 8 for the unrolled loop. Every
// path uses these steps, so each C element sums the same partial products in the same order.
int64_t depth_step(const Problem& pb) { return gemm::depth_step(pb.k, pb.bs.kc); }

// The ic loop of one depth step [pc, pc + kc) over rows [i_lo, i_hi), against the packed B block
// `bbuf` of columns [jc, jc + nc).
void row_blocks(const Problem& pb, int64_t i_lo, int64_t i_hi, int64_t jc, int64_t nc, int64_t pc,
                int64_t kc, float* abuf, const float* bbuf) {
  const bool last = pc + kc == pb.k;
  const UkrArgs args{pb.alpha, pc == 0 ? pb.beta : 1.0f, nullptr, last ? pb.act : Activation::none};
  const float* bias = last && pb.bias ? pb.bias + jc : nullptr;
  for (int64_t ic = i_lo; ic < i_hi; ic += pb.bs.mc) {
    const int64_t mc = std::min(pb.bs.mc, i_hi - ic);
    if (pb.a_plain) {
      direct_a_kernel(pb, ic, mc, pc, nc, kc, bbuf, pb.c + ic * pb.ldc + jc, bias, args);
    } else {
      (*pb.pack_a)(ic, mc, pc, kc, abuf);
      macro_kernel(pb, mc, nc, kc, abuf, bbuf, pb.c + ic * pb.ldc + jc, bias, args);
    }
  }
}

// The jc / pc / ic loops for rows [i_lo, i_hi) and cols [j_lo, j_hi), on the calling thread.
void blocked_loops(const Problem& pb, int64_t i_lo, int64_t i_hi, int64_t j_lo, int64_t j_hi,
                   float* abuf, float* bbuf) {
  const int64_t kc_step = depth_step(pb);
  for (int64_t jc = j_lo; jc < j_hi; jc += pb.bs.nc) {
    const int64_t nc = std::min(pb.bs.nc, j_hi - jc);
    for (int64_t pc = 0; pc < pb.k; pc += kc_step) {
      const int64_t kc = std::min(kc_step, pb.k - pc);
      if (pb.packed_b) {
        row_blocks(pb, i_lo, i_hi, jc, nc, pc, kc, abuf, kept_b_block(pb, pc, kc, jc));
        continue;
      }
      (*pb.pack_b)(pc, kc, jc, nc, bbuf);
      row_blocks(pb, i_lo, i_hi, jc, nc, pc, kc, abuf, bbuf);
    }
  }
}

// Row split over the pool. Per column block [jc, jc + nc) and group of depth steps: job 1 packs B
// for the group into a shared buffer (depth step pc at offset (pc - group start) * ncp, panel j of
// it at + j * NR * kc), each chunk a run of panels; job 2 runs chunks of whole MR row panels, each
// looping over the group's depth steps against the shared B with its own A block. A group holds
// as many steps as fit the kc x nc floats of one blocked B block (kept L3-sized): the whole depth
// for most layers, so usually two jobs per column block and no barrier anywhere.
void run_row_split(const Problem& pb, int threads) {
  const BlockSizes& bs = pb.bs;
  const int64_t m = pb.m, n = pb.n, k = pb.k;
  const int64_t kc_step = depth_step(pb);
  const int64_t steps = (k + kc_step - 1) / kc_step;
  const int64_t width = std::min(round_up(n, pb.nr), round_up(bs.nc, pb.nr));
  // A kept B (pb.packed_b) is read in place: one group of all steps, no packing job.
  const int64_t group = pb.packed_b ? steps :
      std::clamp<int64_t>(bs.kc * round_up(bs.nc, pb.nr) / (kc_step * width), 1, steps);
  float* bbuf =
      pb.packed_b ? nullptr : tls_shared_b.get(static_cast<size_t>(group * kc_step * width));
  const int64_t m_panels = (m + pb.mr - 1) / pb.mr;
  // At least 4 row panels (24 rows) per chunk: each packed B panel is then reused by 4 micro-tiles
  // from L1 before the next is loaded; fewer only when that would leave a thread without work.
  const int64_t row_grain = std::min<int64_t>(4, std::max<int64_t>(1, m_panels / threads));
  for (int64_t jc = 0; jc < n; jc += width) {
    const int64_t nc = std::min(width, n - jc);
    const int64_t panels = (nc + pb.nr - 1) / pb.nr, ncp = panels * pb.nr;
    for (int64_t s0 = 0; s0 < steps; s0 += group) {
      const int64_t s1 = std::min(steps, s0 + group);
      const int64_t p0 = s0 * kc_step, p1 = std::min(k, s1 * kc_step);
      if (!pb.packed_b) parallel_for(0, (s1 - s0) * panels, 4, [&](int64_t lo, int64_t hi) {
        for (int64_t s = lo / panels; s * panels < hi; ++s) {
          const int64_t pc = p0 + s * kc_step, kc = std::min(kc_step, k - pc);
          const int64_t q0 = std::max(lo, s * panels) - s * panels;
          const int64_t q1 = std::min(hi, (s + 1) * panels) - s * panels;
          (*pb.pack_b)(pc, kc, jc + q0 * pb.nr, std::min(nc, q1 * pb.nr) - q0 * pb.nr,
                       bbuf + (pc - p0) * ncp + q0 * pb.nr * kc);
        }
      });
      parallel_for(0, m_panels, row_grain, [&](int64_t lo, int64_t hi) {
        float* abuf = tls_workspace.a_block(bs);
        const int64_t i_lo = lo * pb.mr, i_hi = std::min(m, hi * pb.mr);
        for (int64_t pc = p0; pc < p1; pc += kc_step) {
          const int64_t kc = std::min(kc_step, k - pc);
          row_blocks(pb, i_lo, i_hi, jc, nc, pc, kc, abuf,
                     pb.packed_b ? kept_b_block(pb, pc, kc, jc) : bbuf + (pc - p0) * ncp);
        }
      });
    }
  }
}

int choose_threads(const Problem& pb) {
  const int64_t m = pb.m, n = pb.n, k = pb.k;
  const int threads = get_num_threads();
  if (threads <= 1 || in_parallel_region()) return 1;
  const double flops = 2.0 * m * n * k;
  if (flops < kMinParallelFlops) return 1;
  // No thread gets less than one micro-tile row or column of work.
  const int64_t tiles = std::max((m + pb.mr - 1) / pb.mr, (n + pb.nr - 1) / pb.nr);
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, tiles)));
}

}  // namespace

// ---- entry -----------------------------------------------------------------------------------

namespace {

// The standard packers of `ctx`'s panel format for plain matrices.
PackA pack_a_for(const GemmContext& ctx, const float* a, int64_t lda, bool trans_a) {
  const PackAFn pack = trans_a ? ctx.pack_a_t : ctx.pack_a_n;
  return [=](int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* dst) {
    pack(a, lda, i0, mc, p0, kc, dst);
  };
}

PackB pack_b_for(const GemmContext& ctx, const float* b, int64_t ldb, bool trans_b) {
  const PackBFn pack = trans_b ? ctx.pack_b_t : ctx.pack_b_n;
  return [=](int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* dst) {
    pack(b, ldb, p0, kc, j0, nc, dst);
  };
}

}  // namespace

PackA pack_a_matrix(const Kernel& kern, const float* a, int64_t lda, bool trans_a) {
  return pack_a_for(*kern.ctx, a, lda, trans_a);
}

PackB pack_b_matrix(const Kernel& kern, const float* b, int64_t ldb, bool trans_b) {
  return pack_b_for(*kern.ctx, b, ldb, trans_b);
}

void pack_whole_b(const GemmContext& ctx, const PackedBKey& key, PackedB& out) {
  const int64_t nr = ctx.nr, k = key.k, n = key.n, kc_step = key.kc_step;
  const int64_t np = round_up(n, nr), panels = np / nr, steps = (k + kc_step - 1) / kc_step;
  float* dst = out.buf.get(static_cast<size_t>(k * np));
  const PackBFn pack = key.trans_b ? ctx.pack_b_t : ctx.pack_b_n;
  // The same chunks as the row split's packing job: runs of 4 panels of one depth step.
  parallel_for(0, steps * panels, 4, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo / panels; s * panels < hi; ++s) {
      const int64_t pc = s * kc_step, kc = std::min(kc_step, k - pc);
      const int64_t q0 = std::max(lo, s * panels) - s * panels;
      const int64_t q1 = std::min(hi, (s + 1) * panels) - s * panels;
      pack(key.b, key.ldb, pc, kc, q0 * nr, std::min(n, q1 * nr) - q0 * nr,
           dst + pc * np + q0 * nr * kc);
    }
  });
  out.key = key;
  out.np = np;
  out.data_ = dst;
}

namespace {

void run(Problem& pb) {
  const int64_t m = pb.m, n = pb.n, k = pb.k;
  float* c = pb.c;
  const int64_t ldc = pb.ldc;
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // op(A) @ op(B) is all zeros: only the epilogue remains
    const float zeros[kMR * kNR] = {};
    for (int64_t i = 0; i < m; i += kMR)
      for (int64_t j = 0; j < n; j += kNR)
        store_tile_scalar(zeros, c + i * ldc + j, ldc, static_cast<int>(std::min<int64_t>(kMR, m - i)),
                          static_cast<int>(std::min<int64_t>(kNR, n - j)),
                          UkrArgs{pb.alpha, pb.beta, pb.bias ? pb.bias + j : nullptr, pb.act});
    return;
  }
  const int threads = choose_threads(pb);
  if (threads <= 1) {
    Workspace& ws = tls_workspace;
    blocked_loops(pb, 0, m, 0, n, ws.a_block(pb.bs), ws.b_block(pb.bs));
    return;
  }
  const int64_t m_panels = (m + pb.mr - 1) / pb.mr, n_panels = (n + pb.nr - 1) / pb.nr;
  // Split the dimension whose micro-tiles divide more evenly over the threads (M = 64 is 11 row
  // panels: 6 + 5, but 512 columns are 16 + 16 panels). Near-ties go to rows, which share B: a
  // column split repacks all of A on every thread, which for an implicit-GEMM conv is the patch
  // gather (Keras CNN conv 13x13x32->64 forward: 2.9 ms on columns, 2.3 ms on rows).
  auto balance = [&](int64_t panels) {
    return static_cast<double>(panels) / (threads * ((panels + threads - 1) / threads));
  };
  bool split_rows = balance(m_panels) + kRowSplitSlack >= balance(n_panels);
  if (m_panels < threads) split_rows = false;
  if (n_panels < threads) split_rows = true;
  if (split_rows) {
    run_row_split(pb, threads);
  } else {
    // Few rows: split columns (whole NR panels); each chunk is an independent GEMM over all rows,
    // which packs all of A again, so a chunk is wide enough to amortise that: at 4 panels
    // (64 columns on avx2) 256x512x512 ran as 8 chunks that packed A 8 times, 16.8 M instructions
    // a call against 14.6 M at 16 panels (callgrind; the first wave's OpenMP split packed it once
    // per thread); measured best of 4 alternated rounds on Zen 3 (avx2, 2 threads), 256 rows by
    // 512-784 by 256-512 ran 2-5% faster. With fewer rows (64x784x512: 150 vs 145 GFLOP/s) the
    // narrow chunks' balance wins over the repacking, and where A is read in place (pb.a_plain)
    // a chunk costs nothing extra: those keep 4 panels.
    const int64_t max_grain = pb.a_plain || m_panels < 32 ? 4 : 16;
    const int64_t grain = std::min<int64_t>(max_grain, std::max<int64_t>(1, n_panels / threads));
    parallel_for(0, n_panels, grain, [&](int64_t lo, int64_t hi) {
      Workspace& ws = tls_workspace;
      blocked_loops(pb, 0, m, lo * pb.nr, std::min(n, hi * pb.nr), ws.a_block(pb.bs),
                    ws.b_block(pb.bs));
    });
  }
}

Problem make_problem(const Kernel& kern, int64_t m, int64_t n, int64_t k, const PackA* pack_a,
                     const PackB* pack_b, float alpha, float beta, float* c, int64_t ldc,
                     const float* bias, Activation act) {
  return Problem{m, n, k, pack_a, pack_b, alpha, beta, c, ldc, bias, act, kern.ukr, kern.mr,
                 kern.nr, kern.bs};
}

}  // namespace

void gemm_packed(const Kernel& kern, int64_t m, int64_t n, int64_t k, const PackA& pack_a,
                 const PackB& pack_b, float alpha, float beta, float* c, int64_t ldc,
                 const float* bias, Activation act) {
  Problem pb = make_problem(kern, m, n, k, &pack_a, &pack_b, alpha, beta, c, ldc, bias, act);
  run(pb);
}

void gemm_packed_kept_b(const Kernel& kern, int64_t m, int64_t n, int64_t k, const PackA& pack_a,
                        const float* b, int64_t ldb, const Storage* keep_b, float alpha,
                        float beta, float* c, int64_t ldc, const float* bias, Activation act) {
  const PackB pack_b = pack_b_for(*kern.ctx, b, ldb, false);
  Problem pb = make_problem(kern, m, n, k, &pack_a, &pack_b, alpha, beta, c, ldc, bias, act);
  std::shared_ptr<const PackedB> kept;  // held until the multiply is done
  if (keep_b && m > 0 && n > 0 && k > 0) {
    kept = kept_packed_b(*keep_b, PackedBKey{kern.ctx, depth_step(k, pb.bs.kc), k, n, ldb, b, false});
    if (kept) {
      pb.packed_b = kept->data();
      pb.packed_np = kept->np;
    }
  }
  run(pb);
}

namespace {

// Few rows (inference on a handful of samples) and B (K, N) row-major: each B element is used by
// at most two row panels, so packing B would cost more than the multiply saves; the micro-kernel
// streams A and B in place. Full NR-column panels only (cols [0, n_full)). The depth goes in the
// driver's steps (depth_step), C accumulating between them as in blocked_loops, so each C element
// has the same bits as on the packed and kept-B paths, whatever the batch size.
// With m <= kWideRows and a wide tile in the context, the panels go in groups of wide_nr columns
// (the wide tile: 8 chains per row where a 1-row NR tile has 2); a short last group runs the NR
// tile per panel. The same bits either way (GemmContext::wide_ukr).
void small_m_in_place(const GemmContext& ctx, const Problem& pb, const float* b, int64_t ldb,
                      int64_t n_full) {
  const int64_t panels = n_full / pb.nr;
  const bool wide = ctx.wide_ukr && pb.m <= kWideRows;
  const int64_t group = wide ? ctx.wide_nr / pb.nr : 1;  // panels per unit of work
  const int64_t units = (panels + group - 1) / group;
  const int64_t kc_step = depth_step(pb);
  const double flops = 2.0 * pb.m * n_full * pb.k;
  const int64_t grain = flops < kMinParallelFlops ? units : 1;
  parallel_for(0, units, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t u = lo; u < hi; ++u) {
      const int64_t q0 = u * group, q1 = std::min(panels, q0 + group);
      for (int64_t pc = 0; pc < pb.k; pc += kc_step) {
        const int64_t kc = std::min(kc_step, pb.k - pc);
        const bool last = pc + kc == pb.k;
        const float* a = pb.a_plain + pc * pb.cs_a;
        const float* bk = b + pc * ldb;
        const auto args_at = [&](int64_t j) {
          return UkrArgs{pb.alpha, pc == 0 ? pb.beta : 1.0f, last && pb.bias ? pb.bias + j : nullptr,
                         last ? pb.act : Activation::none};
        };
        if (wide && q1 - q0 == group) {
          const int64_t j = q0 * pb.nr;
          ctx.wide_ukr(kc, a, pb.rs_a, pb.cs_a, bk + j, ldb, pb.c + j, pb.ldc,
                       static_cast<int>(pb.m), ctx.wide_nr, args_at(j));
          continue;
        }
        for (int64_t q = q0; q < q1; ++q) {
          const int64_t j = q * pb.nr;
          const UkrArgs args = args_at(j);
          for (int64_t i = 0; i < pb.m; i += pb.mr) {
            const int m = static_cast<int>(std::min<int64_t>(pb.mr, pb.m - i));
            pb.ukr(kc, a + i * pb.rs_a, pb.rs_a, pb.cs_a, bk + j, ldb, pb.c + i * pb.ldc + j,
                   pb.ldc, m, pb.nr, args);
          }
        }
      }
    }
  });
}

// Whether a kept B serves better than the small-M path's B in place. In place, a panel is NR
// columns strided by ldb over the whole depth: one cache line per row, a new page every few rows,
// and read again by each MR-row tile. Kept, it is contiguous KC x NR blocks that stay in L1 across
// the row tiles and stream with the prefetcher. While B fits in L2 the strided reads cost little;
// past it the kept panels win from 2 rows up. Measured on Zen 3 (avx2, 1 thread, a Dense layer
// with its kernel kept, best of 7 x 300 calls): 784 x 512 at 2 / 4 / 8 / 12 rows 83 / 85 / 143 /
// 168 us in place, 54 / 57 / 104 / 121 kept; 128 x 1024 at 8 rows 64 -> 49 us; 256 x 256 (in L2)
// and 1 row (a GEMV, already streaming on the wide tile) no better kept, so they stay in place.
bool kept_b_beats_in_place(int64_t m, int64_t n, int64_t k) {
  return m >= 2 && k * n * static_cast<int64_t>(sizeof(float)) >= l2_bytes();
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc, const float* bias, Activation act, const Storage* keep_b) {
  const GemmContext& ctx = sgemm_context(n);
  const Kernel kern{ctx.ukr, ctx.mr, ctx.nr, ctx.block_sizes(), &ctx};
  const PackA pack_a = pack_a_for(ctx, a, lda, trans_a);
  const PackB pack_b = pack_b_for(ctx, b, ldb, trans_b);
  Problem pb = make_problem(kern, m, n, k, &pack_a, &pack_b, alpha, beta, c, ldc, bias, act);
  pb.rs_a = trans_a ? 1 : lda;
  pb.cs_a = trans_a ? lda : 1;
  const bool small_m = m > 0 && m <= kSmallM && k > 0 && !trans_b && n >= pb.nr;
  std::shared_ptr<const PackedB> kept;  // held until the multiply is done
  if (keep_b && k > 0 && (!small_m || kept_b_beats_in_place(m, n, k)))
    kept = kept_packed_b(*keep_b, PackedBKey{&ctx, depth_step(k, pb.bs.kc), k, n, ldb, b, trans_b});
  if (small_m && !kept) {
    pb.a_plain = a;
    const int64_t n_full = n / pb.nr * pb.nr;
    small_m_in_place(ctx, pb, b, ldb, n_full);
    if (n_full == n) return;
    // The last partial panel takes the regular path on its columns.
    const PackB pack_rest = pack_b_for(ctx, b + n_full, ldb, false);
    Problem rest = make_problem(kern, m, n - n_full, k, &pack_a, &pack_rest, alpha, beta,
                                c + n_full, ldc, bias ? bias + n_full : nullptr, act);
    rest.a_plain = a;
    rest.rs_a = pb.rs_a;
    rest.cs_a = pb.cs_a;
    run(rest);
    return;
  }
  // With few B panels each A block is used only a few times: packing it costs about as much as
  // the multiply, so the micro-kernel reads A where it lies.
  if ((n + pb.nr - 1) / pb.nr <= kDirectAMaxPanels) pb.a_plain = a;
  if (kept) {
    pb.packed_b = kept->data();
    pb.packed_np = kept->np;
    // With B packed beforehand, A (the activations, row-major) is read where it lies, as for
    // small N: packing it would be the call's only copy. Measured on Zen 5 (avx512, 2 threads,
    // kept B, same bits): 256x784x512 8% faster, 256x512x256 3%, 2048x256x256 3.5%, 1024^3 and
    // 256x2048x512 within 1% (the pack's cost amortised over more columns).
    if (!trans_a) pb.a_plain = a;
  }
  run(pb);
}

CORENN_DEFINE_DISPATCH(GemmContextRef, gemm_packed_context_stub, "gemm.packed_kernel");
CORENN_DEFINE_DISPATCH(GemmContextRef, sgemm_context_stub, "gemm.sgemm_kernel");

}  // namespace corenn::cpu::gemm

namespace corenn {
// The CPU kernel of the gemm op: the blocked driver above on plain matrices.
CORENN_REGISTER_KERNEL(sgemm_stub, Slot::cpu_ref,
                       +[](const Tensor&, bool trans_a, bool trans_b, int64_t m, int64_t n,
                           int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                           int64_t ldb, float beta, float* c, int64_t ldc, const float* bias,
                           bool relu, const Storage* keep_b) {
                         cpu::gemm::sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta,
                                          c, ldc, bias,
                                          relu ? cpu::gemm::Activation::relu
                                               : cpu::gemm::Activation::none,
                                          keep_b);
                       });
}  // namespace corenn
