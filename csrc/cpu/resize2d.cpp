// Resize kernels (CPU), NHWC float32; the math is in ops/resize2d.h.
//
// Both interpolations are separable: each output row / column reads two source rows / columns of
// the window with weights (1 - a, a) (nearest: one source, a = 0). The per-axis tables are built
// once per call.
// forward   parallel over output rows; each output pixel blends its four (or one) sources.
// backward  the transposed forward in two separable passes, as in upsample2d: pass 1 spreads each
//           dy row along W into a (N, OH, ww, C) temporary (rows independent); pass 2 gathers,
//           for each dx row, the temporary rows that read it (an inverted row table). No scatter
//           across threads and a fixed summation order: the same bits for any thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "ops/resize2d.h"

namespace corenn::cpu {

namespace {

constexpr int64_t kGrainFloats = 32768;
int64_t grain(int64_t per_row) { return std::max<int64_t>(1, kGrainFloats / std::max<int64_t>(per_row, 1)); }

// Sources of one output coordinate along one axis, as window offsets.
struct Tap {
  int64_t i0, i1;
  float a;  // weight of i1; i0 gets 1 - a
};

// Float32 arithmetic as TF's resize kernels, so ties and edges land where Keras puts them.
std::vector<Tap> taps(int64_t in, int64_t out, bool bilinear) {
  std::vector<Tap> t(static_cast<size_t>(out));
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t o = 0; o < out; ++o) {
    if (bilinear) {
      const float src = std::min(std::max((static_cast<float>(o) + 0.5f) * scale - 0.5f, 0.0f),
                                 static_cast<float>(in - 1));
      // min: float(in - 1) rounds up past in - 1 once in exceeds 2^24
      const int64_t i0 = std::min(static_cast<int64_t>(src), in - 1);
      t[o] = {i0, std::min(i0 + 1, in - 1), src - static_cast<float>(i0)};
    } else {
      const int64_t i = static_cast<int64_t>(std::floor((static_cast<float>(o) + 0.5f) * scale));
      t[o] = {std::min(i, in - 1), std::min(i, in - 1), 0.0f};
    }
  }
  return t;
}

// For each source row r of the window, the output rows that read it and with which weight.
struct Inverted {
  std::vector<int64_t> start, out;
  std::vector<float> weight;
};

Inverted invert(const std::vector<Tap>& taps, int64_t in) {
  Inverted inv;
  inv.start.assign(static_cast<size_t>(in + 1), 0);
  for (const Tap& t : taps) { ++inv.start[t.i0 + 1]; ++inv.start[t.i1 + 1]; }
  for (int64_t r = 0; r < in; ++r) inv.start[r + 1] += inv.start[r];
  std::vector<int64_t> fill(inv.start.begin(), inv.start.end() - 1);
  inv.out.resize(inv.start[in]);
  inv.weight.resize(inv.start[in]);
  for (int64_t o = 0; o < static_cast<int64_t>(taps.size()); ++o) {  // ascending o: a fixed order
    const Tap& t = taps[o];
    inv.out[fill[t.i0]] = o; inv.weight[fill[t.i0]++] = 1.0f - t.a;
    inv.out[fill[t.i1]] = o; inv.weight[fill[t.i1]++] = t.a;
  }
  return inv;
}

}  // namespace

void resize2d_forward(const float* x, float* y, const Resize2dShape& s, bool bilinear) {
  const int64_t c = s.c;
  const std::vector<Tap> th = taps(s.wh, s.oh, bilinear), tw = taps(s.ww, s.ow, bilinear);
  parallel_for(0, s.n * s.oh, grain(s.ow * c), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const Tap& v = th[r % s.oh];
      const float* img = x + (r / s.oh) * s.h * s.w * c + s.left * c;
      const float* r0 = img + (s.top + v.i0) * s.w * c;
      const float* r1 = img + (s.top + v.i1) * s.w * c;
      float* yr = y + r * s.ow * c;
      for (int64_t j = 0; j < s.ow; ++j) {
        const Tap& u = tw[j];
        const float *x00 = r0 + u.i0 * c, *x01 = r0 + u.i1 * c;
        const float *x10 = r1 + u.i0 * c, *x11 = r1 + u.i1 * c;
        float* out = yr + j * c;
        for (int64_t ch = 0; ch < c; ++ch) {
          const float top = (1.0f - u.a) * x00[ch] + u.a * x01[ch];
          const float bottom = (1.0f - u.a) * x10[ch] + u.a * x11[ch];
          out[ch] = (1.0f - v.a) * top + v.a * bottom;
        }
      }
    }
  });
}

void resize2d_backward(const float* dy, float* dx, const Resize2dShape& s, bool bilinear) {
  const int64_t c = s.c, wrow = s.ww * c;
  const std::vector<Tap> th = taps(s.wh, s.oh, bilinear), tw = taps(s.ww, s.ow, bilinear);
  const Inverted rows = invert(th, s.wh);
  std::vector<float> t(static_cast<size_t>(s.n * s.oh * wrow));
  parallel_for(0, s.n * s.oh, grain(s.ow * c), [&](int64_t lo, int64_t hi) {  // along W
    for (int64_t r = lo; r < hi; ++r) {
      const float* src = dy + r * s.ow * c;
      float* tr = t.data() + r * wrow;
      std::fill(tr, tr + wrow, 0.0f);
      for (int64_t j = 0; j < s.ow; ++j) {
        const Tap& u = tw[j];
        const float* g = src + j * c;
        float *t0 = tr + u.i0 * c, *t1 = tr + u.i1 * c;
        for (int64_t ch = 0; ch < c; ++ch) t0[ch] += (1.0f - u.a) * g[ch];
        for (int64_t ch = 0; ch < c; ++ch) t1[ch] += u.a * g[ch];
      }
    }
  });
  parallel_for(0, s.n * s.h, grain(s.w * c * 4), [&](int64_t lo, int64_t hi) {  // along H
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t b = r / s.h, i = r % s.h - s.top;
      float* dr = dx + r * s.w * c;
      std::fill(dr, dr + s.w * c, 0.0f);
      if (i < 0 || i >= s.wh) continue;
      float* dwin = dr + s.left * c;
      for (int64_t e = rows.start[i]; e < rows.start[i + 1]; ++e) {
        const float wt = rows.weight[e];
        const float* tr = t.data() + (b * s.oh + rows.out[e]) * wrow;
        for (int64_t k = 0; k < wrow; ++k) dwin[k] += wt * tr[k];
      }
    }
  });
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(resize2d_forward_stub, Slot::cpu_ref, resize2d_forward);
CORENN_REGISTER_KERNEL(resize2d_backward_stub, Slot::cpu_ref, resize2d_backward);
}  // namespace corenn::cpu
