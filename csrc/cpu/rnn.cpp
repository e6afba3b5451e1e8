// Recurrent layers on the CPU: SimpleRNN, LSTM, GRU (reset_after) through a whole sequence.
// The math, the shapes and the stash layout are in ops/rnn.h; here is how it is computed.
//
// Shapes: N batch, T steps, F features, U units, GU = G*U gate columns (G = 1, 4, 3).
// Layout: every buffer is row-major and indexed like x, (N, T, .): row n*T + t. Indexing the stash
//         by input time t (not by step s) lines it up with x, so the weight gradients are single
//         GEMMs over all N*T rows whatever the direction.
//
// Forward
//   1. gates = x W (+ b)                one threaded GEMM, (N*T, F) x (F, GU)
//   2. R is packed once into micro-kernel panels, then the batch is split over threads once for
//      the whole sequence: rows are independent through time, so each thread runs all T steps on
//      its rows with no barrier per step. A step, per block of MR rows: micro-kernel calls give
//      h R (accumulated into the gates, or into a small scratch for the GRU, whose reset gate
//      multiplies the recurrent part alone), then the gate math of those rows while they are in L1.
// Backward (steps in reverse)
//   1. per thread, per step, per MR rows: gate-math gradients into dgates, then dh_prev = dgates R^T
//      (R^T packed once as well); LSTM carries dc in a per-thread row buffer.
//   2. dx = dgates W^T, dW = x^T dgates, dR = hprev^T dgates(_rec): three threaded GEMMs with
//      K = N*T, and db = column sums.
// Variants: gate math uses the AVX2 cell kernels (rnn_avx2.cpp) for the Keras defaults (tanh with
// sigmoid gates) on Isa::avx2, else the scalar cell kernels below, which are the reference for
// any activation in {tanh, sigmoid, relu, linear}. The micro-kernel follows active_isa() too.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "cpu/gemm/gemm.h"
#include "ops/bias_grad.h"
#include "ops/rnn.h"

namespace corenn::cpu {

namespace {

using gemm::kMR;
using gemm::kNR;

// ---- reference gate math -----------------------------------------------------------------------

inline float act_f(RnnAct a, float x) {
  switch (a) {
    case RnnAct::tanh: return std::tanh(x);
    case RnnAct::sigmoid: return 1.0f / (1.0f + std::exp(-x));
    case RnnAct::relu: return x > 0.0f ? x : 0.0f;
    default: return x;
  }
}

// f'(x) written with y = f(x): all four activations allow it, so backward needs no pre-activations.
inline float dact_f(RnnAct a, float y) {
  switch (a) {
    case RnnAct::tanh: return 1.0f - y * y;
    case RnnAct::sigmoid: return y * (1.0f - y);
    case RnnAct::relu: return y > 0.0f ? 1.0f : 0.0f;
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
  return defaults && active_isa() == Isa::avx2 ? avx2::cell_kernels() : kRefCells;
}

// ---- packed recurrent weights ------------------------------------------------------------------

// A 64-byte aligned float buffer per thread that only grows (the packed panels are read with
// aligned loads by the micro-kernel).
class Aligned {
 public:
  ~Aligned() { std::free(p_); }
  float* get(size_t n) {
    if (n > cap_) {
      std::free(p_);
      p_ = static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64));
      if (!p_) throw std::bad_alloc();
      cap_ = n;
    }
    return p_;
  }

 private:
  float* p_ = nullptr;
  size_t cap_ = 0;
};

thread_local Aligned tls_pack_fwd, tls_pack_bwd;

// op(B) (k, n) into NR-column panels, depth-major, zero padded: the format of gemm.h. op(B) is
// b (k, n) row-major, or b^T when trans (b stored (n, k)).
float* pack_b(Aligned& buf, const float* b, int64_t k, int64_t n, bool trans) {
  const int64_t panels = (n + kNR - 1) / kNR;
  float* dst = buf.get(static_cast<size_t>(panels * kNR * k));
  for (int64_t jp = 0; jp < panels; ++jp) {
    float* panel = dst + jp * kNR * k;
    for (int64_t p = 0; p < k; ++p)
      for (int c = 0; c < kNR; ++c) {
        const int64_t j = jp * kNR + c;
        panel[p * kNR + c] = j >= n ? 0.0f : trans ? b[j * k + p] : b[p * n + j];
      }
  }
  return dst;
}

// C[0:m, 0:n] := beta C + A B (+ bias) for m <= MR rows of A read in place (row stride lda).
void rows_times_packed(gemm::UkrFn ukr, int m, const float* a, int64_t lda, const float* bp,
                       int64_t k, int64_t n, float* c, int64_t ldc, float beta, const float* bias) {
  for (int64_t j = 0; j < n; j += kNR) {
    const gemm::UkrArgs args{1.0f, beta, bias ? bias + j : nullptr, gemm::Activation::none};
    ukr(k, a, lda, 1, bp + j * k, kNR, c + j, ldc, m, static_cast<int>(std::min<int64_t>(kNR, n - j)),
        args);
  }
}

gemm::UkrFn pick_ukr() {
  return active_isa() == Isa::avx2 ? gemm::gemm_ukr_avx2_f32_6x16 : gemm::gemm_ukr_ref_f32_6x16;
}

// Rows per thread below which splitting the batch costs more than it saves.
int64_t batch_grain(const RnnProblem& p) {
  const double flops_per_row = 2.0 * p.t * p.u * p.gu();
  return std::max<int64_t>(1, static_cast<int64_t>(2e5 / std::max(flops_per_row, 1.0)));
}

// ---- forward -----------------------------------------------------------------------------------

struct Fwd {
  const RnnProblem& p;
  const CellKernels& k;
  gemm::UkrFn ukr;
  const float* rp;  // packed R
  float* y;
  float* h_n;
  float* c_n;

