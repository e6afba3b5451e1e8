// The rows of layer normalization (layer_norm_rows_stub's avx2 / avx512 slots; LayerNormRows in
// ops/layer_norm.h), written once over a vector-traits type V and instantiated by
// layer_norm_avx2.cpp (8 lanes) and layer_norm_avx512.cpp (16 lanes). cpu/layer_norm.cpp holds
// the reference rows and the drivers. RMS normalization's rows (RmsNormRowKernels, below;
// rms_norm_rows_stub, RmsNormRows in ops/rms_norm.h) are the same loops with the mean fixed at 0,
// instantiated by rms_norm_avx2.cpp / rms_norm_avx512.cpp next to cpu/rms_norm.cpp.
//
// The row statistics are summed in double as in the reference: each V::lanes floats are widened
// into two half-width double accumulators (V::widen_lo / widen_hi), reduced at the end. The
// per-element outputs are float with the reference's order of operations (no FMA), so y and dx
// differ from it only through the order of the double sums. The last d % V::lanes features run
// through the same body under a lane mask (simd::for_each_block): masked-off lanes load 0 and
// are kept out of the centred sums, and nothing past the row is read or written.
#pragma once

#include <cmath>
#include <cstdint>

#include "cpu/simd/loops.h"

namespace corenn::cpu::simd {

template <class V>
struct LayerNormRowKernels {
  using reg = typename V::reg;
  using dreg = typename V::dreg;

  // v - mu in the two double halves, with a tail's dead lanes zeroed (they loaded 0, and would
  // add mu^2 to the sum of squares).
  template <class B>
  static void centred(const B& b, reg v, dreg mu, dreg& c0, dreg& c1) {
    c0 = V::dsub(V::widen_lo(v), mu);
    c1 = V::dsub(V::widen_hi(v), mu);
    if constexpr (B::tail) {
      c0 = V::dkeep(c0, V::dmask_lo(b.m));
      c1 = V::dkeep(c1, V::dmask_hi(b.m));
    }
  }

  // p[b.i ..] += (v0, v1), the block's lanes only.
  template <class B>
  static void add_to(const B& b, double* p, dreg v0, dreg v1) {
    constexpr int half = V::lanes / 2;
    double* q = p + b.i;
    if constexpr (B::tail) {
      const auto m0 = V::dmask_lo(b.m), m1 = V::dmask_hi(b.m);
      V::dstore(q, V::dadd(V::dload(q, m0), v0), m0);
      V::dstore(q + half, V::dadd(V::dload(q + half, m1), v1), m1);
    } else {
      V::dstoreu(q, V::dadd(V::dloadu(q), v0));
      V::dstoreu(q + half, V::dadd(V::dloadu(q + half), v1));
    }
  }

  static void forward_row(const float* x, const float* gamma, const float* beta, float* y,
                          float* mean, float* inv_std, int64_t d, double epsilon) {
    dreg s0 = V::dzero(), s1 = V::dzero();
    for_each_block<V>(d, [&](const auto& b) {
      const reg v = b.load(x);
      s0 = V::dadd(s0, V::widen_lo(v));
      s1 = V::dadd(s1, V::widen_hi(v));
    });
    const double mu = V::dhsum(V::dadd(s0, s1)) / d;
    const dreg vmu = V::dset1(mu);
    dreg q0 = V::dzero(), q1 = V::dzero();
    for_each_block<V>(d, [&](const auto& b) {
      dreg c0, c1;
      centred(b, b.load(x), vmu, c0, c1);
      q0 = V::dadd(q0, V::dmul(c0, c0));
      q1 = V::dadd(q1, V::dmul(c1, c1));
    });
    const double ss = V::dhsum(V::dadd(q0, q1));
    const float mf = static_cast<float>(mu);
    const float inv = static_cast<float>(1.0 / std::sqrt(ss / d + epsilon));
    *mean = mf;
    *inv_std = inv;
    const reg vm = V::set1(mf), vinv = V::set1(inv);
    for_each_block<V>(d, [&](const auto& b) {
      reg t = V::mul(V::sub(b.load(x), vm), vinv);
      if (gamma) t = V::mul(t, b.load(gamma));
      if (beta) t = V::add(t, b.load(beta));
      b.store(y, t);
    });
  }

