// AVX2 inner loops of max pooling (see pool2d.cpp for the math and the reference versions).
//
// One call handles one window (forward) or one input cell (backward; or a whole input row when
// windows do not overlap) across nc channels, eight
// channels per register: the running max and its argmax stay in registers over the whole window,
// and the select is a blend, so random data costs no branch mispredictions. The last nc % 8
// channels use masked loads and stores (never touching memory past the channel range).
#include <immintrin.h>

#include <cstdint>

#include "ops/pool2d.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx2 {

namespace {
__m256i tail_mask(int64_t left) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(left)), lane);
}
}  // namespace

// One 8-channel slice of a window: max m and first argmax a over the cells. kNanAware: a cell
// also wins when it is NaN and m is not NaN yet (so the first NaN is the max and the argmax, as
// pool2d.cpp's reference). The plain scan (strict >) instead keeps a sticky is-NaN mask in *seen:
// one compare per cell, off the m -> compare -> blend chain that bounds large windows (the
// NaN-aware compare on that chain cost global max pooling 1.5x, a 2x2 pool 1.1x, in a C++ loop
// on one core; this costs neither measurably); a slice that saw a NaN is scanned again.
template <bool kNanAware>
__attribute__((always_inline)) inline void scan_window(const float* x, int64_t cell_stride,
                                                       int64_t row_stride, int64_t rows,
                                                       int64_t cols, int32_t first_idx,
                                                       int32_t idx_row_step, bool full,
                                                       __m256i mask, __m256& m, __m256i& a,
                                                       __m256* seen) {
  m = full ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, mask);
  a = _mm256_set1_epi32(first_idx);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * row_stride;
    const int32_t base = first_idx + static_cast<int32_t>(r) * idx_row_step;
    for (int64_t q = 0; q < cols; ++q) {
      const __m256 v = full ? _mm256_loadu_ps(xr + q * cell_stride)
                            : _mm256_maskload_ps(xr + q * cell_stride, mask);
      const __m256 gt = kNanAware ? _mm256_and_ps(_mm256_cmp_ps(v, m, _CMP_NLE_UQ),
                                                  _mm256_cmp_ps(m, m, _CMP_ORD_Q))
                                  : _mm256_cmp_ps(v, m, _CMP_GT_OQ);
      // seen lanes are 0 or all ones, a NaN pattern: unordered(v, seen) is "v is NaN or a NaN
      // was seen", one compare
      if (!kNanAware) *seen = _mm256_cmp_ps(v, *seen, _CMP_UNORD_Q);
      m = _mm256_blendv_ps(m, v, gt);
      a = _mm256_castps_si256(_mm256_blendv_ps(
          _mm256_castsi256_ps(a),
          _mm256_castsi256_ps(_mm256_set1_epi32(base + static_cast<int32_t>(q))), gt));
    }
  }
}

// y[c], am[c] = max / first argmax over rows x cols cells; cell (r, q) is at
// x + r * row_stride + q * cell_stride and has index first_idx + r * idx_row_step + q.
void max_pool_cell(const float* x, int64_t cell_stride, int64_t row_stride, int64_t rows,
                   int64_t cols, int32_t first_idx, int32_t idx_row_step, int64_t nc, float* y,
                   int32_t* am) {
  for (int64_t c = 0; c < nc; c += 8) {
    const bool full = c + 8 <= nc;
    const __m256i mask = full ? _mm256_set1_epi32(-1) : tail_mask(nc - c);
    __m256 m, seen = _mm256_setzero_ps();
    __m256i a;
    scan_window<false>(x + c, cell_stride, row_stride, rows, cols, first_idx, idx_row_step, full,
                       mask, m, a, &seen);
    if (!_mm256_testz_ps(seen, seen))
      scan_window<true>(x + c, cell_stride, row_stride, rows, cols, first_idx, idx_row_step, full,
                        mask, m, a, nullptr);
    if (full) {
      _mm256_storeu_ps(y + c, m);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(am + c), a);
    } else {
      _mm256_maskstore_ps(y + c, mask, m);
      _mm256_maskstore_epi32(am + c, mask, a);
    }
  }
}

// d[c] = sum over ni x nj windows of dy[c] * [am[c] == idx]; window (i, j) is at
// off = i * i_stride + j * j_stride from dy and am.
void max_grad_cell(const float* dy, const int32_t* am, int64_t i_stride, int64_t j_stride,
                   int64_t ni, int64_t nj, int32_t idx, int64_t nc, float* d) {
  const __m256i want = _mm256_set1_epi32(idx);
  for (int64_t c = 0; c < nc; c += 8) {
    const bool full = c + 8 <= nc;
    const __m256i mask = full ? _mm256_set1_epi32(-1) : tail_mask(nc - c);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < ni; ++i) {
      for (int64_t j = 0; j < nj; ++j) {
        const int64_t off = i * i_stride + j * j_stride + c;
        const __m256 g = full ? _mm256_loadu_ps(dy + off) : _mm256_maskload_ps(dy + off, mask);
        const __m256i a = full ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(am + off))
                               : _mm256_maskload_epi32(am + off, mask);
        acc = _mm256_add_ps(acc, _mm256_and_ps(g, _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, want))));
      }
    }
    if (full) {
      _mm256_storeu_ps(d + c, acc);
    } else {
      _mm256_maskstore_ps(d + c, mask, acc);
    }
  }
}

// Non-overlapping windows (stride == window, no padding): input row h of one image, W cells of
// nc channels, lies in window row i = h / KH; cell w in window j = w / KW (dx = 0 past the last
// window). dx[w, c] = dy[j, c] where am[j, c] == h * W + w, else 0: one select per cell with no
// window search, dy_row / am_row point at window row i. Returns how many dy entries it routed:
// each window cell is visited once, so over all rows every entry of a valid argmax is routed
// exactly once, and a smaller total means some entry named a cell outside its window.
int64_t max_grad_row_tiled(const float* dy_row, const int32_t* am_row, int64_t w_cells, int64_t kw,
                           int64_t ow, int32_t first_idx, int64_t nc, float* dx_row) {
  int64_t routed = 0;
  for (int64_t w = 0; w < w_cells; ++w) {
    const int64_t j = w / kw;
    float* d = dx_row + w * nc;
    if (j >= ow) {
      for (int64_t c = 0; c < nc; ++c) d[c] = 0.0f;
      continue;
    }
    const __m256i want = _mm256_set1_epi32(first_idx + static_cast<int32_t>(w));
    const float* g = dy_row + j * nc;
    const int32_t* a = am_row + j * nc;
    int64_t c = 0;
    for (; c + 8 <= nc; c += 8) {
      const __m256i hit = _mm256_cmpeq_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + c)), want);
      _mm256_storeu_ps(d + c, _mm256_and_ps(_mm256_loadu_ps(g + c), _mm256_castsi256_ps(hit)));
      routed += __builtin_popcount(static_cast<unsigned>(_mm256_movemask_ps(_mm256_castsi256_ps(hit))));
    }
    for (; c < nc; ++c) {
      const bool hit = a[c] == first_idx + w;
      d[c] = hit ? g[c] : 0.0f;
      routed += hit;
    }
  }
  return routed;
}

}  // namespace corenn::cpu::avx2

namespace corenn::cpu::avx2 {
// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const MaxPoolCells kMaxPoolCells{max_pool_cell, max_grad_cell, max_grad_row_tiled};
}  // namespace corenn::cpu::avx2
