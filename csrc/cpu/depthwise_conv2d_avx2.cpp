// AVX2/FMA rows of depthwise_conv2d with depth multiplier 1 (see depthwise_conv2d_avx2.h and, for
// the math, ops/depthwise_conv2d.h). x, w (taps, C) and y share the contiguous channel axis, so a
// tap is one FMA per 8 channels. Forward and data gradient keep each pixel's accumulators in
// registers across all its taps (32 channels = 4 independent FMA chains, enough to hide the FMA
// latency on the common C >= 32 layers); the weight gradient keeps a tap's 8-channel slice in a
// register across a row of output pixels. Channel tails use masked loads and stores.
#include "cpu/depthwise_conv2d_rows.h"
#include "cpu/isa_kernels.h"

#include <immintrin.h>

#include <algorithm>
#include <vector>

namespace corenn::cpu::avx2 {

namespace {

__m256i tail_mask(int64_t rem) {
  alignas(32) static const int32_t bits[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bits + 8 - rem));
}

// A pixel's inside taps: element offsets into the data operand (x or dy) and into w.
struct Taps {
  std::vector<int64_t> data, weight;
  int64_t count = 0;
  void reserve(int64_t n) {
    if (static_cast<int64_t>(data.size()) < n) data.resize(n), weight.resize(n);
  }
};

// acc[0..NV) over channels [c, c + 8 NV) = init + sum over taps of a[tap] * b[tap]; the last
// vector masked when MASK. init is bias (or zero when nullptr).
template <int NV, bool MASK>
inline void taps_block(const Taps& t, const float* a, const float* b, const float* init, float* out,
                       int64_t c, __m256i mask) {
  __m256 acc[NV];
  for (int v = 0; v < NV; ++v) {
    if (!init) acc[v] = _mm256_setzero_ps();
    else if (MASK && v == NV - 1) acc[v] = _mm256_maskload_ps(init + c + 8 * v, mask);
    else acc[v] = _mm256_loadu_ps(init + c + 8 * v);
  }
  for (int64_t k = 0; k < t.count; ++k) {
    const float* ap = a + t.data[k] + c;
    const float* bp = b + t.weight[k] + c;
    for (int v = 0; v < NV; ++v) {
      if (MASK && v == NV - 1)
        acc[v] = _mm256_fmadd_ps(_mm256_maskload_ps(ap + 8 * v, mask),
                                 _mm256_maskload_ps(bp + 8 * v, mask), acc[v]);
      else
        acc[v] = _mm256_fmadd_ps(_mm256_loadu_ps(ap + 8 * v), _mm256_loadu_ps(bp + 8 * v), acc[v]);
    }
  }
  for (int v = 0; v < NV; ++v) {
    if (MASK && v == NV - 1) _mm256_maskstore_ps(out + c + 8 * v, mask, acc[v]);
    else _mm256_storeu_ps(out + c + 8 * v, acc[v]);
  }
}

void channels(const Taps& t, const float* a, const float* b, const float* init, float* out, int64_t C) {
  int64_t c = 0;
  for (; c + 32 <= C; c += 32) taps_block<4, false>(t, a, b, init, out, c, __m256i{});
  for (; c + 8 <= C; c += 8) taps_block<1, false>(t, a, b, init, out, c, __m256i{});
  if (c < C) taps_block<1, true>(t, a, b, init, out, c, tail_mask(C - c));
}

}  // namespace

void depthwise_forward_rows_dm1(const Conv2dGeometry& g, const float* x, const float* w,
                                const float* bias, float* y, int64_t r_lo, int64_t r_hi) {
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

void depthwise_data_rows_dm1(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
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

void depthwise_weights_rows_dm1(const Conv2dGeometry& g, const float* x, const float* dy,
                                float* dw, float* db, int64_t r_lo, int64_t r_hi) {
  const int64_t C = g.cin;
  for (int64_t r = r_lo; r < r_hi; ++r) {
    const int64_t n = r / g.oh, oh = r % g.oh;
    const float* dyr = dy + r * g.ow * C;
    if (db)
      for (int64_t ow = 0; ow < g.ow; ++ow)
        for (int64_t c = 0; c < C; ++c) db[c] += dyr[ow * C + c];
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
        int64_t c = 0;
        for (; c < C; c += 8) {
          const bool tail = c + 8 > C;
          const __m256i mask = tail ? tail_mask(C - c) : _mm256_set1_epi32(-1);
          __m256 a0 = _mm256_maskload_ps(dwp + c, mask), a1 = _mm256_setzero_ps();
          int64_t ow = ow_lo;
          // two chains: alternate pixels, so consecutive FMAs do not wait on each other
          for (; ow + 1 < ow_hi; ow += 2) {
            const float* xp = xr + (ow * g.sw + off) * C + c;
            const float* dp = dyr + ow * C + c;
            a0 = _mm256_fmadd_ps(_mm256_maskload_ps(xp, mask), _mm256_maskload_ps(dp, mask), a0);
            a1 = _mm256_fmadd_ps(_mm256_maskload_ps(xp + g.sw * C, mask),
                                 _mm256_maskload_ps(dp + C, mask), a1);
          }
          if (ow < ow_hi)
            a0 = _mm256_fmadd_ps(_mm256_maskload_ps(xr + (ow * g.sw + off) * C + c, mask),
                                 _mm256_maskload_ps(dyr + ow * C + c, mask), a0);
          _mm256_maskstore_ps(dwp + c, mask, _mm256_add_ps(a0, a1));
        }
      }
    }
  }
}

}  // namespace corenn::cpu::avx2

namespace corenn::cpu::avx2 {
// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const DepthwiseRows kDepthwiseRows{true, depthwise_forward_rows_dm1, depthwise_data_rows_dm1,
                                     depthwise_weights_rows_dm1};
}  // namespace corenn::cpu::avx2
