// Recurrent layers (SimpleRNN, LSTM, GRU) over a whole sequence per call, forward and backward
// through time, Keras semantics and weight layouts.
//
// Shapes: x (N, T, F); kernel W (F, G*U); recurrent_kernel R (U, G*U); G = 1 | 4 | 3 gates.
//   SimpleRNN  h' = act(x W + h R + b)                                  b (U,)
//   LSTM       [zi zf zg zo] = x W + h R + b, gate order i, f, c, o     b (4U,)
//              i, f, o = ract(zi, zf, zo), g = act(zg); c' = f c + i g; h' = o act(c')
//   GRU        [xz xr xh] = x W + b0, [rz rr rh] = h R + b1           b (2, 3U) = [b0; b1]
//              z = ract(xz + rz), r = ract(xr + rr), hh = act(xh + r * rh)
//              h' = z h + (1 - z) hh
//   GRU, reset_after=false (Keras 2 / no cuDNN): b (3U,), no recurrent bias, the reset gate
//              multiplies h before the recurrent product:
//              [xz xr xh] = x W + b,  z = ract(xz + h Rz), r = ract(xr + h Rr),
//              hh = act(xh + (r * h) Rh),  h' = z h + (1 - z) hh      (R = [Rz Rr Rh], U columns each)
// mask (N, T), optional (Keras masking): where mask[n, t] == 0 step t is skipped for sample n:
// h (and c) carry over unchanged, so y at that step repeats the previous h (the initial h before
// any real step), and the step gets no gradient (dh, dc pass through it unchanged).
// h and c start at zero, or at the optional h0 / c0 (N, U) of RnnOptions. Step s (0..T-1) reads
// x[:, t] with t = s, or t = T-1-s when go_backwards. y is (N, T, U) with y[:, s] = h after step s
// (Keras: reversed when going backwards; output_in_input_order puts it at y[:, t] instead, for
// Bidirectional), or (N, U), the last h, when return_sequences is false.
//
// What backward needs is stashed by forward, all indexed like x (by t, not s):
//   gates (N, T, G*U)  the activated gates of step t (SimpleRNN: h'; LSTM: i f g o; GRU: z r hh)
//   hprev (N, T, U)    the h that step t read
//   cells (N, T, U)    LSTM: c after step t;   GRU: rh = (h R + b1)[h part] of step t
//                      (reset_after=false: r * h of step t, what Rh multiplies)
// activation / recurrent_activation: "tanh" | "sigmoid" | "relu" | "linear".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

enum class RnnCell : int8_t { simple = 0, lstm = 1, gru = 2 };

struct RnnOptions {
  std::string activation = "tanh";
  std::string recurrent_activation = "sigmoid";
  bool go_backwards = false;
  bool return_sequences = false;
  bool output_in_input_order = false;
  bool reset_after = true;           // GRU only
  std::optional<Tensor> mask;        // (N, T) float32, nonzero = a real step
  std::optional<Tensor> h0;          // (N, U) initial h; absent = zeros
  std::optional<Tensor> c0;          // (N, U) initial LSTM c; absent = zeros
};

// y as described above; h_n (N, U) and c_n (N, U, LSTM only) receive the final states when given.
// cells is unused (may be absent) for SimpleRNN.
void rnn_forward(RnnCell cell, const Tensor& x, const Tensor& kernel, const Tensor& recurrent_kernel,
                 const std::optional<Tensor>& bias, const Tensor& y,
                 const std::optional<Tensor>& h_n, const std::optional<Tensor>& c_n,
                 const Tensor& gates, const Tensor& hprev, const std::optional<Tensor>& cells,
                 const RnnOptions& opt);

