// 2-D pooling kernels (CPU), NHWC float32, forward and backward.
//
//   max:  y[n,i,j,c] = max over the window cells (h, w) of x[n,h,w,c],  argmax = h*W + w of the
//         first maximum in row-major window order (strict >, so ties keep the earlier cell, as TF)
//         dx[n,h,w,c] = sum over windows (i, j) covering (h, w) of dy[n,i,j,c] * [argmax == h*W+w]
//   avg:  y[n,i,j,c] = (1 / count(i,j)) sum over the window's real cells of x[n,h,w,c]
//         dx[n,h,w,c] = sum over windows (i, j) covering (h, w) of dy[n,i,j,c] / count(i,j)
//   global avg / max: the same with one window covering the whole image, y is (N, C).
// Shapes: x, dx (N, H, W, C); y, dy, argmax (N, OH, OW, C); window KH x KW, strides SH x SW;
// window (i, j) starts at (i*SH - pad_top, j*SW - pad_left) and is clipped to the image, so padded
// cells neither win a max nor count in an average (Keras / TF semantics).
// Layout: contiguous NHWC, so every inner loop runs along C with unit stride and is left to the
// compiler's vectorizer (the ternaries below become blends).
// Backward is a gather, not a scatter: each thread owns whole input rows (n, h) of dx and sums the
// windows that cover them, so overlapping windows (stride < pool) need no atomics and the result
// does not depend on the thread count.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")  // let GCC if-convert the compare-and-select loops
#endif

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/pool2d.h"

namespace corenn::cpu {

namespace {

constexpr int64_t kWorkGrain = 16384;  // about this many element-visits per parallel chunk

int64_t grain_for(int64_t work_per_item) {
  return std::max<int64_t>(1, kWorkGrain / std::max<int64_t>(work_per_item, 1));
}

// Windows [lo, hi] (inclusive, maybe empty) along one axis that cover input position p.
struct Span {
  int64_t lo, hi;
};
Span covering(int64_t p, int64_t pad, int64_t k, int64_t stride, int64_t out) {
  const int64_t a = p + pad - k + 1;  // first window start that still reaches p
  const int64_t lo = a <= 0 ? 0 : (a + stride - 1) / stride;
  const int64_t hi = std::min<int64_t>((p + pad) / stride, out - 1);
  return {lo, hi};
}

// The real (unpadded) cells [lo, hi) of window i along one axis.
struct Range {
  int64_t lo, hi;
};
Range window(int64_t i, int64_t pad, int64_t k, int64_t stride, int64_t in) {
  const int64_t start = i * stride - pad;
  return {std::max<int64_t>(start, 0), std::min<int64_t>(start + k, in)};
}

}  // namespace

// ---- windowed pooling, forward ---------------------------------------------------------------

void max_pool2d_forward(const Pool2dGeom& g, const float* x, float* y, int32_t* argmax) {
  const int64_t C = g.c;
  parallel_for(0, g.n * g.oh, grain_for(g.ow * g.kh * g.kw * C), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t n = r / g.oh;
      const Range rh = window(r % g.oh, g.pad_top, g.kh, g.sh, g.h);
      for (int64_t j = 0; j < g.ow; ++j) {
        const Range rw = window(j, g.pad_left, g.kw, g.sw, g.w);
        float* __restrict yr = y + (r * g.ow + j) * C;
        int32_t* __restrict ar = argmax + (r * g.ow + j) * C;
        // Every window holds at least one real cell (TF's padding never exceeds k - 1).
        const int32_t first = static_cast<int32_t>(rh.lo * g.w + rw.lo);
        std::memcpy(yr, x + ((n * g.h + rh.lo) * g.w + rw.lo) * C, C * sizeof(float));
        for (int64_t c = 0; c < C; ++c) ar[c] = first;
        for (int64_t h = rh.lo; h < rh.hi; ++h) {
          for (int64_t w = rw.lo; w < rw.hi; ++w) {
            const float* __restrict xr = x + ((n * g.h + h) * g.w + w) * C;
            const int32_t idx = static_cast<int32_t>(h * g.w + w);
            for (int64_t c = 0; c < C; ++c) {
              const bool gt = xr[c] > yr[c];
              yr[c] = gt ? xr[c] : yr[c];
              ar[c] = gt ? idx : ar[c];
            }
          }
        }
      }
    }
  });
}