  // One step s for batch rows [n0, n0 + m), m <= MR.
  void step(int64_t s, int64_t n0, int m, float* scratch) const {
    const int64_t T = p.t, U = p.u, GU = p.gu(), t = p.step_time(s);
    const int64_t t_prev = s > 0 ? p.step_time(s - 1) : -1, t_next = s + 1 < T ? p.step_time(s + 1) : -1;
    float* g0 = p.gates + (n0 * T + t) * GU;
    const float* hp0 = p.hprev + (n0 * T + t) * U;
    float* rec = scratch;                   // GRU (MR, GU)
    float* hlast = scratch + kMR * GU;      // (MR, U): h of the last step
    if (s > 0) {
      if (p.cell == RnnCell::gru)
        rows_times_packed(ukr, m, hp0, T * U, rp, U, GU, rec, GU, 0.0f, p.b ? p.b + GU : nullptr);
      else
        rows_times_packed(ukr, m, hp0, T * U, rp, U, GU, g0, T * GU, 1.0f, nullptr);
    } else if (p.cell == RnnCell::gru) {  // h_0 = 0: the recurrent part is just b1
      for (int r = 0; r < m; ++r)
        for (int64_t j = 0; j < GU; ++j) rec[r * GU + j] = p.b ? p.b[GU + j] : 0.0f;
    }
    for (int r = 0; r < m; ++r) {
      const int64_t row = (n0 + r) * T;
      float* g = p.gates + (row + t) * GU;
      const float* hp = s > 0 ? p.hprev + (row + t) * U : nullptr;
      float* h = t_next >= 0 ? p.hprev + (row + t_next) * U : hlast + r * U;
      if (p.cell == RnnCell::lstm) {
        const float* cp = s > 0 ? p.cells + (row + t_prev) * U : nullptr;
        k.lstm_fwd(g, cp, p.cells + (row + t) * U, h, U, p.act, p.ract);
      } else if (p.cell == RnnCell::gru) {
        k.gru_fwd(g, rec + r * GU, hp, p.cells + (row + t) * U, h, U, p.act, p.ract);
      } else {
        k.simple_fwd(g, h, U, p.act);
      }
      const size_t bytes = static_cast<size_t>(U) * sizeof(float);
      if (p.return_sequences) std::memcpy(y + (row + p.out_time(s)) * U, h, bytes);
      if (s == T - 1) {
        if (!p.return_sequences) std::memcpy(y + (n0 + r) * U, h, bytes);
        if (h_n) std::memcpy(h_n + (n0 + r) * U, h, bytes);
        if (c_n) std::memcpy(c_n + (n0 + r) * U, p.cells + (row + t) * U, bytes);
      }
    }
  }
};

}  // namespace

void rnn_forward(const RnnProblem& p, float* y, float* h_n, float* c_n) {
  const int64_t GU = p.gu();
  const float* b_in = p.b;  // LSTM / SimpleRNN: b; GRU: b0 (row 0 of (2, GU))
  gemm::sgemm(false, false, p.n * p.t, GU, p.f, 1.0f, p.x, p.f, p.w, GU, 0.0f, p.gates, GU, b_in,
              gemm::Activation::none);
  const Fwd fwd{p, pick_cells(p), pick_ukr(), pack_b(tls_pack_fwd, p.r, p.u, GU, false), y, h_n, c_n};
  // The first step reads h_0 = 0; the hprev rows of t_0 are the zeros backward's dR sees.
  for (int64_t n = 0; n < p.n; ++n)
    std::memset(p.hprev + (n * p.t + p.step_time(0)) * p.u, 0, sizeof(float) * p.u);
  parallel_for(0, p.n, batch_grain(p), [&](int64_t lo, int64_t hi) {
    std::vector<float> scratch(static_cast<size_t>(kMR * (GU + p.u)));
    // Each MR-row block runs its own whole sequence: its rows of h and c stay in L1.
    for (int64_t n0 = lo; n0 < hi; n0 += kMR)
      for (int64_t s = 0; s < p.t; ++s)
        fwd.step(s, n0, static_cast<int>(std::min<int64_t>(kMR, hi - n0)), scratch.data());
  });
}