// dy is shaped like forward's y. Every output is optional:
// dx (N, T, F), dkernel (F, GU), drecurrent_kernel (U, GU), dbias like bias; dh0 / dc0 (N, U)
// the gradients of opt.h0 / opt.c0 (each only when that initial state was given). dc_n (N, U),
// LSTM only, optional input: dL/d(final c), seeded into the last step (dL/d(final h) is part of
// dy: the last output is the final h).
void rnn_backward(RnnCell cell, const Tensor& dy, const Tensor& x, const Tensor& kernel,
                  const Tensor& recurrent_kernel, const Tensor& gates, const Tensor& hprev,
                  const std::optional<Tensor>& cells, const std::optional<Tensor>& dx,
                  const std::optional<Tensor>& dkernel,
                  const std::optional<Tensor>& drecurrent_kernel,
                  const std::optional<Tensor>& dbias, const RnnOptions& opt,
                  const std::optional<Tensor>& dh0 = std::nullopt,
                  const std::optional<Tensor>& dc0 = std::nullopt,
                  const std::optional<Tensor>& dc_n = std::nullopt);

// The LSTM gate math alone, one row at a time over R independent rows (ConvLSTM2D: a row per
// pixel and sample; its convolutions run on the conv2d kernels around it). U units per row.
//   forward:  z (R, 4U) pre-activations [zi zf zg zo] in, the activated gates [i f g o] out (in
//             place); c = f c_prev + i g, h = o act(c) into c, h (R, U); c_prev (R, U) absent:
//             zeros (the first step).
//   backward: gates (R, 4U) and c (R, U) as forward left them, c_prev as forward read it, dh
//             (R, U) = dL/dh; dc (R, U) in: dL/dc from the later step (zeros at the last), out:
//             dL/dc_prev; writes dz (R, 4U) = dL/d[zi zf zg zo].
void lstm_cell_forward(const Tensor& z, const std::optional<Tensor>& c_prev, const Tensor& c,
                       const Tensor& h, const std::string& activation,
                       const std::string& recurrent_activation);
void lstm_cell_backward(const Tensor& gates, const Tensor& c, const std::optional<Tensor>& c_prev,
                        const Tensor& dh, const Tensor& dc, const Tensor& dz,
                        const std::string& activation, const std::string& recurrent_activation);