void avg_pool2d_forward(const Pool2dGeom& g, const float* x, float* y) {
  const int64_t C = g.c;
  parallel_for(0, g.n * g.oh, grain_for(g.ow * g.kh * g.kw * C), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t n = r / g.oh;
      const Range rh = window(r % g.oh, g.pad_top, g.kh, g.sh, g.h);
      for (int64_t j = 0; j < g.ow; ++j) {
        const Range rw = window(j, g.pad_left, g.kw, g.sw, g.w);
        float* __restrict yr = y + (r * g.ow + j) * C;
        std::fill(yr, yr + C, 0.0f);
        for (int64_t h = rh.lo; h < rh.hi; ++h) {
          for (int64_t w = rw.lo; w < rw.hi; ++w) {
            const float* __restrict xr = x + ((n * g.h + h) * g.w + w) * C;
            for (int64_t c = 0; c < C; ++c) yr[c] += xr[c];
          }
        }
        const float inv = 1.0f / static_cast<float>((rh.hi - rh.lo) * (rw.hi - rw.lo));
        for (int64_t c = 0; c < C; ++c) yr[c] *= inv;
      }
    }
  });
}

// ---- windowed pooling, backward (gather over covering windows) -------------------------------

void max_pool2d_backward(const Pool2dGeom& g, const float* dy, const int32_t* argmax, float* dx) {
  const int64_t C = g.c;
  std::vector<Span> cols(g.w);
  for (int64_t w = 0; w < g.w; ++w) cols[w] = covering(w, g.pad_left, g.kw, g.sw, g.ow);
  const int64_t per_row = g.w * C * (1 + (g.kh / g.sh + 1) * (g.kw / g.sw + 1));
  parallel_for(0, g.n * g.h, grain_for(per_row), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t n = r / g.h, h = r % g.h;
      const Span sh = covering(h, g.pad_top, g.kh, g.sh, g.oh);
      for (int64_t w = 0; w < g.w; ++w) {
        float* __restrict d = dx + (r * g.w + w) * C;
        std::fill(d, d + C, 0.0f);
        const int32_t idx = static_cast<int32_t>(h * g.w + w);
        for (int64_t i = sh.lo; i <= sh.hi; ++i) {
          for (int64_t j = cols[w].lo; j <= cols[w].hi; ++j) {
            const int64_t off = ((n * g.oh + i) * g.ow + j) * C;
            const float* __restrict gy = dy + off;
            const int32_t* __restrict a = argmax + off;
            for (int64_t c = 0; c < C; ++c) d[c] += a[c] == idx ? gy[c] : 0.0f;
          }
        }
      }
    }
  });
}

void avg_pool2d_backward(const Pool2dGeom& g, const float* dy, float* dx) {
  const int64_t C = g.c;
  std::vector<Span> cols(g.w);
  std::vector<float> col_count(g.ow);
  for (int64_t w = 0; w < g.w; ++w) cols[w] = covering(w, g.pad_left, g.kw, g.sw, g.ow);
  for (int64_t j = 0; j < g.ow; ++j) {
    const Range rw = window(j, g.pad_left, g.kw, g.sw, g.w);
    col_count[j] = static_cast<float>(rw.hi - rw.lo);
  }
  const int64_t per_row = g.w * C * (1 + (g.kh / g.sh + 1) * (g.kw / g.sw + 1));
  parallel_for(0, g.n * g.h, grain_for(per_row), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t n = r / g.h, h = r % g.h;
      const Span sh = covering(h, g.pad_top, g.kh, g.sh, g.oh);
      for (int64_t w = 0; w < g.w; ++w) {
        float* __restrict d = dx + (r * g.w + w) * C;
        std::fill(d, d + C, 0.0f);
        for (int64_t i = sh.lo; i <= sh.hi; ++i) {
          const Range rh = window(i, g.pad_top, g.kh, g.sh, g.h);
          const float rows = static_cast<float>(rh.hi - rh.lo);
          for (int64_t j = cols[w].lo; j <= cols[w].hi; ++j) {
            const float* __restrict gy = dy + ((n * g.oh + i) * g.ow + j) * C;
            const float scale = 1.0f / (rows * col_count[j]);
            for (int64_t c = 0; c < C; ++c) d[c] += gy[c] * scale;
          }
        }
      }
    }
  });
}

