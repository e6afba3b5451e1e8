// AVX-512 rows of depthwise_conv2d with depth multiplier 1: depthwise_conv2d_avx2.cpp on 16 lanes
// (see depthwise_conv2d_rows.h for the contract, ops/depthwise_conv2d.h for the math). A tap is one
// FMA per 16 channels; forward and data gradient keep a pixel's accumulators in registers across
// all its taps (64 channels = 4 independent FMA chains), the weight gradient keeps a tap's
// 16-channel slice in registers across a row of output pixels. The channel tail (C % 16) is one
// more block under a lane mask.
#include <immintrin.h>

#include <algorithm>

#include "cpu/depthwise_conv2d_rows.h"
#include "cpu/vec_math_avx512.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx512 {

namespace {

// A pixel's inside taps: element offsets into the data operand (x or dy) and into w. Plain
// new[] storage, no std::vector: this file is compiled for AVX-512, and a library template
// instantiated here could be the copy the linker keeps for baseline callers (ARCHITECTURE.md).
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

// out[c, c + 16 NV) = init + sum over taps of a[tap] * b[tap]; the last vector under `last`
// (all lanes for a full block). init is the bias, or zero when nullptr.
template <int NV>
inline void taps_block(const Taps& t, const float* a, const float* b, const float* init, float* out,
                       int64_t c, __mmask16 last) {
  __mmask16 lanes[NV];
  for (int v = 0; v < NV; ++v) lanes[v] = v == NV - 1 ? last : static_cast<__mmask16>(0xFFFF);
  __m512 acc[NV];
  for (int v = 0; v < NV; ++v)
    acc[v] = init ? _mm512_maskz_loadu_ps(lanes[v], init + c + 16 * v) : _mm512_setzero_ps();
  for (int64_t k = 0; k < t.count; ++k) {
    const float* ap = a + t.data[k] + c;
    const float* bp = b + t.weight[k] + c;
    for (int v = 0; v < NV; ++v)
      acc[v] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(lanes[v], ap + 16 * v),
                               _mm512_maskz_loadu_ps(lanes[v], bp + 16 * v), acc[v]);
  }
  for (int v = 0; v < NV; ++v) _mm512_mask_storeu_ps(out + c + 16 * v, lanes[v], acc[v]);
}

void channels(const Taps& t, const float* a, const float* b, const float* init, float* out, int64_t C) {
  int64_t c = 0;
  for (; c + 64 <= C; c += 64) taps_block<4>(t, a, b, init, out, c, 0xFFFF);
  for (; c < C; c += 16) taps_block<1>(t, a, b, init, out, c, first_lanes(C - c));
}

void forward_rows(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
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

void data_rows(const Conv2dGeometry& g, const float* dy, const float* w, float* dx, int64_t r_lo,
               int64_t r_hi) {
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

void weights_rows(const Conv2dGeometry& g, const float* x, const float* dy, float* dw, float* db,
                  int64_t r_lo, int64_t r_hi) {
  const int64_t C = g.cin;
  for (int64_t r = r_lo; r < r_hi; ++r) {
    const int64_t n = r / g.oh, oh = r % g.oh;
    const float* dyr = dy + r * g.ow * C;
    if (db) {
      for_each16(C, [&](int64_t c, __mmask16 m) {
        __m512 acc = _mm512_maskz_loadu_ps(m, db + c);
        for (int64_t ow = 0; ow < g.ow; ++ow)
          acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, dyr + ow * C + c));
        _mm512_mask_storeu_ps(db + c, m, acc);
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
        for_each16(C, [&](int64_t c, __mmask16 m) {
          __m512 a0 = _mm512_maskz_loadu_ps(m, dwp + c), a1 = _mm512_setzero_ps();
          int64_t ow = ow_lo;
          // two chains: alternate pixels, so consecutive FMAs do not wait on each other
          for (; ow + 1 < ow_hi; ow += 2) {
            const float* xp = xr + (ow * g.sw + off) * C + c;
            const float* dp = dyr + ow * C + c;
            a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, xp), _mm512_maskz_loadu_ps(m, dp), a0);
            a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, xp + g.sw * C),
                                 _mm512_maskz_loadu_ps(m, dp + C), a1);
          }
          if (ow < ow_hi)
            a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, xr + (ow * g.sw + off) * C + c),
                                 _mm512_maskz_loadu_ps(m, dyr + ow * C + c), a0);
          _mm512_mask_storeu_ps(dwp + c, m, _mm512_add_ps(a0, a1));
        });
      }
    }
  }
}

}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const DepthwiseRows kDepthwiseRows{true, forward_rows, data_rows, weights_rows};

}  // namespace corenn::cpu::avx512
