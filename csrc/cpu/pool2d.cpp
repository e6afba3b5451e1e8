// 2-D pooling kernels (CPU), NHWC float32, forward and backward.
//
//   max:  y[n,i,j,c] = max over the window cells (h, w) of x[n,h,w,c],  argmax = h*W + w of the
//         first maximum in row-major window order (strict >, so ties keep the earlier cell, as TF)
//         NaN is the largest value (as PyTorch's max_pool2d and NumPy's max / argmax): a window
//         holding one is NaN and its argmax is its first NaN, so backward routes dy there. A cell
//         wins when !(v <= m) && m == m: greater, or NaN while the max is not NaN yet.
//         dx[n,h,w,c] = sum over windows (i, j) covering (h, w) of dy[n,i,j,c] * [argmax == h*W+w]
//   avg:  y[n,i,j,c] = (1 / count(i,j)) sum over the window's real cells of x[n,h,w,c]
//         dx[n,h,w,c] = sum over windows (i, j) covering (h, w) of dy[n,i,j,c] / count(i,j)
//   global avg / max: the same with one window covering the whole image, y is (N, C).
// Shapes: x, dx (N, H, W, C); y, dy, argmax (N, OH, OW, C); window KH x KW, strides SH x SW;
// window (i, j) starts at (i*SH - pad_top, j*SW - pad_left) and is clipped to the image, so padded
// cells neither win a max nor count in an average (Keras / TF semantics).
// Layout: contiguous NHWC, so every inner loop runs along C with unit stride and is written so
// GCC vectorizes it on the baseline ISA (4-wide SSE2). Variants: max pooling's per-window / per-cell
// loops come from max_pool2d_cells_stub: with AVX2 from pool2d_avx2.cpp (8 wide, max and argmax
// kept in registers over the whole window: 64x28x28x32 2x2 forward 1.5 -> 0.4 ms on one core),
// with AVX-512 from pool2d_avx512.cpp (16 wide, masked channel tails); average pooling's (window
// sum, gradient gather; also the global average) from avg_pool2d_cells_stub (AVX-512 likewise);
// the *_ref functions here are the portable path and define the contract.
// Backward is a gather, not a scatter: each thread owns whole input rows (n, h) of dx and sums the
// windows that cover them, so overlapping windows (stride < pool) need no atomics and the result
// does not depend on the thread count.

#include <algorithm>
#include <atomic>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "core/parallel.h"
#include "ops/pool2d.h"

