// Recurrent layers on the CPU: SimpleRNN, LSTM, GRU (reset_after true or false) through a whole
// sequence, with an optional per-step, per-sample mask (Keras masking).
// The math, the shapes and the stash layout are in ops/rnn.h; here is how it is computed.
//
// Shapes: N batch, T steps, F features, U units, GU = G*U gate columns (G = 1, 4, 3).
// Layout: every buffer is row-major and indexed like x, (N, T, .): row n*T + t. Indexing the stash
//         by input time t (not by step s) lines it up with x, so the weight gradients are single
//         GEMMs over all N*T rows whatever the direction.
//
// Threads: rows of the batch are independent through time, so the batch is split over threads
// once per call (one parallel region, no barrier per step), and each thread works through its rows
// in chunks of about 384 / T rows (chunk_rows), so what one phase writes the next reads from cache.
// Forward, per block of kBlock (4 MR) rows, all T steps (W and R packed once per call; at batch
// 1-2 read in place through the GEMM's wide small-M tile instead, rows_times_in_place):
//   gates_t = x_t W + b (micro-kernel calls reading x_t in place), then += h R (for the GRU into
//   a small scratch, since its reset gate multiplies the recurrent part alone), then the gate
//   math of those rows while they are in L1. (Computing x W per step rather than as one GEMM per
//   chunk saves packing x and rewriting / rereading the chunk's gates through L2.)
// Backward, per chunk (steps in reverse)
//   1. per block of kBlock rows, all T steps: gate-math gradients into dgates, dx_t = dgates_t W^T
//      while those rows are in L1, then dh_prev = dgates R^T (R^T, W^T packed once per call); the
//      LSTM carries dc in a small row buffer. The stash rows of the next step are prefetched
//      during this step's product (they are T rows apart, a pattern the hardware does not follow).
//   2. dW += x^T dgates, dR += hprev^T dgates(_rec), db += column
//      sums into the thread's partial sums, which are reduced in thread order at the end (the
//      weight gradients are long-K GEMMs over all N*T rows, split by K across threads).
//   dgates (and the GRU's dgates_rec) exist for one chunk at a time, in a buffer each thread keeps
//   across calls: written in 1, read in 2, then overwritten by the next chunk while in L2. Inside
//   fit, a whole (N, T, GU) array made backward 25% slower than timed alone: its lines were
//   fetched from memory for ownership, then written back, every call.
// GRU reset_after=false keeps the older order: x W per chunk in forward, dx per chunk in backward.
// GRU reset_after=false: the reset gate multiplies h before Rh, so each step makes two recurrent
// products, h [Rz Rr] then (r * h) Rh, with the gate math split around them (scalar; R is packed
// as the two column blocks). Masked steps: after the gate math of a row whose sample skips the
// step, h (and c) are overwritten with the carried values; backward gives such a row zero
// dgates and leaves its dh / dc as they were (restored around the product that would overwrite).
// Variants: gate math for the Keras defaults (tanh with sigmoid gates) comes from
// rnn_default_cells_stub (the AVX2 cell kernels of rnn_avx2.cpp under avx2), other activations run
// the scalar cell kernels below, which are the reference for any activation in {tanh, sigmoid,
// relu, linear}. The micro-kernel is the GEMM's, from its own stub.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/cpu_features.h"
#include "core/parallel.h"
#include "cpu/gemm/gemm.h"
#include "ops/rnn.h"

