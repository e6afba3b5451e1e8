// The gate math of the recurrent cells for the Keras defaults (activation tanh, recurrent
// activation sigmoid), written once over a vector-traits type V and instantiated by rnn_avx2.cpp
// (8 lanes) and rnn_avx512.cpp (16 lanes) for the avx2 / avx512 slots of rnn_default_cells_stub.
// Same contract and results (to float rounding) as the scalar cells of rnn.cpp (CellKernels in
// ops/rnn.h), which are the reference: the math of each cell is written there in full.
//
// Each function walks the u units of one sample in V::lanes blocks; the last u % lanes units run
// through the same code under a lane mask (zero-filled loads, masked stores), so there is no
// scalar tail and no access past a row. A null c_prev / h_prev (the first step without initial
// states) reads as zeros. fast_sigmoid / fast_tanh from simd/vec_math.h (no divide).
#pragma once

#include <cstdint>

#include "cpu/simd/loops.h"
#include "cpu/simd/vec_math.h"
#include "ops/rnn.h"

namespace corenn::cpu::simd {

template <class V>
struct RnnCells {
  using reg = typename V::reg;

  // LSTM, gates i, f, g, o in z (4u): c = f c_prev + i g, h = o tanh(c); z keeps the activated gates.
  // Two passes over the row: the gates and c of every block, then h = o tanh(c). Within a block
  // h waits on a chain of two tanh; split, the blocks' chains are independent and overlap.
  static void lstm_fwd(float* z, const float* c_prev, float* c, float* h, int64_t u, RnnAct, RnnAct) {
    for_each_block<V>(u, [&](const auto& l) {
      const auto ld = [&](const float* p) { return p ? l.load(p) : V::zero(); };
      const reg i = fast_sigmoid<V>(ld(z)), f = fast_sigmoid<V>(ld(z + u));
      const reg g = fast_tanh<V>(ld(z + 2 * u)), o = fast_sigmoid<V>(ld(z + 3 * u));
      l.store(z, i), l.store(z + u, f), l.store(z + 2 * u, g), l.store(z + 3 * u, o);
      l.store(c, V::fmadd(f, ld(c_prev), V::mul(i, g)));
    });
    for_each_block<V>(u, [&](const auto& l) {
      l.store(h, V::mul(l.load(z + 3 * u), fast_tanh<V>(l.load(c))));
    });
  }

  // dc (in: from the step after, out: to the step before) and the pre-activation gradients dz.
  static void lstm_bwd(const float* z, const float* c, const float* c_prev, const float* dh, float* dc,
                       float* dz, int64_t u, RnnAct, RnnAct) {
    for_each_block<V>(u, [&](const auto& l) {
      const auto ld = [&](const float* p) { return p ? l.load(p) : V::zero(); };
      const reg i = ld(z), f = ld(z + u), g = ld(z + 2 * u), o = ld(z + 3 * u);
      const reg tc = fast_tanh<V>(ld(c)), d = ld(dh);
      const reg dcj = V::fmadd(V::mul(d, o), dtanh_from_y<V>(tc), ld(dc));
      l.store(dz, V::mul(V::mul(dcj, g), dsigmoid_from_y<V>(i)));
      l.store(dz + u, V::mul(V::mul(dcj, ld(c_prev)), dsigmoid_from_y<V>(f)));
      l.store(dz + 2 * u, V::mul(V::mul(dcj, i), dtanh_from_y<V>(g)));
      l.store(dz + 3 * u, V::mul(V::mul(d, tc), dsigmoid_from_y<V>(o)));
      l.store(dc, V::mul(dcj, f));
    });
  }

  // GRU, reset_after: z, r from the summed input and recurrent parts, hh = tanh(x_h + r rec_h),
  // h = z h_prev + (1 - z) hh; rh keeps rec_h for backward.
  static void gru_fwd(float* xg, const float* rec, const float* h_prev, float* rh, float* h, int64_t u,
                      RnnAct, RnnAct) {
    for_each_block<V>(u, [&](const auto& l) {
      const auto ld = [&](const float* p) { return p ? l.load(p) : V::zero(); };
      const reg z = fast_sigmoid<V>(V::add(ld(xg), ld(rec)));
      const reg r = fast_sigmoid<V>(V::add(ld(xg + u), ld(rec + u)));
      const reg rhj = ld(rec + 2 * u);
      const reg hh = fast_tanh<V>(V::fmadd(r, rhj, ld(xg + 2 * u)));
      const reg hp = ld(h_prev);
      l.store(xg, z), l.store(xg + u, r), l.store(xg + 2 * u, hh);
      l.store(rh, rhj);
      l.store(h, V::fmadd(z, V::sub(hp, hh), hh));  // z h + (1 - z) hh
    });
  }

  static void gru_bwd(const float* g, const float* rh, const float* h_prev, float* dh, float* dgx,
                      float* dgr, int64_t u, RnnAct, RnnAct) {
    const reg one = V::set1(1.0f);
    for_each_block<V>(u, [&](const auto& l) {
      const auto ld = [&](const float* p) { return p ? l.load(p) : V::zero(); };
      const reg z = ld(g), r = ld(g + u), hh = ld(g + 2 * u), d = ld(dh);
      const reg dah = V::mul(V::mul(d, V::sub(one, z)), dtanh_from_y<V>(hh));
      const reg daz = V::mul(V::mul(d, V::sub(ld(h_prev), hh)), dsigmoid_from_y<V>(z));
      const reg dar = V::mul(V::mul(dah, ld(rh)), dsigmoid_from_y<V>(r));
      l.store(dgx, daz), l.store(dgr, daz);
      l.store(dgx + u, dar), l.store(dgr + u, dar);
      l.store(dgx + 2 * u, dah), l.store(dgr + 2 * u, V::mul(dah, r));
      l.store(dh, V::mul(d, z));
    });
  }

  // SimpleRNN: h = tanh(a), written over a and into h.
  static void simple_fwd(float* a, float* h, int64_t u, RnnAct) {
    for_each_block<V>(u, [&](const auto& l) {
      const reg v = fast_tanh<V>(l.load(a));
      l.store(a, v), l.store(h, v);
    });
  }

  static void simple_bwd(const float* h, const float* dh, float* dz, int64_t u, RnnAct) {
    for_each_block<V>(u, [&](const auto& l) {
      l.store(dz, V::mul(l.load(dh), dtanh_from_y<V>(l.load(h))));
    });
  }
};

}  // namespace corenn::cpu::simd