namespace corenn::cpu {

namespace {

constexpr int64_t kWorkGrain = 16384;  // about this many element-visits per parallel chunk

int64_t grain_for(int64_t work_per_item) {
  return std::max<int64_t>(1, kWorkGrain / std::max<int64_t>(work_per_item, 1));
}

// Element-visits of one item made of `factors`, multiplied in double and saturated: a grain only
// needs the order of magnitude, and the entry allows windows (pool_size up to 2^62) whose product
// with the other sizes would overflow int64.
int64_t work_of(std::initializer_list<int64_t> factors) {
  double work = 1.0;
  for (int64_t f : factors) work *= static_cast<double>(f);
  return work >= 1e18 ? static_cast<int64_t>(1e18) : static_cast<int64_t>(work);
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

// Reference inner loops (the AVX2 twins in pool2d_avx2.cpp have the same contracts).
// max_pool_cell: y[c], am[c] = max and first argmax over rows x cols cells; cell (r, q) is at
// x + r * row_stride + q * cell_stride, index first_idx + r * idx_row_step + q.
void max_pool_cell_ref(const float* x, int64_t cell_stride, int64_t row_stride, int64_t rows,
                       int64_t cols, int32_t first_idx, int32_t idx_row_step, int64_t nc,
                       float* __restrict y, int32_t* __restrict am) {
  for (int64_t c = 0; c < nc; ++c) {
    y[c] = x[c];
    am[c] = first_idx;
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t q = 0; q < cols; ++q) {
      const float* __restrict xr = x + r * row_stride + q * cell_stride;
      const int32_t idx = first_idx + static_cast<int32_t>(r) * idx_row_step + static_cast<int32_t>(q);
      // written as an integer mask so GCC vectorizes it (a float-compare-selects-int ternary
      // stays scalar and branchy)
      for (int64_t c = 0; c < nc; ++c) {
        const float v = xr[c], m = y[c];
        const bool wins = !(v <= m) && m == m;  // v > m, or v is the first NaN
        const int32_t gt = -static_cast<int32_t>(wins);  // all ones where v wins
        y[c] = wins ? v : m;
        am[c] = (idx & gt) | (am[c] & ~gt);
      }
    }
  }
}

// max_grad_cell: d[c] = sum over ni x nj windows (i, j) of dy[off + c] * [am[off + c] == idx],
// off = i * i_stride + j * j_stride.
void max_grad_cell_ref(const float* dy, const int32_t* am, int64_t i_stride, int64_t j_stride,
                       int64_t ni, int64_t nj, int32_t idx, int64_t nc, float* __restrict d) {
  std::fill(d, d + nc, 0.0f);
  for (int64_t i = 0; i < ni; ++i) {
    for (int64_t j = 0; j < nj; ++j) {
      const float* __restrict gy = dy + i * i_stride + j * j_stride;
      const int32_t* __restrict a = am + i * i_stride + j * j_stride;
      for (int64_t c = 0; c < nc; ++c) {
        const float v = gy[c];  // loaded unconditionally, so the select can be vectorized
        d[c] += a[c] == idx ? v : 0.0f;
      }
    }
  }
}

// avg_sum_cell: y[c] = scale * sum over rows x cols cells (laid out as in max_pool_cell_ref).
void avg_sum_cell_ref(const float* x, int64_t cell_stride, int64_t row_stride, int64_t rows,
                      int64_t cols, float scale, int64_t nc, float* __restrict y) {
  std::fill(y, y + nc, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t q = 0; q < cols; ++q) {
      const float* __restrict xr = x + r * row_stride + q * cell_stride;
      for (int64_t c = 0; c < nc; ++c) y[c] += xr[c];
    }
  }
  for (int64_t c = 0; c < nc; ++c) y[c] *= scale;
}

// avg_grad_cell: d[c] = sum over ni x nj windows of dy[off + c] / (row_count[i] * col_count[j]).
void avg_grad_cell_ref(const float* dy, int64_t i_stride, int64_t j_stride, int64_t ni, int64_t nj,
                       const float* row_count, const float* col_count, int64_t nc,
                       float* __restrict d) {
  std::fill(d, d + nc, 0.0f);
  for (int64_t i = 0; i < ni; ++i) {
    for (int64_t j = 0; j < nj; ++j) {
      const float* __restrict gy = dy + i * i_stride + j * j_stride;
      const float scale = 1.0f / (row_count[i] * col_count[j]);
      for (int64_t c = 0; c < nc; ++c) d[c] += gy[c] * scale;
    }
  }
}

}  // namespace

namespace {
constexpr MaxPoolCells kRefCells{max_pool_cell_ref, max_grad_cell_ref, nullptr};
constexpr AvgPoolCells kRefAvgCells{avg_sum_cell_ref, avg_grad_cell_ref};
}  // namespace

// ---- windowed pooling, forward ---------------------------------------------------------------

void max_pool2d_forward(const Pool2dGeom& g, const float* x, float* y, int32_t* argmax) {
  const int64_t C = g.c;
  const auto cell = max_pool2d_cells_stub.cpu()->pool_cell;
  parallel_for(0, g.n * g.oh, grain_for(work_of({g.ow, std::min(g.kh, g.h), std::min(g.kw, g.w), C})), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t n = r / g.oh;
      const Range rh = window(r % g.oh, g.pad_top, g.kh, g.sh, g.h);
      for (int64_t j = 0; j < g.ow; ++j) {
        const Range rw = window(j, g.pad_left, g.kw, g.sw, g.w);
        // Every window holds at least one real cell (TF's padding never exceeds k - 1).
        cell(x + ((n * g.h + rh.lo) * g.w + rw.lo) * C, C, g.w * C, rh.hi - rh.lo, rw.hi - rw.lo,
             static_cast<int32_t>(rh.lo * g.w + rw.lo), static_cast<int32_t>(g.w), C,
             y + (r * g.ow + j) * C, argmax + (r * g.ow + j) * C);
      }
    }
  });
}

void avg_pool2d_forward(const Pool2dGeom& g, const float* x, float* y) {
  const int64_t C = g.c;
  const auto cell = avg_pool2d_cells_stub.cpu()->sum_cell;
  parallel_for(0, g.n * g.oh, grain_for(work_of({g.ow, std::min(g.kh, g.h), std::min(g.kw, g.w), C})), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t n = r / g.oh;
      const Range rh = window(r % g.oh, g.pad_top, g.kh, g.sh, g.h);
      for (int64_t j = 0; j < g.ow; ++j) {
        const Range rw = window(j, g.pad_left, g.kw, g.sw, g.w);
        const float inv = 1.0f / static_cast<float>((rh.hi - rh.lo) * (rw.hi - rw.lo));
        cell(x + ((n * g.h + rh.lo) * g.w + rw.lo) * C, C, g.w * C, rh.hi - rh.lo, rw.hi - rw.lo,
             inv, C, y + (r * g.ow + j) * C);
      }
    }
  });
}