namespace corenn::cpu {

CORENN_DEFINE_DISPATCH(CellKernelsRef, rnn_default_cells_stub, "rnn.default_cells");

namespace {

// Rows that go through a step together: a few micro-tiles share each packed panel of R (24 rows:
// 4 tiles of the 6 x 16 kernel, 2 of the 12 x 32 one).
constexpr int kBlock = 4 * gemm::kMR;

// ---- reference gate math -----------------------------------------------------------------------

inline float act_f(RnnAct a, float x) {
  switch (a) {
    case RnnAct::tanh: return std::tanh(x);
    case RnnAct::sigmoid: return 1.0f / (1.0f + std::exp(-x));
    case RnnAct::relu: return x < 0.0f ? 0.0f : x;  // NaN stays NaN
    default: return x;
  }
}

// f'(x) written with y = f(x): all four activations allow it, so backward needs no pre-activations.
inline float dact_f(RnnAct a, float y) {
  switch (a) {
    case RnnAct::tanh: return 1.0f - y * y;
    case RnnAct::sigmoid: return y * (1.0f - y);
    case RnnAct::relu: return y > 0.0f ? 1.0f : y;  // y = +-0 there, or NaN: relu'(NaN) = NaN
    default: return 1.0f;
  }
}

void lstm_fwd_ref(float* z, const float* c_prev, float* c, float* h, int64_t u, RnnAct act,
                  RnnAct ract) {
  for (int64_t j = 0; j < u; ++j) {
    const float i = act_f(ract, z[j]), f = act_f(ract, z[u + j]);
    const float g = act_f(act, z[2 * u + j]), o = act_f(ract, z[3 * u + j]);
    const float cj = f * (c_prev ? c_prev[j] : 0.0f) + i * g;
    z[j] = i, z[u + j] = f, z[2 * u + j] = g, z[3 * u + j] = o;
    c[j] = cj;
    h[j] = o * act_f(act, cj);
  }
}

void lstm_bwd_ref(const float* z, const float* c, const float* c_prev, const float* dh, float* dc,
                  float* dz, int64_t u, RnnAct act, RnnAct ract) {
  for (int64_t j = 0; j < u; ++j) {
    const float i = z[j], f = z[u + j], g = z[2 * u + j], o = z[3 * u + j];
    const float tc = act_f(act, c[j]);
    const float dcj = dc[j] + dh[j] * o * dact_f(act, tc);
    dz[j] = dcj * g * dact_f(ract, i);
    dz[u + j] = dcj * (c_prev ? c_prev[j] : 0.0f) * dact_f(ract, f);
    dz[2 * u + j] = dcj * i * dact_f(act, g);
    dz[3 * u + j] = dh[j] * tc * dact_f(ract, o);
    dc[j] = dcj * f;
  }
}

void gru_fwd_ref(float* xg, const float* rec, const float* h_prev, float* rh, float* h, int64_t u,
                 RnnAct act, RnnAct ract) {
  for (int64_t j = 0; j < u; ++j) {
    const float z = act_f(ract, xg[j] + rec[j]);
    const float r = act_f(ract, xg[u + j] + rec[u + j]);
    const float hh = act_f(act, xg[2 * u + j] + r * rec[2 * u + j]);
    const float hp = h_prev ? h_prev[j] : 0.0f;
    xg[j] = z, xg[u + j] = r, xg[2 * u + j] = hh;
    rh[j] = rec[2 * u + j];
    h[j] = z * hp + (1.0f - z) * hh;
  }
}

void gru_bwd_ref(const float* g, const float* rh, const float* h_prev, float* dh, float* dgx,
                 float* dgr, int64_t u, RnnAct act, RnnAct ract) {
  for (int64_t j = 0; j < u; ++j) {
    const float z = g[j], r = g[u + j], hh = g[2 * u + j];
    const float hp = h_prev ? h_prev[j] : 0.0f;
    const float dah = dh[j] * (1.0f - z) * dact_f(act, hh);
    const float daz = dh[j] * (hp - hh) * dact_f(ract, z);
    const float dar = dah * rh[j] * dact_f(ract, r);
    dgx[j] = dgr[j] = daz;
    dgx[u + j] = dgr[u + j] = dar;
    dgx[2 * u + j] = dah;
    dgr[2 * u + j] = dah * r;
    dh[j] *= z;
  }
}

void simple_fwd_ref(float* a, float* h, int64_t u, RnnAct act) {
  for (int64_t j = 0; j < u; ++j) h[j] = a[j] = act_f(act, a[j]);
}

void simple_bwd_ref(const float* h, const float* dh, float* dz, int64_t u, RnnAct act) {
  for (int64_t j = 0; j < u; ++j) dz[j] = dh[j] * dact_f(act, h[j]);
}

const CellKernels kRefCells{lstm_fwd_ref, lstm_bwd_ref, gru_fwd_ref,
                            gru_bwd_ref,  simple_fwd_ref, simple_bwd_ref};

const CellKernels& pick_cells(const RnnProblem& p) {
  const bool defaults = p.act == RnnAct::tanh &&
                        (p.cell == RnnCell::simple || p.ract == RnnAct::sigmoid);
  return defaults ? *rnn_default_cells_stub.cpu() : kRefCells;
}

const CellKernels& lstm_cells(const LstmCellProblem& p) {
  return p.act == RnnAct::tanh && p.ract == RnnAct::sigmoid ? *rnn_default_cells_stub.cpu()
                                                             : kRefCells;
}

// Rows per task of the row-wise LSTM cell: ~16 gate math floats per unit, so a few thousand
// units' worth per task covers the fork.
int64_t cell_grain(const LstmCellProblem& p) { return std::max<int64_t>(1, 4096 / std::max<int64_t>(p.u, 1)); }

CORENN_REGISTER_KERNEL(rnn_default_cells_stub, Slot::cpu_ref, &kRefCells);

// ---- packed recurrent weights ------------------------------------------------------------------

// Packed recurrent weights, per calling thread (read with aligned loads by the micro-kernel).
thread_local AlignedBuffer tls_pack_fwd, tls_pack_bwd;

// op(B) (k, n) as one block of nr-column panels (depth k, the format of gemm.h, nr the kernel's)
// by the GEMM's own packer. op(B) is b (k, n) row-major, or b^T when trans (b stored (n, k)).
float* pack_b(const gemm::Kernel& kern, AlignedBuffer& buf, const float* b, int64_t k, int64_t n,
              bool trans) {
  float* dst = buf.get(static_cast<size_t>((n + kern.nr - 1) / kern.nr * kern.nr * k));
  gemm::pack_b_matrix(kern, b, trans ? k : n, trans)(0, k, 0, n, dst);
  return dst;
}

// C[0:m, 0:n] := beta C + A B (+ bias) for m <= kBlock rows of A read in place (row stride lda).
// Column panels outside, row tiles inside: each packed B panel is reused by every row tile while
// it sits in L1.
void rows_times_packed(const gemm::Kernel& kern, int m, const float* a, int64_t lda,
                       const float* bp, int64_t k, int64_t n, float* c, int64_t ldc, float beta,
                       const float* bias) {
  for (int64_t j = 0; j < n; j += kern.nr) {
    const gemm::UkrArgs args{1.0f, beta, bias ? bias + j : nullptr, gemm::Activation::none};
    const int nj = static_cast<int>(std::min<int64_t>(kern.nr, n - j));
    for (int i = 0; i < m; i += kern.mr)
      kern.ukr(k, a + i * lda, lda, 1, bp + j * k, kern.nr, c + i * ldc + j, ldc,
               std::min(kern.mr, m - i), nj, args);
  }
}

// The same for m <= gemm::kWideRows rows with B (k, n) row-major read in place (leading dimension
// ldb, n a multiple of NR): the context's wide tile on each full group of wide_nr columns, the
// micro-kernel on each NR panel after them. Both sum each element's depth in order in one chain
// with the same epilogue, as on packed panels: the same bits. Why: at batch 1 a step's products
// are GEMVs; packing W and R costs more than a whole sequence of them, and a 1-row 6 x 16 tile
// keeps 2 of its FMA chains busy where the wide tile keeps 8.
void rows_times_in_place(const gemm::Kernel& kern, int m, const float* a, int64_t lda,
                         const float* b, int64_t ldb, int64_t k, int64_t n, float* c, int64_t ldc,
                         float beta, const float* bias) {
  const gemm::GemmContext& ctx = *kern.ctx;
  int64_t j = 0;
  if (ctx.wide_ukr)
    for (; j + ctx.wide_nr <= n; j += ctx.wide_nr)
      ctx.wide_ukr(k, a, lda, 1, b + j, ldb, c + j, ldc, m, ctx.wide_nr,
                   gemm::UkrArgs{1.0f, beta, bias ? bias + j : nullptr, gemm::Activation::none});
  for (; j < n; j += kern.nr)
    kern.ukr(k, a, lda, 1, b + j, ldb, c + j, ldc, m, kern.nr,
             gemm::UkrArgs{1.0f, beta, bias ? bias + j : nullptr, gemm::Activation::none});
}

// op(B) (k, n) of a column block of a row-major matrix with leading dimension ld: b points at the
// block's first element; trans: op(B) = B^T with B stored (n, k).
float* pack_block(const gemm::Kernel& kern, AlignedBuffer& buf, const float* b, int64_t ld,
                  int64_t k, int64_t n, bool trans) {
  float* dst = buf.get(static_cast<size_t>((n + kern.nr - 1) / kern.nr * kern.nr * k));
  gemm::pack_b_matrix(kern, b, ld, trans)(0, k, 0, n, dst);
  return dst;
}

thread_local AlignedBuffer tls_pack_fwd2, tls_pack_bwd2, tls_pack_bwd_w, tls_pack_fwd_w;
thread_local AlignedBuffer tls_dgates;  // backward's per-chunk dgates (and GRU dgates_rec)


// Batch rows per chunk: the input projection and the weight-gradient GEMMs run on chunk * T rows
// at a time, enough for the GEMM to run near speed, few enough to stay in cache.
int64_t chunk_rows(const RnnProblem& p) {
  const int64_t rows = (384 + p.t - 1) / p.t;
  return std::max<int64_t>(kBlock, (rows + kBlock - 1) / kBlock * kBlock);
}

// Asks for the cache lines of a[0:n] (a hint: no fault, no effect on results); write: the caller
// is about to overwrite them.
inline void prefetch_floats(const float* a, int64_t n, bool write) {
  constexpr int64_t kLine = 64 / sizeof(float);
  for (int64_t i = 0; i < n; i += kLine) {
    if (write) __builtin_prefetch(a + i, 1, 1);
    else __builtin_prefetch(a + i, 0, 1);
  }
}

// acc[j] += sum of column j of a (rows, cols).
void add_column_sums(const float* a, int64_t rows, int64_t cols, float* acc) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) acc[j] += a[i * cols + j];
}