// ---- global pooling ----------------------------------------------------------------------------
// Forward splits over (n, channel block) so one large image still uses every thread; each task
// walks the H*W rows of its block once, accumulating into y (C-contiguous, vectorized).

namespace {
constexpr int64_t kChannelBlock = 64;

template <class F>
void over_channel_blocks(int64_t n, int64_t hw, int64_t c, const F& f) {
  const int64_t blocks = (c + kChannelBlock - 1) / kChannelBlock;
  parallel_for(0, n * blocks, grain_for(hw * std::min(c, kChannelBlock)), [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t c0 = (t % blocks) * kChannelBlock;
      f(t / blocks, c0, std::min(c, c0 + kChannelBlock));
    }
  });
}
}  // namespace

void global_avg_pool2d_forward(int64_t n, int64_t hw, int64_t c, const float* x, float* y) {
  const float inv = 1.0f / static_cast<float>(hw);
  over_channel_blocks(n, hw, c, [&](int64_t b, int64_t c0, int64_t c1) {
    float* __restrict yr = y + b * c;
    std::fill(yr + c0, yr + c1, 0.0f);
    for (int64_t p = 0; p < hw; ++p) {
      const float* __restrict xr = x + (b * hw + p) * c;
      for (int64_t k = c0; k < c1; ++k) yr[k] += xr[k];
    }
    for (int64_t k = c0; k < c1; ++k) yr[k] *= inv;
  });
}

void global_max_pool2d_forward(int64_t n, int64_t hw, int64_t c, const float* x, float* y,
                               int32_t* argmax) {
  over_channel_blocks(n, hw, c, [&](int64_t b, int64_t c0, int64_t c1) {
    float* __restrict yr = y + b * c;
    int32_t* __restrict ar = argmax + b * c;
    std::copy(x + b * hw * c + c0, x + b * hw * c + c1, yr + c0);
    std::fill(ar + c0, ar + c1, 0);
    for (int64_t p = 1; p < hw; ++p) {
      const float* __restrict xr = x + (b * hw + p) * c;
      const int32_t idx = static_cast<int32_t>(p);
      for (int64_t k = c0; k < c1; ++k) {
        const bool gt = xr[k] > yr[k];
        yr[k] = gt ? xr[k] : yr[k];
        ar[k] = gt ? idx : ar[k];
      }
    }
  });
}

void global_avg_pool2d_backward(int64_t n, int64_t hw, int64_t c, const float* dy, float* dx) {
  const float inv = 1.0f / static_cast<float>(hw);
  parallel_for(0, n * hw, grain_for(c), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* __restrict g = dy + (r / hw) * c;
      float* __restrict d = dx + r * c;
      for (int64_t k = 0; k < c; ++k) d[k] = g[k] * inv;
    }
  });
}

void global_max_pool2d_backward(int64_t n, int64_t hw, int64_t c, const float* dy,
                                const int32_t* argmax, float* dx) {
  parallel_for(0, n * hw, grain_for(c), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* __restrict g = dy + (r / hw) * c;
      const int32_t* __restrict a = argmax + (r / hw) * c;
      const int32_t idx = static_cast<int32_t>(r % hw);
      float* __restrict d = dx + r * c;
      for (int64_t k = 0; k < c; ++k) d[k] = a[k] == idx ? g[k] : 0.0f;
    }
  });
}

}  // namespace corenn::cpu