namespace cpu {

enum class RnnAct : int8_t { tanh = 0, sigmoid = 1, relu = 2, linear = 3 };

// The plain problem the op entry hands to the CPU kernels (all pointers row-major, contiguous).
struct RnnProblem {
  RnnCell cell;
  int64_t n, t, f, u;
  RnnAct act, ract;
  bool go_backwards, return_sequences, output_in_input_order;
  bool reset_after;   // GRU: true (b (2, GU)) or false (b (GU,), see the header)
  const float* mask;  // (N, T) or nullptr
  const float* x;
  const float* w;   // (F, GU)
  const float* r;   // (U, GU)
  const float* b;   // nullptr | (GU,) | GRU (2, GU) (reset_after=false: (GU,))
  float* gates;     // (N, T, GU)
  float* hprev;     // (N, T, U)
  float* cells;     // (N, T, U) or nullptr
  const float* h0 = nullptr;  // (N, U) initial h, or nullptr (zeros)
  const float* c0 = nullptr;  // (N, U) initial LSTM c, or nullptr (zeros)
  // The forward's R storage: its packed panels are kept on it while its write version stands
  // (cpu/gemm/gemm.h, kept_packed_b: predict packs R once; a training step never keeps it).
  const Storage* keep_r = nullptr;
  int64_t gu() const { return u * (cell == RnnCell::lstm ? 4 : cell == RnnCell::gru ? 3 : 1); }
  int64_t step_time(int64_t s) const { return go_backwards ? t - 1 - s : s; }
  // Index along T of y / dy for step s.
  int64_t out_time(int64_t s) const { return output_in_input_order ? step_time(s) : s; }
  bool gru_reset_before() const { return cell == RnnCell::gru && !reset_after; }
  // Whether sample n takes step t (no mask: always).
  bool takes(int64_t n, int64_t t_) const { return !mask || mask[n * t + t_] != 0.0f; }
  // Whether step s reads a stored previous h (every step but the first, unless h0 is given).
  bool has_prev(int64_t s) const { return s > 0 || h0 != nullptr; }
  // The c step s starts from for batch row n (LSTM), or nullptr for zeros.
  const float* c_prev(int64_t s, int64_t n) const {
    return s > 0 ? cells + (n * t + step_time(s - 1)) * u : c0 ? c0 + n * u : nullptr;
  }
};

void rnn_forward(const RnnProblem& p, float* y, float* h_n, float* c_n);
// dh0 / dc0 (N, U) or nullptr: the initial states' gradients; dc_n (N, U) or nullptr: see above.
// dL/d(pre-activations) lives in a per-thread buffer of one chunk of rows (cpu/rnn.cpp).
void rnn_backward(const RnnProblem& p, const float* dy, float* dx, float* dw, float* dr,
                  float* db, float* dh0 = nullptr, float* dc0 = nullptr,
                  const float* dc_n = nullptr);

// The gate math of one batch row of one step, u units (cpu/rnn.cpp: any activations; the avx2
// namespace, cpu/rnn_avx2.cpp: act = tanh, ract = sigmoid only). Pointers are rows of the stash
// buffers described in rnn_forward; c_prev / h_prev are nullptr at the first step (zeros).
//   lstm_fwd:   z (4U) pre-activations in, activated gates out; writes c (U) and h (U)
//   lstm_bwd:   dh (U) in; dc (U) carries dL/dc from step t+1 to t; writes dz (4U)
//   gru_fwd:    xg (3U) = x W + b0 in, [z r hh] out; rec (3U) = h R + b1; writes rh (U), h (U)
//   gru_bwd:    dh (U) in, dh * z out (the direct path to h_prev); writes dgx, dgr (3U)
//   simple_fwd: a (U) in, h' out (in place); copies it to h
//   simple_bwd: writes dz = dh * act'(.) from h'
struct CellKernels {
  void (*lstm_fwd)(float* z, const float* c_prev, float* c, float* h, int64_t u, RnnAct act,
                   RnnAct ract);
  void (*lstm_bwd)(const float* z, const float* c, const float* c_prev, const float* dh, float* dc,
                   float* dz, int64_t u, RnnAct act, RnnAct ract);
  void (*gru_fwd)(float* xg, const float* rec, const float* h_prev, float* rh, float* h, int64_t u,
                  RnnAct act, RnnAct ract);
  void (*gru_bwd)(const float* g, const float* rh, const float* h_prev, float* dh, float* dgx,
                  float* dgr, int64_t u, RnnAct act, RnnAct ract);
  void (*simple_fwd)(float* a, float* h, int64_t u, RnnAct act);
  void (*simple_bwd)(const float* h, const float* dh, float* dz, int64_t u, RnnAct act);
};

// The cell kernels for Keras' default activations (act == tanh, ract == sigmoid; simple: tanh),
// per ISA: cpu/rnn.cpp registers its reference cells (cpu_ref), cpu/rnn_avx2.cpp its AVX2 ones,
// cpu/rnn_avx512.cpp its AVX-512 ones.
// Other activations always run the reference cells.
using CellKernelsRef = const CellKernels*;
CORENN_DECLARE_DISPATCH(CellKernelsRef, rnn_default_cells_stub);

// lstm_cell_forward / lstm_cell_backward's plain problem (pointers as in those entries).
struct LstmCellProblem {
  int64_t rows, u;
  RnnAct act, ract;
};
void lstm_cell_forward(const LstmCellProblem& p, float* z, const float* c_prev, float* c, float* h);
void lstm_cell_backward(const LstmCellProblem& p, const float* gates, const float* c,
                        const float* c_prev, const float* dh, float* dc, float* dz);

}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/rnn.cpp registers cpu_ref.
using RnnForwardFn = decltype(&cpu::rnn_forward);
CORENN_DECLARE_DISPATCH(RnnForwardFn, rnn_forward_stub);
using RnnBackwardFn = decltype(&cpu::rnn_backward);
CORENN_DECLARE_DISPATCH(RnnBackwardFn, rnn_backward_stub);
using LstmCellForwardFn = decltype(&cpu::lstm_cell_forward);
CORENN_DECLARE_DISPATCH(LstmCellForwardFn, lstm_cell_forward_stub);
using LstmCellBackwardFn = decltype(&cpu::lstm_cell_backward);
CORENN_DECLARE_DISPATCH(LstmCellBackwardFn, lstm_cell_backward_stub);

}  // namespace corenn
