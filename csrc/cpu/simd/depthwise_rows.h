// The row kernels of depthwise_conv2d with depth multiplier 1, written once over a vector-traits
// type V and instantiated by depthwise_conv2d_avx2.cpp (8 lanes) and depthwise_conv2d_avx512.cpp
// (16 lanes) for the avx2 / avx512 slots of depthwise_rows_stub (contract in
// depthwise_conv2d_rows.h, math in ops/depthwise_conv2d.h, reference rows in depthwise_conv2d.cpp).
//
// x, w (taps, C) and y share the contiguous channel axis, so a tap is one FMA per V::lanes
// channels. Forward and data gradient keep a pixel's accumulators in registers across all its
// taps (4 vectors = 4 independent FMA chains, enough to hide the FMA latency on the common
// C >= 4 lanes layers); the weight gradient keeps a tap's V::lanes-channel slice in registers
// across a row of output pixels, on two alternating chains. The channel tail (C % lanes) is one
// more block under a lane mask.
#pragma once

#include <algorithm>
#include <cstdint>

#include "cpu/depthwise_conv2d_rows.h"
#include "cpu/simd/loops.h"

namespace corenn::cpu::simd {

template <class V>
struct DepthwiseRowsDm1 {
  using reg = typename V::reg;
  static constexpr int64_t L = V::lanes;

  // A pixel's inside taps: element offsets into the data operand (x or dy) and into w. Plain
  // new[] storage, no std::vector: these files are compiled with ISA flags, and a library
  // template instantiated here would be a weak symbol shared with baseline files (ARCHITECTURE.md).
  struct Taps {
    int64_t* data = nullptr;
    int64_t* weight = nullptr;
    int64_t capacity = 0, count = 0;
    Taps() = default;
    Taps(const Taps&) = delete;
    Taps& operator=(const Taps&) = delete;
    ~Taps() {
      delete[] data;
      delete[] weight;
    }
    void reserve(int64_t n) {
      if (capacity >= n) return;
      delete[] data;
      delete[] weight;
      data = new int64_t[n];
      weight = new int64_t[n];
      capacity = n;
    }
  };

  // out[c, c + NV lanes) = init + sum over taps of a[tap] * b[tap]; vectors 0..NV-2 are full, the
  // last one is `last` (a FullBlock or a TailBlock at c + (NV - 1) lanes). init: bias, or zero.
  template <int NV, class Last>
  static void taps_block(const Taps& t, const float* a, const float* b, const float* init, float* out,
                         int64_t c, const Last& last) {
    const auto ld = [&](int v, const float* p) {
      return v == NV - 1 ? last.load(p) : V::loadu(p + c + L * v);
    };
    reg acc[NV];
    for (int v = 0; v < NV; ++v) acc[v] = init ? ld(v, init) : V::zero();
    for (int64_t k = 0; k < t.count; ++k) {
      const float* ap = a + t.data[k];
      const float* bp = b + t.weight[k];
      for (int v = 0; v < NV; ++v) acc[v] = V::fmadd(ld(v, ap), ld(v, bp), acc[v]);
    }
    for (int v = 0; v < NV - 1; ++v) V::storeu(out + c + L * v, acc[v]);
    last.store(out, acc[NV - 1]);
  }

  static void channels(const Taps& t, const float* a, const float* b, const float* init, float* out,
                       int64_t C) {
    int64_t c = 0;
    for (; c + 4 * L <= C; c += 4 * L) taps_block<4>(t, a, b, init, out, c, FullBlock<V>{c + 3 * L});
    for (; c + L <= C; c += L) taps_block<1>(t, a, b, init, out, c, FullBlock<V>{c});
    if (c < C) taps_block<1>(t, a, b, init, out, c, TailBlock<V>{c, V::first(C - c)});
  }

  // y rows [r_lo, r_hi) of (n, oh).
  static void forward_rows(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                           float* y, int64_t r_lo, int64_t r_hi) {
    thread_local Taps t;
    t.reserve(g.kh * g.kw);
    for (int64_t r = r_lo; r < r_hi; ++r) {
      const int64_t n = r / g.oh, oh = r % g.oh;
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        t.count = 0;
        for (int64_t kh = 0; kh < g.kh; ++kh) {
          const int64_t ih = oh * g.sh - g.pt + kh * g.dh;
          if (ih < 0 || ih >= g.h) continue;
          for (int64_t kw = 0; kw < g.kw; ++kw) {
            const int64_t iw = ow * g.sw - g.pl + kw * g.dw;
            if (iw < 0 || iw >= g.w) continue;
            t.data[t.count] = ((n * g.h + ih) * g.w + iw) * g.cin;
            t.weight[t.count++] = (kh * g.kw + kw) * g.cin;
          }
        }
        channels(t, x, w, bias, y + (r * g.ow + ow) * g.cin, g.cin);
      }
    }
  }