  static void backward_row(const float* dy, const float* x, const float* gamma, float mf, float inv,
                           float* dx, double* pg, double* pb, int64_t d) {
    const reg vm = V::set1(mf), vinv = V::set1(inv);
    const auto xhat = [&](const auto& b) { return V::mul(V::sub(b.load(x), vm), vinv); };
    if (pg || pb) {
      for_each_block<V>(d, [&](const auto& b) {
        const reg g = b.load(dy);
        const dreg g0 = V::widen_lo(g), g1 = V::widen_hi(g);
        if (pg) {
          const reg h = xhat(b);
          add_to(b, pg, V::dmul(g0, V::widen_lo(h)), V::dmul(g1, V::widen_hi(h)));
        }
        if (pb) add_to(b, pb, g0, g1);
      });
    }
    if (!dx) return;
    const auto grad = [&](const auto& b) {
      const reg g = b.load(dy);
      return gamma ? V::mul(g, b.load(gamma)) : g;
    };
    dreg a0 = V::dzero(), a1 = V::dzero(), b0 = V::dzero(), b1 = V::dzero();
    for_each_block<V>(d, [&](const auto& b) {
      const reg g = grad(b), h = xhat(b);  // g is 0 in a tail's dead lanes
      const dreg g0 = V::widen_lo(g), g1 = V::widen_hi(g);
      a0 = V::dadd(a0, g0);
      a1 = V::dadd(a1, g1);
      b0 = V::dadd(b0, V::dmul(g0, V::widen_lo(h)));
      b1 = V::dadd(b1, V::dmul(g1, V::widen_hi(h)));
    });
    const reg va = V::set1(static_cast<float>(V::dhsum(V::dadd(a0, a1)) / d));
    const reg vb = V::set1(static_cast<float>(V::dhsum(V::dadd(b0, b1)) / d));
    for_each_block<V>(d, [&](const auto& b) {
      const reg t = V::sub(V::sub(grad(b), va), V::mul(xhat(b), vb));
      b.store(dx, V::mul(vinv, t));
    });
  }
};

// RMS normalization's rows: layer normalization's with no centring, no shift and no sum of g
// (ops/rms_norm.h), the same double sums in lanes and masked tails. A tail's dead lanes load 0
// and so add nothing to the sum of squares or to sum g * xhat.
template <class V>
struct RmsNormRowKernels {
  using reg = typename V::reg;
  using dreg = typename V::dreg;

  static void forward_row(const float* x, const float* gamma, float* y, float* inv_rms, int64_t d,
                          double epsilon) {
    dreg q0 = V::dzero(), q1 = V::dzero();
    for_each_block<V>(d, [&](const auto& b) {
      const reg v = b.load(x);
      const dreg v0 = V::widen_lo(v), v1 = V::widen_hi(v);
      q0 = V::dadd(q0, V::dmul(v0, v0));
      q1 = V::dadd(q1, V::dmul(v1, v1));
    });
    const float inv = static_cast<float>(1.0 / std::sqrt(V::dhsum(V::dadd(q0, q1)) / d + epsilon));
    *inv_rms = inv;
    const reg vinv = V::set1(inv);
    for_each_block<V>(d, [&](const auto& b) {
      reg t = V::mul(b.load(x), vinv);
      if (gamma) t = V::mul(t, b.load(gamma));
      b.store(y, t);
    });
  }

  static void backward_row(const float* dy, const float* x, const float* gamma, float inv,
                           float* dx, double* pg, int64_t d) {
    const reg vinv = V::set1(inv);
    const auto xhat = [&](const auto& b) { return V::mul(b.load(x), vinv); };
    if (pg) {
      for_each_block<V>(d, [&](const auto& b) {
        const reg g = b.load(dy), h = xhat(b);
        LayerNormRowKernels<V>::add_to(b, pg, V::dmul(V::widen_lo(g), V::widen_lo(h)),
                                       V::dmul(V::widen_hi(g), V::widen_hi(h)));
      });
    }
    if (!dx) return;
    const auto grad = [&](const auto& b) {
      const reg g = b.load(dy);
      return gamma ? V::mul(g, b.load(gamma)) : g;
    };
    dreg s0 = V::dzero(), s1 = V::dzero();
    for_each_block<V>(d, [&](const auto& b) {
      const reg g = grad(b), h = xhat(b);
      s0 = V::dadd(s0, V::dmul(V::widen_lo(g), V::widen_lo(h)));
      s1 = V::dadd(s1, V::dmul(V::widen_hi(g), V::widen_hi(h)));
    });
    const reg vs = V::set1(static_cast<float>(V::dhsum(V::dadd(s0, s1)) / d));
    for_each_block<V>(d, [&](const auto& b) {
      b.store(dx, V::mul(vinv, V::sub(grad(b), V::mul(xhat(b), vs))));
    });
  }
};

}  // namespace corenn::cpu::simd