// [dW; dR; db] += [x^T; hprev^T; 1] dgates over m rows (LSTM, SimpleRNN: their dR multiplies the
// same dgates as dW): one GEMM whose A stacks x^T (F rows), hprev^T (U rows) and a row of ones,
// whose product is the column sums of dgates, i.e. db. dgates is packed once for all three (two
// GEMMs and a column-sum pass read it three times). part holds dW (F, GU), dR (U, GU), db (GU)
// back to back, the rows of the stacked A's product. x (m, F), hprev (m, U), dgates (m, GU).
void add_weight_grads(const gemm::Kernel& kern, const float* x, const float* hprev,
                      const float* dgates, int64_t m, int64_t F, int64_t U, int64_t GU, float* part) {
  const gemm::PackAFn pack_t = kern.ctx->pack_a_t;
  const int mr = kern.mr;
  // Panels inside x^T or hprev^T go through the kernel set's transposing packer; the (at most
  // two) panels across a boundary or holding the ones row are copied in runs: per depth step p,
  // rows [0, nx) from x's row p, [nx, nxh) from hprev's, then the ones row (if here) and zeros.
  const gemm::PackA pack_a = [&](int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* dst) {
    for (int64_t i = i0; i < i0 + mc; i += mr, dst += mr * kc) {
      const int64_t rows = std::min<int64_t>(mr, i0 + mc - i);
      if (i + rows <= F) {
        pack_t(x, F, i, rows, p0, kc, dst);
      } else if (i >= F && i + rows <= F + U) {
        pack_t(hprev, U, i - F, rows, p0, kc, dst);
      } else {
        const int64_t nx = std::clamp<int64_t>(F - i, 0, rows);
        const int64_t nxh = std::clamp<int64_t>(F + U - i, nx, rows);
        const int64_t one = F + U - i;  // the ones row's index in this panel (may lie outside)
        const int64_t h0 = i + nx - F;  // hprev column of row nx
        for (int64_t p = 0; p < kc; ++p) {
          float* d = dst + p * mr;
          const float* xr = x + (p0 + p) * F + i;
          const float* hr = hprev + (p0 + p) * U + h0;
          for (int64_t r = 0; r < nx; ++r) d[r] = xr[r];
          for (int64_t r = nx; r < nxh; ++r) d[r] = hr[r - nx];
          for (int64_t r = nxh; r < mr; ++r) d[r] = r == one && r < rows ? 1.0f : 0.0f;
        }
      }
    }
  };
  gemm::gemm_packed(kern, F + U + 1, GU, m, pack_a, gemm::pack_b_matrix(kern, dgates, GU, false),
                    1.0f, 1.0f, part, GU, nullptr, gemm::Activation::none);
}

// Rows per chunk of the batch split (parallel_for, and backward's weight-gradient partials).
// At least the rows below which splitting costs more than it saves; and when the batch gives every
// thread two blocks or more, at least a block: the chunks then hold whole micro-tiles of rows
// instead of ending in a few rows each (128 rows on 2 threads: 8 chunks of 16 rows, each a 12-row
// tile and a 4-row one, became 4 of 32: two full blocks of tiles per thread and one short one).
// And at least 4 rows while the threads still get a chunk each: a step's products run one tile per
// block of rows, and a 1-row tile has 2 accumulator chains that wait out the FMA latency on every
// depth step (a quarter of the FMA rate); 4 rows give 8 (batch-8 inference: 8 chunks of 1 row
// became 2 of 4).
int64_t batch_grain(const RnnProblem& p) {
  const double flops_per_row = 2.0 * p.t * p.u * p.gu();
  const int threads = get_num_threads();
  const int64_t per_thread = (p.n + threads - 1) / std::max(threads, 1);
  const int64_t grain = std::max<int64_t>({1, static_cast<int64_t>(2e5 / std::max(flops_per_row, 1.0)),
                                           std::min<int64_t>(4, per_thread)});
  return p.n >= 2 * kBlock * threads ? std::max<int64_t>(grain, kBlock) : grain;
}

