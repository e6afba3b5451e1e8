// The inner loops of max and average pooling (MaxPoolCells / AvgPoolCells in ops/pool2d.h hold
// the contracts, cpu/pool2d.cpp the math and the reference loops), written once over a
// vector-traits type V and instantiated by pool2d_avx2.cpp (max_pool2d_cells_stub's avx2 slot)
// and pool2d_avx512.cpp (the avx512 slots of max_pool2d_cells_stub and avg_pool2d_cells_stub).
//
// One call handles one window (forward) or one input cell (backward; or a whole input row when
// windows do not overlap) across nc channels, V::lanes channels per register: the running max
// and its argmax stay in registers over the whole window, and the select is a blend, so random
// data costs no branch mispredictions. The last nc % V::lanes channels run through the same body
// under a lane mask (simd::for_each_block: zero-filled loads, masked stores), never a scalar loop
// and never touching memory past the channel range.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "cpu/simd/loops.h"

namespace corenn::cpu::simd {

template <class V>
struct PoolCells {
  using reg = typename V::reg;
  using ireg = typename V::ireg;
  using pred = typename V::pred;

  // One V::lanes-channel block b of a window: max m and first argmax a over the cells.
  // kNanAware: a cell also wins when it is NaN and m is not NaN yet (so the first NaN is the max
  // and the argmax, as pool2d.cpp's reference). The plain scan (strict >) instead keeps a sticky
  // is-NaN predicate in *seen: one compare per cell, off the m -> compare -> blend chain that
  // bounds large windows (the NaN-aware compare on that chain cost global max pooling 1.5x, a
  // 2x2 pool 1.1x, in a C++ loop on one core; this costs neither measurably); a block that saw a
  // NaN is scanned again. A tail's dead lanes load 0, never NaN.
  template <bool kNanAware, class B>
  __attribute__((always_inline)) static void scan_window(const B& b, const float* x,
                                                         int64_t cell_stride, int64_t row_stride,
                                                         int64_t rows, int64_t cols,
                                                         int32_t first_idx, int32_t idx_row_step,
                                                         reg& m, ireg& a, pred* seen) {
    m = b.load(x);
    a = V::iset1(first_idx);
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * row_stride;
      const int32_t base = first_idx + static_cast<int32_t>(r) * idx_row_step;
      for (int64_t q = 0; q < cols; ++q) {
        const reg v = b.load(xr + q * cell_stride);
        const pred gt = kNanAware ? V::pand(V::template cmp<_CMP_NLE_UQ>(v, m),
                                            V::template cmp<_CMP_ORD_Q>(m, m))
                                  : V::template cmp<_CMP_GT_OQ>(v, m);
        if (!kNanAware) *seen = V::or_nan(*seen, v);
        m = V::select(gt, v, m);
        a = V::iselect(gt, V::iset1(base + static_cast<int32_t>(q)), a);
      }
    }
  }

  // y[c], am[c] = max / first argmax over rows x cols cells; cell (r, q) is at
  // x + r * row_stride + q * cell_stride and has index first_idx + r * idx_row_step + q.
  static void max_pool_cell(const float* x, int64_t cell_stride, int64_t row_stride, int64_t rows,
                            int64_t cols, int32_t first_idx, int32_t idx_row_step, int64_t nc,
                            float* y, int32_t* am) {
    for_each_block<V>(nc, [&](const auto& b) {
      reg m;
      ireg a;
      pred seen = V::pnone();
      scan_window<false>(b, x, cell_stride, row_stride, rows, cols, first_idx, idx_row_step, m, a,
                         &seen);
      if (V::any(seen))
        scan_window<true>(b, x, cell_stride, row_stride, rows, cols, first_idx, idx_row_step, m, a,
                          nullptr);
      b.store(y, m);
      b.istore(am, a);
    });
  }

  // d[c] = sum over ni x nj windows of dy[c] * [am[c] == idx]; window (i, j) is at
  // off = i * i_stride + j * j_stride from dy and am.
  static void max_grad_cell(const float* dy, const int32_t* am, int64_t i_stride, int64_t j_stride,
                            int64_t ni, int64_t nj, int32_t idx, int64_t nc, float* d) {
    const ireg want = V::iset1(idx);
    for_each_block<V>(nc, [&](const auto& b) {
      reg acc = V::zero();
      for (int64_t i = 0; i < ni; ++i) {
        for (int64_t j = 0; j < nj; ++j) {
          const int64_t off = i * i_stride + j * j_stride;
          const pred hit = V::icmpeq(b.iload(am + off), want);
          acc = V::add(acc, b.load_where(dy + off, hit));
        }
      }
      b.store(d, acc);
    });
  }

  // Non-overlapping windows (stride == window, no padding): input row h of one image, W cells of
  // nc channels, lies in window row i = h / KH; cell w in window j = w / KW (dx = 0 past the last
  // window). dx[w, c] = dy[j, c] where am[j, c] == h * W + w, else 0: one select per cell with no
  // window search, dy_row / am_row point at window row i. Returns how many dy entries it routed:
  // each window cell is visited once, so over all rows every entry of a valid argmax is routed
  // exactly once, and a smaller total means some entry named a cell outside its window.
  static int64_t max_grad_row_tiled(const float* dy_row, const int32_t* am_row, int64_t w_cells,
                                    int64_t kw, int64_t ow, int32_t first_idx, int64_t nc,
                                    float* dx_row) {
    int64_t routed = 0;
    for (int64_t w = 0; w < w_cells; ++w) {
      const int64_t j = w / kw;
      float* d = dx_row + w * nc;
      if (j >= ow) {
        for_each_block<V>(nc, [&](const auto& b) { b.store(d, V::zero()); });
        continue;
      }
      const ireg want = V::iset1(first_idx + static_cast<int32_t>(w));
      const float* g = dy_row + j * nc;
      const int32_t* a = am_row + j * nc;
      for_each_block<V>(nc, [&](const auto& b) {
        const pred hit = b.live(V::icmpeq(b.iload(a), want));
        b.store(d, b.load_where(g, hit));
        routed += V::popcount(hit);
      });
    }
    return routed;
  }

  // y[c] = scale * the sum over rows x cells (strides in floats).
  static void avg_sum_cell(const float* x, int64_t cell_stride, int64_t row_stride, int64_t rows,
                           int64_t cols, float scale, int64_t nc, float* y) {
    const reg s = V::set1(scale);
    for_each_block<V>(nc, [&](const auto& b) {
      reg acc = V::zero();
      for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * row_stride;
        for (int64_t q = 0; q < cols; ++q) acc = V::add(acc, b.load(xr + q * cell_stride));
      }
      b.store(y, V::mul(acc, s));
    });
  }

  // d[c] = sum over the ni x nj windows (i, j) of dy[off + c] / (row_count[i] * col_count[j]).
  static void avg_grad_cell(const float* dy, int64_t i_stride, int64_t j_stride, int64_t ni,
                            int64_t nj, const float* row_count, const float* col_count, int64_t nc,
                            float* d) {
    for_each_block<V>(nc, [&](const auto& b) {
      reg acc = V::zero();
      for (int64_t i = 0; i < ni; ++i) {
        for (int64_t j = 0; j < nj; ++j) {
          const reg scale = V::set1(1.0f / (row_count[i] * col_count[j]));
          acc = V::fmadd(b.load(dy + i * i_stride + j * j_stride), scale, acc);
        }
      }
      b.store(d, acc);
    });
  }
};

}  // namespace corenn::cpu::simd