// ---- backward ----------------------------------------------------------------------------------

namespace {

struct Bwd {
  const RnnProblem& p;
  const CellKernels& k;
  gemm::UkrFn ukr;
  const float* rtp;  // packed R^T (GU, U)
  const float* dy;
  float* dgates;
  float* dgates_rec;

  // One step s for rows [n0, n0 + m): dh (m, U) holds dL/dh_s from later steps; on return it holds
  // dL/dh_{s-1} (not computed at s = 0). dc likewise for the LSTM cell.
  void step(int64_t s, int64_t n0, int m, float* dh, float* dc) const {
    const int64_t T = p.t, U = p.u, GU = p.gu(), t = p.step_time(s);
    const int64_t t_prev = s > 0 ? p.step_time(s - 1) : -1;
    for (int r = 0; r < m; ++r) {
      const int64_t row = (n0 + r) * T;
      float* dhr = dh + r * U;
      if (p.return_sequences) {
        const float* d = dy + (row + p.out_time(s)) * U;
        for (int64_t j = 0; j < U; ++j) dhr[j] += d[j];
      } else if (s == T - 1) {
        std::memcpy(dhr, dy + (n0 + r) * U, sizeof(float) * U);
      }
      const float* g = p.gates + (row + t) * GU;
      float* dg = dgates + (row + t) * GU;
      if (p.cell == RnnCell::lstm) {
        const float* cp = s > 0 ? p.cells + (row + t_prev) * U : nullptr;
        k.lstm_bwd(g, p.cells + (row + t) * U, cp, dhr, dc + r * U, dg, U, p.act, p.ract);
      } else if (p.cell == RnnCell::gru) {
        const float* hp = s > 0 ? p.hprev + (row + t) * U : nullptr;
        k.gru_bwd(g, p.cells + (row + t) * U, hp, dhr, dg, dgates_rec + (row + t) * GU, U, p.act,
                  p.ract);
      } else {
        k.simple_bwd(g, dhr, dg, U, p.act);
      }
    }
    if (s == 0) return;
    if (p.cell == RnnCell::gru)  // dh already holds the direct path dh * z
      rows_times_packed(ukr, m, dgates_rec + (n0 * T + t) * GU, T * GU, rtp, GU, U, dh, U, 1.0f,
                        nullptr);
    else
      rows_times_packed(ukr, m, dgates + (n0 * T + t) * GU, T * GU, rtp, GU, U, dh, U, 0.0f, nullptr);
  }
};

}  // namespace

void rnn_backward(const RnnProblem& p, const float* dy, float* dgates, float* dgates_rec, float* dx,
                  float* dw, float* dr, float* db) {
  const int64_t NT = p.n * p.t, GU = p.gu(), U = p.u;
  const Bwd bwd{p, pick_cells(p), pick_ukr(), pack_b(tls_pack_bwd, p.r, GU, U, true), dy, dgates,
                dgates_rec};
  parallel_for(0, p.n, batch_grain(p), [&](int64_t lo, int64_t hi) {
    std::vector<float> state(static_cast<size_t>(2 * kMR * U));
    float* dh = state.data();
    float* dc = dh + kMR * U;
    // Each MR-row block runs its own whole backward sequence: its state stays in L1.
    for (int64_t n0 = lo; n0 < hi; n0 += kMR) {
      const int m = static_cast<int>(std::min<int64_t>(kMR, hi - n0));
      std::fill(state.begin(), state.end(), 0.0f);
      for (int64_t s = p.t - 1; s >= 0; --s) bwd.step(s, n0, m, dh, dc);
    }
  });
  const float* dg_rec = p.cell == RnnCell::gru ? dgates_rec : dgates;
  const auto none = gemm::Activation::none;
  if (dx) gemm::sgemm(false, true, NT, p.f, GU, 1.0f, dgates, GU, p.w, GU, 0.0f, dx, p.f, nullptr, none);
  if (dw) gemm::sgemm(true, false, p.f, GU, NT, 1.0f, p.x, p.f, dgates, GU, 0.0f, dw, GU, nullptr, none);
  if (dr) gemm::sgemm(true, false, U, GU, NT, 1.0f, p.hprev, U, dg_rec, GU, 0.0f, dr, GU, nullptr, none);
  if (db) {
    bias_grad(dgates, db, NT, GU);
    if (p.cell == RnnCell::gru) bias_grad(dgates_rec, db + GU, NT, GU);
  }
}

}  // namespace corenn::cpu