// The batch split of forward and backward: `parts` ranges of whole micro-tiles of rows (mr rows a
// tile; the last may end short at the batch's end), as even in tiles as they divide, and each range
// run as blocks of at most kBlock rows, as even in tiles too. A tile's step costs about the same
// whatever rows it holds, so an even split in rows wasted tiles: 256 rows at a grain of 24 made 10
// chunks of 25-26 rows, each a 24-row block and a 1-2 row block, 50 tile-steps a step for 43 tiles
// of rows (Zen 3, avx2, 2 threads, LSTM(64) inference at batch 256: 12% more time per sample than
// at batch 288, whose 12 chunks of 24 split evenly).
struct RowParts {
  int64_t n, mr, tiles, parts;
  // One part where the call runs on one thread (a single thread, or inside a parallel region).
  RowParts(int64_t n_, int64_t mr_, int64_t grain_rows)
      : n(n_), mr(mr_), tiles((n_ + mr_ - 1) / mr_),
        parts(get_num_threads() > 1 && !in_parallel_region()
                  ? std::max<int64_t>(1, parallel_chunks(tiles, (grain_rows + mr_ - 1) / mr_,
                                                         get_num_threads()))
                  : 1) {}
  int64_t lo(int64_t k) const { return std::min(n, tiles * k / parts * mr); }
  int64_t hi(int64_t k) const { return lo(k + 1); }
};

// f(first row, rows) for rows [lo, hi) as blocks of at most kBlock rows holding whole tiles, as
// even as the tiles allow (5 tiles of 6 rows make 18 + 12, not 24 + 6).
template <class F>
void for_each_block(int64_t lo, int64_t hi, int64_t mr, const F& f) {
  const int64_t tiles = (hi - lo + mr - 1) / mr, per = std::max<int64_t>(1, kBlock / mr);
  const int64_t blocks = (tiles + per - 1) / per;
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t r0 = lo + tiles * b / blocks * mr, r1 = std::min(hi, lo + tiles * (b + 1) / blocks * mr);
    f(r0, static_cast<int>(r1 - r0));
  }
}

// ---- forward -----------------------------------------------------------------------------------

struct Fwd {
  const RnnProblem& p;
  const CellKernels& k;
  gemm::Kernel kern;  // the micro-kernel R was packed for
  const float* rp;  // packed R (GRU reset_after=false: [Rz Rr])
  const float* rp2; // GRU reset_after=false: packed Rh
  float* y;
  float* h_n;
  float* c_n;
  const float* wp;  // packed W (F, GU) when x W runs per step (else nullptr: per chunk)
  // W and R are the plain row-major matrices (wp = W, rp = R), read in place: every block has at
  // most gemm::kWideRows rows (rows_times_in_place).
  bool in_place = false;

  // gates-like (m, GU) := beta C + a b (+ bias), b being wp or rp with depth k.
  void product(int m, const float* a, int64_t lda, const float* b, int64_t k, float* c,
               int64_t ldc, float beta, const float* bias) const {
    const int64_t GU = p.gu();
    if (in_place) rows_times_in_place(kern, m, a, lda, b, GU, k, GU, c, ldc, beta, bias);
    else rows_times_packed(kern, m, a, lda, b, k, GU, c, ldc, beta, bias);
  }

  // After the gate math of one row: a sample that skips step t keeps h (and c); then the copies
  // into y and the final states.
  void finish_row(int64_t s, int64_t n, float* h, const float* hp) const {
    const int64_t T = p.t, U = p.u, t = p.step_time(s), row = n * T;
    const size_t bytes = static_cast<size_t>(U) * sizeof(float);
    if (!p.takes(n, t)) {
      if (hp) std::memcpy(h, hp, bytes); else std::memset(h, 0, bytes);
      if (p.cell == RnnCell::lstm) {
        float* c = p.cells + (row + t) * U;
        const float* cp = p.c_prev(s, n);
        if (cp) std::memcpy(c, cp, bytes); else std::memset(c, 0, bytes);
      }
    }
    if (p.return_sequences) std::memcpy(y + (row + p.out_time(s)) * U, h, bytes);
    if (s == T - 1) {
      if (!p.return_sequences) std::memcpy(y + n * U, h, bytes);
      if (h_n) std::memcpy(h_n + n * U, h, bytes);
      if (c_n) std::memcpy(c_n + n * U, p.cells + (row + t) * U, bytes);
    }
  }

  // GRU reset_after=false, one step s for rows [n0, n0 + m): z, r from h [Rz Rr]; cells = r * h;
  // hh from (r * h) Rh.
  void step_reset_before(int64_t s, int64_t n0, int m, float* scratch) const {
    const int64_t T = p.t, U = p.u, GU = p.gu(), t = p.step_time(s);
    const int64_t t_next = s + 1 < T ? p.step_time(s + 1) : -1;
    float* rec = scratch;                   // (kBlock, GU)
    float* hlast = scratch + kBlock * GU;   // (kBlock, U)
    if (p.has_prev(s))
      rows_times_packed(kern, m, p.hprev + (n0 * T + t) * U, T * U, rp, U, 2 * U, rec, GU, 0.0f, nullptr);
    else
      for (int r = 0; r < m; ++r) std::fill(rec + r * GU, rec + r * GU + 2 * U, 0.0f);
    for (int r = 0; r < m; ++r) {
      const int64_t row = (n0 + r) * T;
      float* g = p.gates + (row + t) * GU;
      const float* hp = p.has_prev(s) ? p.hprev + (row + t) * U : nullptr;
      float* rh = p.cells + (row + t) * U;
      for (int64_t j = 0; j < U; ++j) {
        g[j] = act_f(p.ract, g[j] + rec[r * GU + j]);
        g[U + j] = act_f(p.ract, g[U + j] + rec[r * GU + U + j]);
        rh[j] = hp ? g[U + j] * hp[j] : 0.0f;
      }
    }
    if (p.has_prev(s))
      rows_times_packed(kern, m, p.cells + (n0 * T + t) * U, T * U, rp2, U, U, rec + 2 * U, GU, 0.0f,
                        nullptr);
    else
      for (int r = 0; r < m; ++r) std::fill(rec + r * GU + 2 * U, rec + (r + 1) * GU, 0.0f);
    for (int r = 0; r < m; ++r) {
      const int64_t row = (n0 + r) * T;
      float* g = p.gates + (row + t) * GU;
      const float* hp = p.has_prev(s) ? p.hprev + (row + t) * U : nullptr;
      float* h = t_next >= 0 ? p.hprev + (row + t_next) * U : hlast + r * U;
      for (int64_t j = 0; j < U; ++j) {
        const float hh = act_f(p.act, g[2 * U + j] + rec[r * GU + 2 * U + j]);
        g[2 * U + j] = hh;
        h[j] = g[j] * (hp ? hp[j] : 0.0f) + (1.0f - g[j]) * hh;
      }
      finish_row(s, n0 + r, h, hp);
    }
  }