// ---- argmax validation (backward entries) ----------------------------------------------------
// The backward gather routes dy only to the cell its argmax names, so an argmax that is not a cell
// of its own window would drop that gradient silently. The entries reject such an argmax first:
// per window, every channel's index must fall in one of the window's row segments
// [base + r*W, base + r*W + cols). Blocks of 64 channels keep the compares in vectorizable loops
// (no division); the pass reads argmax once, a fraction of the backward's own traffic.

namespace {
// Whether any of a[0..nc) is outside rows x cols cells starting at `base` (row stride `w`). One
// unsigned compare per row and channel ((a - lo) < cols as uint32 is lo <= a < lo + cols) and an
// OR reduction, which the compiler vectorizes when the row count is a constant (R > 0).
template <int R>
bool any_outside(const int32_t* a, int64_t nc, uint32_t base, int64_t rows, uint32_t cols, uint32_t w) {
  const int64_t nr = R > 0 ? R : rows;
  uint32_t outside = 0;
  for (int64_t c = 0; c < nc; ++c) {
    const uint32_t d = static_cast<uint32_t>(a[c]) - base;
    uint32_t inside = 0;
    for (int64_t r = 0; r < nr; ++r) inside |= d - static_cast<uint32_t>(r) * w < cols;
    outside |= inside ^ 1u;
  }
  return outside != 0;
}

// The first channel of a[0..nc) outside the window, or -1 (the exact search runs only on a hit).
int64_t first_outside(const int32_t* a, int64_t nc, int64_t base, int64_t rows, int64_t cols, int64_t w) {
  const uint32_t b = static_cast<uint32_t>(base), n = static_cast<uint32_t>(cols),
                 s = static_cast<uint32_t>(w);
  const bool bad = rows == 1   ? any_outside<1>(a, nc, b, 1, n, s)
                   : rows == 2 ? any_outside<2>(a, nc, b, 2, n, s)
                   : rows == 3 ? any_outside<3>(a, nc, b, 3, n, s)
                               : any_outside<0>(a, nc, b, rows, n, s);
  if (!bad) return -1;
  for (int64_t c = 0; c < nc; ++c)
    if (any_outside<0>(a + c, 1, b, rows, n, s)) return c;
  return -1;
}

// Records `flat` in `first` if it is smaller than what another thread found.
void keep_smallest(std::atomic<int64_t>& first, int64_t flat) {
  int64_t seen = first.load();
  while ((seen < 0 || flat < seen) && !first.compare_exchange_weak(seen, flat)) {
  }
}
}  // namespace

// Indices are < H*W <= 2^31 (int32 argmax, checked by the entries), so the uint32 arithmetic
// above is exact. Threads take rows (n, i) of windows; the columns' windows follow without a
// division per window.
int64_t max_pool2d_first_bad_argmax(const Pool2dGeom& g, const int32_t* argmax) {
  std::atomic<int64_t> first{-1};
  parallel_for(0, g.n * g.oh, g.n * g.oh, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const Range rh = window(r % g.oh, g.pad_top, g.kh, g.sh, g.h);
      for (int64_t j = 0; j < g.ow; ++j) {
        const Range rw = window(j, g.pad_left, g.kw, g.sw, g.w);
        const int64_t k = r * g.ow + j;
        const int64_t c = first_outside(argmax + k * g.c, g.c, rh.lo * g.w + rw.lo, rh.hi - rh.lo,
                                        rw.hi - rw.lo, g.w);
        if (c >= 0) return keep_smallest(first, k * g.c + c);  // later windows: larger indices
      }
    }
  });
  return first.load();
}

int64_t global_max_pool2d_first_bad_argmax(int64_t n, int64_t hw, int64_t c, const int32_t* argmax) {
  std::atomic<int64_t> first{-1};
  parallel_for(0, n, grain_for(c * 2), [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      const int64_t bad = first_outside(argmax + b * c, c, 0, 1, hw, hw);
      if (bad >= 0) return keep_smallest(first, b * c + bad);
    }
  });
  return first.load();
}

// ---- windowed pooling, backward (gather over covering windows) -------------------------------

