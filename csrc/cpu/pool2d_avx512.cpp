// AVX-512 inner loops of max and average pooling (pool2d.cpp holds the math and the reference
// loops; the contracts are MaxPoolCells / AvgPoolCells in ops/pool2d.h). 16 channels per register;
// the last nc % 16 channels run through the same code under a lane mask (zero-filled loads, masked
// stores), never a scalar loop and never touching memory past the channel range.
//
// Max: as pool2d_avx2.cpp, the running max and argmax of a 16-channel slice stay in registers over
// the whole window and the select is a masked blend (no branch on the data). The plain scan uses a
// strict > and ORs an is-NaN lane mask on the side (off the max -> compare -> blend chain); a slice
// that saw a NaN is scanned again with the NaN-aware compare, so the first NaN wins as in the
// reference.
#include <immintrin.h>

#include <cstdint>

#include "cpu/vec_math_avx512.h"
#include "ops/pool2d.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx512 {

namespace {

// One 16-channel slice of a window: max m and first argmax a over the cells (see max_pool_cell).
template <bool kNanAware>
__attribute__((always_inline)) inline void scan_window(const float* x, int64_t cell_stride,
                                                       int64_t row_stride, int64_t rows,
                                                       int64_t cols, int32_t first_idx,
                                                       int32_t idx_row_step, __mmask16 lanes,
                                                       __m512& m, __m512i& a, __mmask16* seen) {
  m = _mm512_maskz_loadu_ps(lanes, x);
  a = _mm512_set1_epi32(first_idx);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * row_stride;
    const int32_t base = first_idx + static_cast<int32_t>(r) * idx_row_step;
    for (int64_t q = 0; q < cols; ++q) {
      const __m512 v = _mm512_maskz_loadu_ps(lanes, xr + q * cell_stride);
      const __mmask16 gt = kNanAware ? _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(m, m, _CMP_ORD_Q),
                                                               v, m, _CMP_NLE_UQ)
                                     : _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ);
      if (!kNanAware) *seen |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
      m = _mm512_mask_blend_ps(gt, m, v);
      a = _mm512_mask_blend_epi32(gt, a, _mm512_set1_epi32(base + static_cast<int32_t>(q)));
    }
  }
}

void max_pool_cell(const float* x, int64_t cell_stride, int64_t row_stride, int64_t rows,
                   int64_t cols, int32_t first_idx, int32_t idx_row_step, int64_t nc, float* y,
                   int32_t* am) {
  for_each16(nc, [&](int64_t c, __mmask16 lanes) {
    __m512 m;
    __m512i a;
    __mmask16 seen = 0;
    scan_window<false>(x + c, cell_stride, row_stride, rows, cols, first_idx, idx_row_step, lanes,
                       m, a, &seen);
    if (seen & lanes)
      scan_window<true>(x + c, cell_stride, row_stride, rows, cols, first_idx, idx_row_step, lanes,
                        m, a, nullptr);
    _mm512_mask_storeu_ps(y + c, lanes, m);
    _mm512_mask_storeu_epi32(am + c, lanes, a);
  });
}

void max_grad_cell(const float* dy, const int32_t* am, int64_t i_stride, int64_t j_stride,
                   int64_t ni, int64_t nj, int32_t idx, int64_t nc, float* d) {
  const __m512i want = _mm512_set1_epi32(idx);
  for_each16(nc, [&](int64_t c, __mmask16 lanes) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < ni; ++i) {
      for (int64_t j = 0; j < nj; ++j) {
        const int64_t off = i * i_stride + j * j_stride + c;
        const __mmask16 hit =
            _mm512_mask_cmpeq_epi32_mask(lanes, _mm512_maskz_loadu_epi32(lanes, am + off), want);
        acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(hit, dy + off));
      }
    }
    _mm512_mask_storeu_ps(d + c, lanes, acc);
  });
}

// Windows that tile the image (see pool2d_avx2.cpp's max_grad_row_tiled): one select per cell.
int64_t max_grad_row_tiled(const float* dy_row, const int32_t* am_row, int64_t w_cells, int64_t kw,
                           int64_t ow, int32_t first_idx, int64_t nc, float* dx_row) {
  int64_t routed = 0;
  for (int64_t w = 0; w < w_cells; ++w) {
    const int64_t j = w / kw;
    float* d = dx_row + w * nc;
    if (j >= ow) {
      for_each16(nc, [&](int64_t c, __mmask16 lanes) {
        _mm512_mask_storeu_ps(d + c, lanes, _mm512_setzero_ps());
      });
      continue;
    }
    const __m512i want = _mm512_set1_epi32(first_idx + static_cast<int32_t>(w));
    const float* g = dy_row + j * nc;
    const int32_t* a = am_row + j * nc;
    for_each16(nc, [&](int64_t c, __mmask16 lanes) {
      const __mmask16 hit =
          _mm512_mask_cmpeq_epi32_mask(lanes, _mm512_maskz_loadu_epi32(lanes, a + c), want);
      _mm512_mask_storeu_ps(d + c, lanes, _mm512_maskz_loadu_ps(hit, g + c));
      routed += __builtin_popcount(static_cast<unsigned>(hit));
    });
  }
  return routed;
}

void avg_sum_cell(const float* x, int64_t cell_stride, int64_t row_stride, int64_t rows,
                  int64_t cols, float scale, int64_t nc, float* y) {
  const __m512 s = _mm512_set1_ps(scale);
  for_each16(nc, [&](int64_t c, __mmask16 lanes) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * row_stride + c;
      for (int64_t q = 0; q < cols; ++q)
        acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(lanes, xr + q * cell_stride));
    }
    _mm512_mask_storeu_ps(y + c, lanes, _mm512_mul_ps(acc, s));
  });
}

void avg_grad_cell(const float* dy, int64_t i_stride, int64_t j_stride, int64_t ni, int64_t nj,
                   const float* row_count, const float* col_count, int64_t nc, float* d) {
  for_each16(nc, [&](int64_t c, __mmask16 lanes) {
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < ni; ++i) {
      for (int64_t j = 0; j < nj; ++j) {
        const __m512 scale = _mm512_set1_ps(1.0f / (row_count[i] * col_count[j]));
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(lanes, dy + i * i_stride + j * j_stride + c),
                              scale, acc);
      }
    }
    _mm512_mask_storeu_ps(d + c, lanes, acc);
  });
}

}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const MaxPoolCells kMaxPoolCells{max_pool_cell, max_grad_cell, max_grad_row_tiled};
extern const AvgPoolCells kAvgPoolCells{avg_sum_cell, avg_grad_cell};

}  // namespace corenn::cpu::avx512