  // The stash rows step s writes (gates, cells, the next h, y) and the x rows it reads lie T rows
  // apart (N, T, .): fresh lines the hardware prefetchers do not see coming, each write a read
  // for ownership from memory inside fit. step() asks for the next step's rows before its own
  // products, so they arrive while the FMAs run.
  void prefetch_step(int64_t s, int64_t n0, int m) const {
    const int64_t T = p.t, U = p.u, GU = p.gu(), t = p.step_time(s);
    const int64_t t_next = s + 1 < T ? p.step_time(s + 1) : -1;
    for (int r = 0; r < m; ++r) {
      const int64_t row = (n0 + r) * T;
      prefetch_floats(p.gates + (row + t) * GU, GU, true);
      if (wp) prefetch_floats(p.x + (row + t) * p.f, p.f, false);
      if (p.cells) prefetch_floats(p.cells + (row + t) * U, U, true);
      if (t_next >= 0) prefetch_floats(p.hprev + (row + t_next) * U, U, true);
      if (p.return_sequences) prefetch_floats(y + (row + p.out_time(s)) * U, U, true);
    }
  }

  // One step s for batch rows [n0, n0 + m), m <= kBlock.
  void step(int64_t s, int64_t n0, int m, float* scratch) const {
    if (p.gru_reset_before()) return step_reset_before(s, n0, m, scratch);
    if (s + 1 < p.t) prefetch_step(s + 1, n0, m);
    const int64_t T = p.t, U = p.u, GU = p.gu(), t = p.step_time(s);
    const int64_t t_next = s + 1 < T ? p.step_time(s + 1) : -1;
    float* g0 = p.gates + (n0 * T + t) * GU;
    const float* hp0 = p.hprev + (n0 * T + t) * U;
    float* rec = scratch;                   // GRU (kBlock, GU)
    float* hlast = scratch + kBlock * GU;   // (kBlock, U): h of the last step
    if (wp)  // the input projection of this step: gates_t = x_t W + b (GRU: b0)
      product(m, p.x + (n0 * T + t) * p.f, T * p.f, wp, p.f, g0, T * GU, 0.0f, p.b);
    if (p.has_prev(s)) {
      if (p.cell == RnnCell::gru)
        product(m, hp0, T * U, rp, U, rec, GU, 0.0f, p.b ? p.b + GU : nullptr);
      else
        product(m, hp0, T * U, rp, U, g0, T * GU, 1.0f, nullptr);
    } else if (p.cell == RnnCell::gru) {  // h_0 = 0: the recurrent part is just b1
      for (int r = 0; r < m; ++r)
        for (int64_t j = 0; j < GU; ++j) rec[r * GU + j] = p.b ? p.b[GU + j] : 0.0f;
    }
    for (int r = 0; r < m; ++r) {
      const int64_t row = (n0 + r) * T;
      float* g = p.gates + (row + t) * GU;
      const float* hp = p.has_prev(s) ? p.hprev + (row + t) * U : nullptr;
      float* h = t_next >= 0 ? p.hprev + (row + t_next) * U : hlast + r * U;
      if (p.cell == RnnCell::lstm) {
        const float* cp = p.c_prev(s, n0 + r);
        k.lstm_fwd(g, cp, p.cells + (row + t) * U, h, U, p.act, p.ract);
      } else if (p.cell == RnnCell::gru) {
        k.gru_fwd(g, rec + r * GU, hp, p.cells + (row + t) * U, h, U, p.act, p.ract);
      } else {
        k.simple_fwd(g, h, U, p.act);
      }
      finish_row(s, n0 + r, h, hp);
    }
  }
};

}  // namespace

