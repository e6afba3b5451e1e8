// 3-D pooling kernels (CPU), NDHWC float32, forward and backward (ops/pool3d.h).
//
//   max:  y[n,a,b,e,c] = max over the window cells (d, h, w) of x[n,d,h,w,c]; argmax = (d*H + h)*W
//         + w of the first maximum in window order (strict >, ties keep the earlier cell; NaN wins:
//         a cell wins when !(v <= m) && m == m, as max_pool2d).
//         dx[n,d,h,w,c] = sum over windows whose argmax names (d, h, w) of dy
//   avg:  y = (1 / count) * sum over the window's real cells; dx = sum over covering windows of
//         dy / count (count: the window's cells inside the volume).
// Window (a, b, e) starts at (a*SD - pf, b*SH - pt, e*SW - pl) and is clipped to the volume.
// Forward: threads over output rows (n, a, b), each window's inner loop runs along C (unit stride).
// Backward: a scatter, one thread per volume (volumes are disjoint in dx, so no atomics and sums
// that do not depend on the thread count).
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/pool3d.h"

namespace corenn::cpu {

namespace {

// The real cells [lo, hi) of window i along one axis.
struct Range {
  int64_t lo, hi;
};
Range window(int64_t i, int64_t pad, int64_t k, int64_t stride, int64_t in) {
  const int64_t start = i * stride - pad;
  return {std::max<int64_t>(start, 0), std::min<int64_t>(start + k, in)};
}

struct Window {
  Range d, h, w;
  int64_t cells() const { return (d.hi - d.lo) * (h.hi - h.lo) * (w.hi - w.lo); }
};

// Output cell (a, b, e)'s window.
Window window_of(const Pool3dGeom& g, int64_t a, int64_t b, int64_t e) {
  return {window(a, g.pf, g.kd, g.sd, g.d), window(b, g.pt, g.kh, g.sh, g.h),
          window(e, g.pl, g.kw, g.sw, g.w)};
}

// Calls f(r, a, b, n) for the output rows r = (n, a, b) of [lo, hi) (r counts them in order).
template <class F>
void for_rows(const Pool3dGeom& g, int64_t lo, int64_t hi, const F& f) {
  for (int64_t r = lo; r < hi; ++r) f(r, (r / g.oh) % g.od, r % g.oh, r / (g.oh * g.od));
}

int64_t row_grain(const Pool3dGeom& g) {
  const int64_t work = std::max<int64_t>(1, g.ow * g.kd * g.kh * g.kw * g.c);
  return std::max<int64_t>(1, 16384 / work);
}

// The forward of both: y (and argmax, kMax) of each output cell from its window's cells.
template <bool kMax>
void pool_forward(const Pool3dGeom& g, const float* x, float* y, int32_t* argmax) {
  const int64_t rows = g.n * g.od * g.oh;
  parallel_for(0, rows, row_grain(g), [&](int64_t lo, int64_t hi) {
    for_rows(g, lo, hi, [&](int64_t r, int64_t a, int64_t b, int64_t n) {
      const float* xn = x + n * g.d * g.h * g.w * g.c;
      for (int64_t e = 0; e < g.ow; ++e) {
        const Window win = window_of(g, a, b, e);
        float* yc = y + (r * g.ow + e) * g.c;
        int32_t* am = kMax ? argmax + (r * g.ow + e) * g.c : nullptr;
        bool first = true;
        for (int64_t d = win.d.lo; d < win.d.hi; ++d)
          for (int64_t h = win.h.lo; h < win.h.hi; ++h)
            for (int64_t w = win.w.lo; w < win.w.hi; ++w) {
              const int64_t cell = (d * g.h + h) * g.w + w;
              const float* xc = xn + cell * g.c;
              for (int64_t c = 0; c < g.c; ++c) {
                const float v = xc[c], m = yc[c];
                if (!kMax) {
                  yc[c] = first ? v : m + v;
                } else if (first || (!(v <= m) && m == m)) {
                  yc[c] = v;
                  am[c] = static_cast<int32_t>(cell);
                }
              }
              first = false;
            }
        if (!kMax) {
          const float scale = 1.0f / static_cast<float>(win.cells());
          for (int64_t c = 0; c < g.c; ++c) yc[c] *= scale;
        }
      }
    });
  });
}

// The backward of both: each volume n's dx zeroed, then f(n, window, at, dx of volume n) for its
// output cells in order, `at` the offset of the cell's channels in dy. One thread per volume.
template <class F>
void scatter_windows(const Pool3dGeom& g, float* dx, const F& f) {
  const int64_t volume = g.d * g.h * g.w * g.c, out_volume = g.od * g.oh * g.ow;
  parallel_for(0, g.n, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; ++n) {
      float* dxn = dx + n * volume;
      std::memset(dxn, 0, sizeof(float) * volume);
      for (int64_t o = 0; o < out_volume; ++o) {
        const int64_t e = o % g.ow, b = (o / g.ow) % g.oh, a = o / (g.ow * g.oh);
        f(n, window_of(g, a, b, e), (n * out_volume + o) * g.c, dxn);
      }
    }
  });
}

}  // namespace