  // dx rows [r_lo, r_hi) of (n, ih): the taps whose output pixel exists.
  static void data_rows(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                        int64_t r_lo, int64_t r_hi) {
    thread_local Taps t;
    t.reserve(g.kh * g.kw);
    for (int64_t r = r_lo; r < r_hi; ++r) {
      const int64_t n = r / g.h, ih = r % g.h;
      for (int64_t iw = 0; iw < g.w; ++iw) {
        t.count = 0;
        for (int64_t kh = 0; kh < g.kh; ++kh) {
          const int64_t th = ih + g.pt - kh * g.dh;
          if (th < 0 || th % g.sh != 0 || th / g.sh >= g.oh) continue;
          for (int64_t kw = 0; kw < g.kw; ++kw) {
            const int64_t tw = iw + g.pl - kw * g.dw;
            if (tw < 0 || tw % g.sw != 0 || tw / g.sw >= g.ow) continue;
            t.data[t.count] = ((n * g.oh + th / g.sh) * g.ow + tw / g.sw) * g.cin;
            t.weight[t.count++] = (kh * g.kw + kw) * g.cin;
          }
        }
        channels(t, dy, w, nullptr, dx + (r * g.w + iw) * g.cin, g.cin);
      }
    }
  }

  // dw (KH*KW, C) += and db (C,) += (when not nullptr) over output rows [r_lo, r_hi) of (n, oh).
  static void weights_rows(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                           float* db, int64_t r_lo, int64_t r_hi) {
    const int64_t C = g.cin;
    for (int64_t r = r_lo; r < r_hi; ++r) {
      const int64_t n = r / g.oh, oh = r % g.oh;
      const float* dyr = dy + r * g.ow * C;
      if (db) {  // per channel in pixel order, as the reference rows add
        for_each_block<V>(C, [&](const auto& blk) {
          reg acc = blk.load(db);
          for (int64_t ow = 0; ow < g.ow; ++ow) acc = V::add(acc, blk.load(dyr + ow * C));
          blk.store(db, acc);
        });
      }
      for (int64_t kh = 0; kh < g.kh; ++kh) {
        const int64_t ih = oh * g.sh - g.pt + kh * g.dh;
        if (ih < 0 || ih >= g.h) continue;
        const float* xr = x + (n * g.h + ih) * g.w * C;
        for (int64_t kw = 0; kw < g.kw; ++kw) {
          // output columns whose tap kw lands inside: 0 <= ow*sw - pl + kw*dw < W
          const int64_t off = kw * g.dw - g.pl;
          const int64_t ow_lo = off >= 0 ? 0 : (-off + g.sw - 1) / g.sw;
          const int64_t ow_hi = std::min(g.ow, off >= g.w ? 0 : (g.w - 1 - off) / g.sw + 1);
          if (ow_lo >= ow_hi) continue;
          float* dwp = dw + (kh * g.kw + kw) * C;
          for_each_block<V>(C, [&](const auto& blk) {
            reg a0 = blk.load(dwp), a1 = V::zero();
            int64_t ow = ow_lo;
            // two chains: alternate pixels, so consecutive FMAs do not wait on each other
            for (; ow + 1 < ow_hi; ow += 2) {
              const float* xp = xr + (ow * g.sw + off) * C;
              const float* dp = dyr + ow * C;
              a0 = V::fmadd(blk.load(xp), blk.load(dp), a0);
              a1 = V::fmadd(blk.load(xp + g.sw * C), blk.load(dp + C), a1);
            }
            if (ow < ow_hi)
              a0 = V::fmadd(blk.load(xr + (ow * g.sw + off) * C), blk.load(dyr + ow * C), a0);
            blk.store(dwp, V::add(a0, a1));
          });
        }
      }
    }
  }
};

}  // namespace corenn::cpu::simd