void rnn_forward(const RnnProblem& p, float* y, float* h_n, float* c_n) {
  const int64_t T = p.t, F = p.f, U = p.u, GU = p.gu();
  const float* b_in = p.b;  // LSTM / SimpleRNN: b; GRU: b0 (row 0 of (2, GU))
  const bool rb = p.gru_reset_before();
  const gemm::Kernel kern = gemm::packed_kernel();
  // R in one depth step of nr-column panels is PackedB's layout with kc_step = U, so a kept copy
  // (predict: R unchanged between calls) stands in for pack_b's.
  // One or two sequences (inference on one sample): R in place (rows_times_in_place), and x W as
  // one GEMM over all T steps, so W is read once per call rather than once per step (at batch 1
  // each step's products stream W and R from L2: 92 KB a step for LSTM(64) on 28 features).
  const bool in_place = !rb && p.n <= gemm::kWideRows && GU % kern.nr == 0;
  std::shared_ptr<const gemm::PackedB> kept_r;
  if (!rb && !in_place && p.keep_r)
    kept_r = gemm::kept_packed_b(*p.keep_r, gemm::PackedBKey{kern.ctx, U, U, GU, GU, p.r, false});
  const Fwd fwd{p, pick_cells(p), kern,
                rb ? pack_block(kern, tls_pack_fwd, p.r, GU, U, 2 * U, false)
                   : in_place ? p.r
                   : kept_r ? kept_r->data() : pack_b(kern, tls_pack_fwd, p.r, U, GU, false),
                rb ? pack_block(kern, tls_pack_fwd2, p.r + 2 * U, GU, U, U, false) : nullptr, y, h_n,
                c_n, rb || in_place ? nullptr : pack_b(kern, tls_pack_fwd_w, p.w, F, GU, false),
                in_place};
  const int64_t chunk = chunk_rows(p);
  const RowParts split(p.n, kern.mr, batch_grain(p));
  parallel_for(0, split.parts, 1, [&](int64_t k_lo, int64_t k_hi) {
    const int64_t lo = split.lo(k_lo), hi = split.hi(k_hi - 1);
    std::vector<float> scratch(static_cast<size_t>(kBlock * (GU + U)));
    for (int64_t c0 = lo; c0 < hi; c0 += chunk) {
      const int64_t rows = std::min(chunk, hi - c0);
      // The chunk's input projection, used right away while it is still in cache.
      if (!fwd.wp)
        gemm::sgemm(false, false, rows * T, GU, F, 1.0f, p.x + c0 * T * F, F, p.w, GU, 0.0f,
                    p.gates + c0 * T * GU, GU, b_in, gemm::Activation::none);
      // The first step reads h_0 (zeros or the given h0); these rows of hprev are also what
      // backward's dR sees.
      for (int64_t n = c0; n < c0 + rows; ++n) {
        float* h_first = p.hprev + (n * T + p.step_time(0)) * U;
        if (p.h0) std::memcpy(h_first, p.h0 + n * U, sizeof(float) * U);
        else std::memset(h_first, 0, sizeof(float) * U);
      }
      // Each block of rows runs its own whole sequence: its rows of h and c stay in L1.
      for_each_block(c0, c0 + rows, kern.mr, [&](int64_t n0, int m) {
        for (int64_t s = 0; s < T; ++s) fwd.step(s, n0, m, scratch.data());
      });
    }
  });
}

// ---- backward ----------------------------------------------------------------------------------

namespace {

struct Bwd {
  const RnnProblem& p;
  const CellKernels& k;
  gemm::Kernel kern;  // the micro-kernel R was packed for
  const float* rtp;  // packed R^T (GU, U) (GRU reset_after=false: [Rz Rr]^T (2U, U))
  const float* rtp2; // GRU reset_after=false: packed Rh^T (U, U)
  const float* dy;
  // dL/d(pre-activations) of the chunk being worked on (rows row0 .. of the (N*T) row space):
  // a per-thread chunk buffer (dgates_rec: GRU reset_after's recurrent side, else null).
  float* dgates;
  float* dgates_rec;
  float* dg_row(int64_t row) const { return dgates + (row - row0) * p.gu(); }
  float* dgr_row(int64_t row) const { return dgates_rec + (row - row0) * p.gu(); }
  const float* wtp;  // packed W^T (GU, F) when dx is computed per step (else nullptr)
  float* dx;
  int64_t row0 = 0;  // the (N*T) row that dgates / dgates_rec start at

  // GRU reset_after=false, step s for rows [n0, n0 + m); scratch (kBlock, U) for d(r * h).
  void step_reset_before(int64_t s, int64_t n0, int m, float* dh, float* drh) const {
    const int64_t T = p.t, U = p.u, GU = p.gu(), t = p.step_time(s);
    for (int r = 0; r < m; ++r) {
      const int64_t row = (n0 + r) * T;
      float* dhr = dh + r * U;
      add_dy(s, n0 + r, dhr);
      float* dg = dg_row(row + t);
      if (!p.takes(n0 + r, t)) {
        std::fill(dg, dg + GU, 0.0f);
        continue;
      }
      const float* g = p.gates + (row + t) * GU;
      const float* hp = p.has_prev(s) ? p.hprev + (row + t) * U : nullptr;
      for (int64_t j = 0; j < U; ++j) {
        const float z = g[j], hh = g[2 * U + j], hpj = hp ? hp[j] : 0.0f;
        dg[2 * U + j] = dhr[j] * (1.0f - z) * dact_f(p.act, hh);
        dg[j] = dhr[j] * (hpj - hh) * dact_f(p.ract, z);
        dg[U + j] = 0.0f;   // set below from d(r * h), which needs every row's dah
        dhr[j] *= z;        // the direct path h' = z h + ...
      }
    }
    if (!p.has_prev(s)) return;  // h_0 = 0: the reset gate had nothing to act on
    rows_times_packed(kern, m, dg_row(n0 * T + t) + 2 * U, T * GU, rtp2, U, U, drh, U, 0.0f,
                      nullptr);
    for (int r = 0; r < m; ++r) {
      if (!p.takes(n0 + r, t)) continue;
      const int64_t row = (n0 + r) * T;
      const float* g = p.gates + (row + t) * GU;
      const float* hp = p.hprev + (row + t) * U;
      float* dg = dg_row(row + t);
      for (int64_t j = 0; j < U; ++j) {
        const float d = drh[r * U + j];
        dg[U + j] = d * hp[j] * dact_f(p.ract, g[U + j]);
        dh[r * U + j] += d * g[U + j];
      }
    }
    rows_times_packed(kern, m, dg_row(n0 * T + t), T * GU, rtp, 2 * U, U, dh, U, 1.0f, nullptr);
  }

  // The stash rows step s reads and writes lie T rows apart (N, T, .), written by the forward
  // long before: the hardware prefetchers do not follow that pattern, and the gate math of a step
  // used to wait on each row in turn. step() asks for the next step's rows while its own product
  // runs, so they arrive in the shadow of the FMAs.
  void prefetch_step(int64_t s, int64_t n0, int m) const {
    const int64_t T = p.t, U = p.u, GU = p.gu(), t = p.step_time(s);
    for (int r = 0; r < m; ++r) {
      const int64_t row = (n0 + r) * T + t;
      prefetch_floats(p.gates + row * GU, GU, false);
      prefetch_floats(dg_row(row), GU, true);
      if (p.return_sequences) prefetch_floats(dy + ((n0 + r) * T + p.out_time(s)) * U, U, false);
      if (p.cell == RnnCell::lstm) {
        prefetch_floats(p.cells + row * U, U, false);
        if (const float* cp = p.c_prev(s, n0 + r)) prefetch_floats(cp, U, false);
      } else if (p.cell == RnnCell::gru) {
        prefetch_floats(p.cells + row * U, U, false);
        if (p.has_prev(s)) prefetch_floats(p.hprev + row * U, U, false);
        if (dgates_rec) prefetch_floats(dgr_row(row), GU, true);
      }
    }
  }