void max_pool3d_forward(const Pool3dGeom& g, const float* x, float* y, int32_t* argmax) {
  pool_forward<true>(g, x, y, argmax);
}

void avg_pool3d_forward(const Pool3dGeom& g, const float* x, float* y) {
  pool_forward<false>(g, x, y, nullptr);
}

int64_t max_pool3d_backward(const Pool3dGeom& g, const float* dy, const int32_t* argmax,
                            float* dx) {
  std::vector<int64_t> bad_per_volume(static_cast<size_t>(g.n), -1);
  scatter_windows(g, dx, [&](int64_t n, const Window& win, int64_t at, float* dxn) {
    for (int64_t c = 0; c < g.c; ++c) {
      const int64_t cell = argmax[at + c];
      const int64_t w = cell % g.w, h = (cell / g.w) % g.h, d = cell / (g.w * g.h);
      if (cell < 0 || d < win.d.lo || d >= win.d.hi || h < win.h.lo || h >= win.h.hi ||
          w < win.w.lo || w >= win.w.hi) {
        if (bad_per_volume[n] < 0) bad_per_volume[n] = at + c;
        continue;
      }
      dxn[cell * g.c + c] += dy[at + c];
    }
  });
  for (int64_t bad : bad_per_volume)
    if (bad >= 0) return bad;
  return -1;
}

void avg_pool3d_backward(const Pool3dGeom& g, const float* dy, float* dx) {
  scatter_windows(g, dx, [&](int64_t, const Window& win, int64_t at, float* dxn) {
    const float scale = 1.0f / static_cast<float>(win.cells());
    for (int64_t d = win.d.lo; d < win.d.hi; ++d)
      for (int64_t h = win.h.lo; h < win.h.hi; ++h)
        for (int64_t w = win.w.lo; w < win.w.hi; ++w) {
          float* dxc = dxn + ((d * g.h + h) * g.w + w) * g.c;
          for (int64_t c = 0; c < g.c; ++c) dxc[c] += dy[at + c] * scale;
        }
  });
}

CORENN_REGISTER_KERNEL(max_pool3d_forward_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Pool3dGeom& g, const float* x, float* y,
                           int32_t* argmax) { max_pool3d_forward(g, x, y, argmax); });
CORENN_REGISTER_KERNEL(max_pool3d_backward_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Pool3dGeom& g, const float* dy,
                           const int32_t* argmax, float* dx) {
                         return max_pool3d_backward(g, dy, argmax, dx);
                       });
CORENN_REGISTER_KERNEL(avg_pool3d_forward_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Pool3dGeom& g, const float* x, float* y) {
                         avg_pool3d_forward(g, x, y);
                       });
CORENN_REGISTER_KERNEL(avg_pool3d_backward_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Pool3dGeom& g, const float* dy, float* dx) {
                         avg_pool3d_backward(g, dy, dx);
                       });

}  // namespace corenn::cpu