bool max_pool2d_backward(const Pool2dGeom& g, const float* dy, const int32_t* argmax, float* dx) {
  const int64_t C = g.c;
  const MaxPoolCells& cells = *max_pool2d_cells_stub.cpu();
  if (cells.grad_row_tiled && g.sh == g.kh && g.sw == g.kw && g.pad_top == 0 && g.pad_left == 0) {
    // Windows tile the image (the usual 2x2 / 2): each input row reads one window row, no search.
    std::atomic<int64_t> routed{0};
    parallel_for(0, g.n * g.h, grain_for(g.w * C), [&](int64_t lo, int64_t hi) {
      int64_t mine = 0;
      for (int64_t r = lo; r < hi; ++r) {
        const int64_t n = r / g.h, h = r % g.h, i = h / g.kh;
        float* row = dx + r * g.w * C;
        if (i >= g.oh) {
          std::memset(row, 0, sizeof(float) * g.w * C);
          continue;
        }
        const int64_t off = (n * g.oh + i) * g.ow * C;
        mine += cells.grad_row_tiled(dy + off, argmax + off, g.w, g.kw, g.ow,
                                         static_cast<int32_t>(h * g.w), C, row);
      }
      routed += mine;
    });
    return routed.load() == g.n * g.oh * g.ow * C;
  }
  const auto cell = cells.grad_cell;
  std::vector<Span> cols(g.w);
  for (int64_t w = 0; w < g.w; ++w) cols[w] = covering(w, g.pad_left, g.kw, g.sw, g.ow);
  const int64_t per_row = work_of({g.w, C, 1 + std::min(g.kh / g.sh + 1, g.oh) * std::min(g.kw / g.sw + 1, g.ow)});
  parallel_for(0, g.n * g.h, grain_for(per_row), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t n = r / g.h, h = r % g.h;
      const Span sh = covering(h, g.pad_top, g.kh, g.sh, g.oh);
      for (int64_t w = 0; w < g.w; ++w) {
        const int64_t off = ((n * g.oh + sh.lo) * g.ow + cols[w].lo) * C;
        cell(dy + off, argmax + off, g.ow * C, C, std::max<int64_t>(sh.hi - sh.lo + 1, 0),
             std::max<int64_t>(cols[w].hi - cols[w].lo + 1, 0), static_cast<int32_t>(h * g.w + w),
             C, dx + (r * g.w + w) * C);
      }
    }
  });
  return false;  // these loops cannot tell: the entry checks the argmax itself
}

void avg_pool2d_backward(const Pool2dGeom& g, const float* dy, float* dx) {
  const int64_t C = g.c;
  const auto cell = avg_pool2d_cells_stub.cpu()->grad_cell;
  std::vector<Span> cols(g.w);
  std::vector<float> row_count(g.oh), col_count(g.ow);
  for (int64_t w = 0; w < g.w; ++w) cols[w] = covering(w, g.pad_left, g.kw, g.sw, g.ow);
  for (int64_t i = 0; i < g.oh; ++i) {
    const Range rh = window(i, g.pad_top, g.kh, g.sh, g.h);
    row_count[i] = static_cast<float>(rh.hi - rh.lo);
  }
  for (int64_t j = 0; j < g.ow; ++j) {
    const Range rw = window(j, g.pad_left, g.kw, g.sw, g.w);
    col_count[j] = static_cast<float>(rw.hi - rw.lo);
  }
  const int64_t per_row = work_of({g.w, C, 1 + std::min(g.kh / g.sh + 1, g.oh) * std::min(g.kw / g.sw + 1, g.ow)});
  parallel_for(0, g.n * g.h, grain_for(per_row), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t n = r / g.h, h = r % g.h;
      const Span sh = covering(h, g.pad_top, g.kh, g.sh, g.oh);
      const int64_t ni = std::max<int64_t>(sh.hi - sh.lo + 1, 0);
      for (int64_t w = 0; w < g.w; ++w) {
        const int64_t nj = std::max<int64_t>(cols[w].hi - cols[w].lo + 1, 0);
        // an empty span (a cell no window covers) leaves lo past the end: point at the start
        const int64_t off = ni > 0 && nj > 0 ? ((n * g.oh + sh.lo) * g.ow + cols[w].lo) * C : 0;
        cell(dy + off, g.ow * C, C, ni, nj, row_count.data() + (ni > 0 ? sh.lo : 0),
             col_count.data() + (nj > 0 ? cols[w].lo : 0), C, dx + (r * g.w + w) * C);
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
  const auto cell = avg_pool2d_cells_stub.cpu()->sum_cell;
  over_channel_blocks(n, hw, c, [&](int64_t b, int64_t c0, int64_t c1) {
    // the image as one row of hw cells
    cell(x + b * hw * c + c0, c, 0, 1, hw, inv, c1 - c0, y + b * c + c0);
  });
}

void global_max_pool2d_forward(int64_t n, int64_t hw, int64_t c, const float* x, float* y,
                               int32_t* argmax) {
  const auto cell = max_pool2d_cells_stub.cpu()->pool_cell;
  over_channel_blocks(n, hw, c, [&](int64_t b, int64_t c0, int64_t c1) {
    // the image as one row of hw cells
    cell(x + b * hw * c + c0, c, 0, 1, hw, 0, 0, c1 - c0, y + b * c + c0, argmax + b * c + c0);
  });
}

void global_avg_pool2d_backward(int64_t n, int64_t hw, int64_t c, const float* dy, float* dx) {
  // one window of hw cells: its count as rows = hw, cols = 1 (the scale is 1 / hw)
  const float rows = static_cast<float>(hw), one = 1.0f;
  const auto cell = avg_pool2d_cells_stub.cpu()->grad_cell;
  parallel_for(0, n * hw, grain_for(c), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) cell(dy + (r / hw) * c, 0, 0, 1, 1, &rows, &one, c, dx + r * c);
  });
}