  void add_dy(int64_t s, int64_t n, float* dhr) const {
    const int64_t U = p.u;
    if (p.return_sequences) {
      const float* d = dy + (n * p.t + p.out_time(s)) * U;
      for (int64_t j = 0; j < U; ++j) dhr[j] += d[j];
    } else if (s == p.t - 1) {
      std::memcpy(dhr, dy + n * U, sizeof(float) * U);
    }
  }

  // One step s for rows [n0, n0 + m): dh (m, U) holds dL/dh_s from later steps; on return it holds
  // dL/dh_{s-1} (not computed at s = 0). dc likewise for the LSTM cell.
  void step(int64_t s, int64_t n0, int m, float* dh, float* dc, float* saved) const {
    if (p.gru_reset_before()) return step_reset_before(s, n0, m, dh, saved);
    const int64_t T = p.t, U = p.u, GU = p.gu(), t = p.step_time(s);
    bool any_skipped = false;
    for (int r = 0; r < m; ++r) {
      const int64_t row = (n0 + r) * T;
      float* dhr = dh + r * U;
      add_dy(s, n0 + r, dhr);
      const float* g = p.gates + (row + t) * GU;
      float* dg = dg_row(row + t);
      if (!p.takes(n0 + r, t)) {  // a skipped step: no gradient; dh (and dc) pass through it
        std::fill(dg, dg + GU, 0.0f);
        if (p.cell == RnnCell::gru) std::fill(dgr_row(row + t), dgr_row(row + t + 1), 0.0f);
        if (p.has_prev(s) && p.cell != RnnCell::gru) std::memcpy(saved + r * U, dhr, sizeof(float) * U);
        any_skipped = true;
        continue;
      }
      if (p.cell == RnnCell::lstm) {
        const float* cp = p.c_prev(s, n0 + r);
        k.lstm_bwd(g, p.cells + (row + t) * U, cp, dhr, dc + r * U, dg, U, p.act, p.ract);
      } else if (p.cell == RnnCell::gru) {
        const float* hp = p.has_prev(s) ? p.hprev + (row + t) * U : nullptr;
        k.gru_bwd(g, p.cells + (row + t) * U, hp, dhr, dg, dgr_row(row + t), U, p.act,
                  p.ract);
      } else {
        k.simple_bwd(g, dhr, dg, U, p.act);
      }
    }
    // dx of this step while its dgates rows are in L1: dx_t = dgates_t W^T.
    if (wtp)
      rows_times_packed(kern, m, dg_row(n0 * T + t), T * GU, wtp, GU, p.f,
                        dx + (n0 * T + t) * p.f, T * p.f, 0.0f, nullptr);
    if (!p.has_prev(s)) return;  // h_0 = 0 (no h0): nothing to pass the gradient to
    if (s > 0) prefetch_step(s - 1, n0, m);
    if (p.cell == RnnCell::gru) {  // dh already holds the direct path dh * z
      rows_times_packed(kern, m, dgr_row(n0 * T + t), T * GU, rtp, GU, U, dh, U, 1.0f,
                        nullptr);
      return;
    }
    rows_times_packed(kern, m, dg_row(n0 * T + t), T * GU, rtp, GU, U, dh, U, 0.0f, nullptr);
    if (any_skipped)  // the product overwrote dh: put back the rows that skipped the step
      for (int r = 0; r < m; ++r)
        if (!p.takes(n0 + r, t)) std::memcpy(dh + r * U, saved + r * U, sizeof(float) * U);
  }
};

}  // namespace