void global_max_pool2d_backward(int64_t n, int64_t hw, int64_t c, const float* dy,
                                const int32_t* argmax, float* dx) {
  const auto cell = max_pool2d_cells_stub.cpu()->grad_cell;
  parallel_for(0, n * hw, grain_for(c), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t b = r / hw;  // each cell of image b is covered by the one window (b)
      cell(dy + b * c, argmax + b * c, 0, 0, 1, 1, static_cast<int32_t>(r % hw), c, dx + r * c);
    }
  });
}

// ---- registration ------------------------------------------------------------------------------

CORENN_DEFINE_DISPATCH(MaxPoolCellsRef, max_pool2d_cells_stub, "max_pool2d.cells");
CORENN_REGISTER_KERNEL(max_pool2d_cells_stub, Slot::cpu_ref, &kRefCells);
CORENN_DEFINE_DISPATCH(AvgPoolCellsRef, avg_pool2d_cells_stub, "avg_pool2d.cells");
CORENN_REGISTER_KERNEL(avg_pool2d_cells_stub, Slot::cpu_ref, &kRefAvgCells);

CORENN_REGISTER_KERNEL(max_pool2d_forward_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Pool2dGeom& g, const float* x, float* y,
                           int32_t* argmax) { max_pool2d_forward(g, x, y, argmax); });
CORENN_REGISTER_KERNEL(max_pool2d_backward_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Pool2dGeom& g, const float* dy,
                           const int32_t* argmax, float* dx) {
                         return max_pool2d_backward(g, dy, argmax, dx);
                       });
CORENN_REGISTER_KERNEL(avg_pool2d_forward_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Pool2dGeom& g, const float* x, float* y) {
                         avg_pool2d_forward(g, x, y);
                       });
CORENN_REGISTER_KERNEL(avg_pool2d_backward_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Pool2dGeom& g, const float* dy, float* dx) {
                         avg_pool2d_backward(g, dy, dx);
                       });
CORENN_REGISTER_KERNEL(global_avg_pool2d_forward_stub, Slot::cpu_ref,
                       +[](const Tensor&, int64_t n, int64_t hw, int64_t c, const float* x,
                           float* y) { global_avg_pool2d_forward(n, hw, c, x, y); });
CORENN_REGISTER_KERNEL(global_avg_pool2d_backward_stub, Slot::cpu_ref,
                       +[](const Tensor&, int64_t n, int64_t hw, int64_t c, const float* dy,
                           float* dx) { global_avg_pool2d_backward(n, hw, c, dy, dx); });
CORENN_REGISTER_KERNEL(global_max_pool2d_forward_stub, Slot::cpu_ref,
                       +[](const Tensor&, int64_t n, int64_t hw, int64_t c, const float* x,
                           float* y, int32_t* argmax) {
                         global_max_pool2d_forward(n, hw, c, x, y, argmax);
                       });
// The argmax is checked before anything is written: a bad entry would lose its gradient.
CORENN_REGISTER_KERNEL(global_max_pool2d_backward_stub, Slot::cpu_ref,
                       +[](const Tensor&, int64_t n, int64_t hw, int64_t c, const float* dy,
                           const int32_t* argmax, float* dx) {
                         const int64_t bad = global_max_pool2d_first_bad_argmax(n, hw, c, argmax);
                         if (bad < 0) global_max_pool2d_backward(n, hw, c, dy, argmax, dx);
                         return bad;
                       });

}  // namespace corenn::cpu