void rnn_backward(const RnnProblem& p, const float* dy, float* dx, float* dw, float* dr, float* db,
                  float* dh0, float* dc0, const float* dc_n) {
  const int64_t T = p.t, F = p.f, U = p.u, GU = p.gu();
  const bool rb = p.gru_reset_before();
  const gemm::Kernel kern = gemm::packed_kernel();
  const Bwd bwd{p, pick_cells(p), kern,
                rb ? pack_block(kern, tls_pack_bwd, p.r, GU, 2 * U, U, true)
                   : pack_b(kern, tls_pack_bwd, p.r, GU, U, true),
                rb ? pack_block(kern, tls_pack_bwd2, p.r + 2 * U, GU, U, U, true) : nullptr, dy,
                nullptr, nullptr,
                dx && !rb ? pack_b(kern, tls_pack_bwd_w, p.w, GU, F, true) : nullptr,
                dx};
  const bool gru = p.cell == RnnCell::gru && !rb;  // a recurrent-side dgates_rec and b1
  const bool stacked = p.cell != RnnCell::gru;      // dW, dR, db in one GEMM (add_weight_grads)
  const auto none = gemm::Activation::none;
  const int64_t chunk = chunk_rows(p);
  // Weight gradients are sums over all rows: the batch is cut into `nparts` fixed slices (a
  // function of the batch, the grain and the thread count only), each slice sums its rows into its
  // own partial (dW, dR, db, GRU db1 back to back), and the partials are reduced in slice order:
  // the same bits whichever thread ran which slice.
  const int64_t part_size = (F + U + 2) * GU;
  const RowParts split(p.n, kern.mr, batch_grain(p));
  const int64_t nparts = split.parts;
  std::vector<std::vector<float>> parts(static_cast<size_t>(nparts));
  const bool weights = dw || dr || db;
  parallel_for(0, nparts, 1, [&](int64_t k_lo, int64_t k_hi) {
    for (int64_t k = k_lo; k < k_hi; ++k) {
      const int64_t lo = split.lo(k), hi = split.hi(k);
      std::vector<float>& part = parts[static_cast<size_t>(k)];
      if (weights) part.assign(static_cast<size_t>(part_size), 0.0f);
      float* pw = part.data();
      float* pr = pw + F * GU;
      float* pb = pr + U * GU;
      std::vector<float> state(static_cast<size_t>(2 * kBlock * U));
      std::vector<float> saved(static_cast<size_t>(kBlock * U));
      float* dh = state.data();
      float* dc = dh + kBlock * U;
      // dgates of one chunk at a time, in a buffer this thread keeps: written by the steps, read
      // by the chunk's weight-gradient GEMMs, then reused by the next chunk while still in L2.
      // (A whole (N, T, GU) buffer would be written back to memory and fetched again for
      // ownership on the next call: two passes over the largest array of the step.)
      Bwd cb = bwd;
      const size_t chunk_floats = static_cast<size_t>(chunk * T * GU);
      cb.dgates = tls_dgates.get(chunk_floats * (gru ? 2 : 1));
      cb.dgates_rec = gru ? cb.dgates + chunk_floats : nullptr;
      for (int64_t c0 = lo; c0 < hi; c0 += chunk) {
        const int64_t rows = std::min(chunk, hi - c0), m = rows * T, r0 = c0 * T;
        cb.row0 = r0;
        // Each block of rows runs its own whole backward sequence: its state stays in L1.
        for_each_block(c0, c0 + rows, kern.mr, [&](int64_t n0, int mb) {
          std::fill(state.begin(), state.end(), 0.0f);
          const size_t row_bytes = sizeof(float) * static_cast<size_t>(U);
          if (dc_n)  // dL/d(final c) enters the LSTM's c chain at the last step
            std::memcpy(dc, dc_n + n0 * U, row_bytes * static_cast<size_t>(mb));
          for (int64_t s = T - 1; s >= 0; --s) cb.step(s, n0, mb, dh, dc, saved.data());
          // After step 0, dh / dc hold the gradients of the states it started from.
          if (dh0) std::memcpy(dh0 + n0 * U, dh, row_bytes * static_cast<size_t>(mb));
          if (dc0) std::memcpy(dc0 + n0 * U, dc, row_bytes * static_cast<size_t>(mb));
        });
        // The chunk's share of the all-timestep GEMMs, while its dgates are in cache.
        const float* dg = cb.dgates;
        const float* dg_rec = gru ? cb.dgates_rec : dg;
        if (dx && !bwd.wtp)
          gemm::sgemm(false, true, m, F, GU, 1.0f, dg, GU, p.w, GU, 0.0f, dx + r0 * F, F, nullptr, none);
        if (stacked) {
          if (weights) add_weight_grads(kern, p.x + r0 * F, p.hprev + r0 * U, dg, m, F, U, GU, pw);
          continue;
        }
        if (dw) gemm::sgemm(true, false, F, GU, m, 1.0f, p.x + r0 * F, F, dg, GU, 1.0f, pw, GU, nullptr, none);
        if (dr && rb) {  // dRz, dRr from h; dRh from r * h (stashed in cells)
          gemm::sgemm(true, false, U, 2 * U, m, 1.0f, p.hprev + r0 * U, U, dg, GU, 1.0f, pr, GU,
                      nullptr, none);
          gemm::sgemm(true, false, U, U, m, 1.0f, p.cells + r0 * U, U, dg + 2 * U, GU, 1.0f, pr + 2 * U,
                      GU, nullptr, none);
        } else if (dr) {
          gemm::sgemm(true, false, U, GU, m, 1.0f, p.hprev + r0 * U, U, dg_rec, GU, 1.0f, pr,
                      GU, nullptr, none);
        }
        if (db) {
          add_column_sums(dg, m, GU, pb);
          if (gru) add_column_sums(cb.dgates_rec, m, GU, pb + GU);
        }
      }
    }
  });
  if (!weights) return;
  const int64_t sizes[3] = {F * GU, U * GU, (gru ? 2 : 1) * GU};
  float* outs[3] = {dw, dr, db};
  const int64_t offsets[3] = {0, F * GU, (F + U) * GU};
  for (int k = 0; k < 3; ++k) {
    if (!outs[k]) continue;
    std::fill(outs[k], outs[k] + sizes[k], 0.0f);
    for (const std::vector<float>& part : parts) {
      if (part.empty()) continue;
      const float* src = part.data() + offsets[k];
      for (int64_t i = 0; i < sizes[k]; ++i) outs[k][i] += src[i];
    }
  }
}

}  // namespace corenn::cpu

namespace corenn::cpu {

// ConvLSTM's gate math (ops/rnn.h, lstm_cell_*): the sequence kernels' cell functions, one call
// per row, rows split over threads (each row is independent).
void lstm_cell_forward(const LstmCellProblem& p, float* z, const float* c_prev, float* c, float* h) {
  const CellKernels& k = lstm_cells(p);
  const int64_t u = p.u;
  parallel_for(0, p.rows, cell_grain(p), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      k.lstm_fwd(z + r * 4 * u, c_prev ? c_prev + r * u : nullptr, c + r * u, h + r * u, u, p.act,
                 p.ract);
  });
}

void lstm_cell_backward(const LstmCellProblem& p, const float* gates, const float* c,
                        const float* c_prev, const float* dh, float* dc, float* dz) {
  const CellKernels& k = lstm_cells(p);
  const int64_t u = p.u;
  parallel_for(0, p.rows, cell_grain(p), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      k.lstm_bwd(gates + r * 4 * u, c + r * u, c_prev ? c_prev + r * u : nullptr, dh + r * u,
                 dc + r * u, dz + r * 4 * u, u, p.act, p.ract);
  });
}

CORENN_REGISTER_KERNEL(rnn_forward_stub, Slot::cpu_ref, rnn_forward);
CORENN_REGISTER_KERNEL(rnn_backward_stub, Slot::cpu_ref, rnn_backward);
CORENN_REGISTER_KERNEL(lstm_cell_forward_stub, Slot::cpu_ref, lstm_cell_forward);
CORENN_REGISTER_KERNEL(lstm_cell_backward_stub, Slot::cpu_ref, lstm_cell_backward);
}  // namespace corenn::cpu
