// conv2d's AVX-512 kernel set (conv2d_kernels.h), registered in the avx512 slot of
// conv2d.kernels. It starts from the avx2 set and replaces the kernels that have AVX-512 versions:
//   pack_a_rows               12-row panels for the 12 x 32 GEMM kernel (gemm/pack_avx512.cpp)
//   winograd_*                conv2d_winograd_avx512.cpp
//   direct_forward / _weights the small-Cin direct loops below
//   direct_relu_pool_*        the fused conv + relu + 2x2 max pool pass and its weight gradient
// The direct loops are the AVX2 ones of conv2d.cpp (whose comments explain them) at 16 channels a
// vector: the channel tail (Cout % 16 == 8: direct_ok asks Cout % 8 == 0 on both ISAs, so the
// algorithm choice is the same) is a masked load / store, never a scalar loop, and the weight
// gradient holds up to 27 taps in registers per pass (3x3x3 in one pass, AVX2: 12).
//   weights_gemm_part         the implicit-GEMM weight gradient on the 12 x 32 micro-kernel
//   col2im                    the strided data gradient's scatter (Conv2DTranspose's forward)
// Compiled with -mavx512f/vl/bw/dq (file name carries _avx512); no std::vector or other library
// template is instantiated here (see direct_tap_offsets in conv2d_kernels.h).
#include <immintrin.h>
#include <cstdint>

#include <algorithm>
#include <atomic>
#include <utility>

#include "core/parallel.h"
#include "cpu/conv2d_kernels.h"
#include "cpu/conv2d_winograd.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/kernels_x86.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu {

namespace {

constexpr int kLanes = 16;
constexpr int kMaxTaps = 27;  // weight-gradient accumulators per pass: 27 + dy + bias + x < 32

inline __mmask16 lanes(int64_t count) {
  return count >= kLanes ? __mmask16(0xFFFF)
                         : count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1);
}

// ---- direct forward for short patches ----------------------------------------------------------

// y rows [r_lo, r_hi) of (n, oh), CB vectors (16 CB channels) per pass; interior pixels two at a
// time (2 CB independent accumulators), border pixels with bounds checks. mask[c]: the live lanes
// of vector c of the pass (all but the last vector of the last pass are full).
template <int CB>
void fwd_direct_rows(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                     float* y, bool relu, int64_t r_lo, int64_t r_hi, const int64_t* off) {
  const int64_t depth = g.depth();
  const int64_t span_h = (g.kh - 1) * g.dh, span_w = (g.kw - 1) * g.dw;
  const int64_t pixel_step = g.sw * g.cin;
  const __m512 zero = _mm512_setzero_ps();
  auto inside_w = [&](int64_t ow) {
    const int64_t iw0 = ow * g.sw - g.pl;
    return iw0 >= 0 && iw0 + span_w < g.w;
  };
  auto store = [&](float* dst, __mmask16 mask, __m512 v) {
    _mm512_mask_storeu_ps(dst, mask, relu ? _mm512_max_ps(zero, v) : v);  // zero first: NaN kept
  };
  for (int64_t r = r_lo; r < r_hi; ++r) {
    const int64_t n = r / g.oh, ih0 = r % g.oh * g.sh - g.pt;
    const float* img = x + n * g.h * g.w * g.cin;
    const bool rows_in = ih0 >= 0 && ih0 + span_h < g.h;
    for (int64_t ow = 0; ow < g.ow;) {
      const int64_t iw0 = ow * g.sw - g.pl;
      const float* base = img + (ih0 * g.w + iw0) * g.cin;
      float* yp = y + (r * g.ow + ow) * g.cout;
      const bool pair = rows_in && ow + 1 < g.ow && inside_w(ow) && inside_w(ow + 1);
      const bool inside = rows_in && inside_w(ow);
      for (int64_t c0 = 0; c0 < g.cout; c0 += kLanes * CB) {
        __mmask16 mask[CB];
        __m512 a0[CB], a1[CB];
        for (int c = 0; c < CB; ++c) {
          mask[c] = lanes(g.cout - c0 - kLanes * c);
          a0[c] = a1[c] = bias ? _mm512_maskz_loadu_ps(mask[c], bias + c0 + kLanes * c) : zero;
        }
        const float* wp = w + c0;
        if (pair) {
          for (int64_t t = 0; t < depth; ++t, wp += g.cout) {
            const __m512 x0 = _mm512_set1_ps(base[off[t]]);
            const __m512 x1 = _mm512_set1_ps(base[off[t] + pixel_step]);
            for (int c = 0; c < CB; ++c) {
              const __m512 wv = _mm512_maskz_loadu_ps(mask[c], wp + kLanes * c);
              a0[c] = _mm512_fmadd_ps(x0, wv, a0[c]);
              a1[c] = _mm512_fmadd_ps(x1, wv, a1[c]);
            }
          }
          for (int c = 0; c < CB; ++c) {
            store(yp + c0 + kLanes * c, mask[c], a0[c]);
            store(yp + g.cout + c0 + kLanes * c, mask[c], a1[c]);
          }
          continue;
        }
        for (int64_t t = 0; t < depth; ++t, wp += g.cout) {
          float xs;
          if (inside) {
            xs = base[off[t]];
          } else {
            const int64_t ci = t % g.cin, kw = t / g.cin % g.kw, kh = t / g.cin / g.kw;
            const int64_t ih = ih0 + kh * g.dh, iw = iw0 + kw * g.dw;
            if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
            xs = img[(ih * g.w + iw) * g.cin + ci];
          }
          const __m512 xv = _mm512_set1_ps(xs);
          for (int c = 0; c < CB; ++c)
            a0[c] = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(mask[c], wp + kLanes * c), a0[c]);
        }
        for (int c = 0; c < CB; ++c) store(yp + c0 + kLanes * c, mask[c], a0[c]);
      }
      ow += pair ? 2 : 1;
    }
  }
}

void fwd_direct(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                float* y, bool relu) {
  const int64_t* off = direct_tap_offsets(g);
  // As many vectors per pass as Cout needs, up to 4 (8 accumulators with the pixel pair).
  const int64_t vectors = (g.cout + kLanes - 1) / kLanes;
  const auto rows_fn = vectors >= 4 ? fwd_direct_rows<4>
                       : vectors == 3 ? fwd_direct_rows<3>
                       : vectors == 2 ? fwd_direct_rows<2> : fwd_direct_rows<1>;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / (g.ow * g.depth() * g.cout + 1));
  parallel_for(0, g.n * g.oh, grain, [&](int64_t lo, int64_t hi) {
    rows_fn(g, x, w, bias, y, relu, lo, hi, off);
  });
}

// ---- direct weight gradient for short patches --------------------------------------------------

// dw rows [t0, t0 + NT) over output rows [r_lo, r_hi): per pixel, dy's 16-channel slice (masked
// at the Cout tail) FMA'd into NT accumulators with each tap's input value broadcast; dy goes in
// row blocks that stay in L1 across the channel passes (as in conv2d.cpp's dw_direct_taps).
template <int NT>
void dw_direct_taps(const Conv2dGeometry& g, const float* x, const float* dy, int64_t r_lo,
                    int64_t r_hi, int64_t t0, const int64_t* off, float* dw, float* db) {
  int64_t tkh[NT], tkw[NT], tci[NT], o[NT];
  for (int t = 0; t < NT; ++t) {
    const int64_t k = t0 + t;
    tci[t] = k % g.cin, tkw[t] = k / g.cin % g.kw, tkh[t] = k / g.cin / g.kw;
    o[t] = off[k];
  }
  const int64_t span_h = (g.kh - 1) * g.dh, span_w = (g.kw - 1) * g.dw;
  const int64_t block = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, g.ow * g.cout));
  for (int64_t rb = r_lo; rb < r_hi; rb += block) {
    const int64_t re = std::min(r_hi, rb + block);
    prefetch_rows(dy, g.ow * g.cout, std::min(r_hi, rb + 2 * block), std::min(r_hi, rb + 3 * block));
    for (int64_t c0 = 0; c0 < g.cout; c0 += kLanes) {
      const __mmask16 mask = lanes(g.cout - c0);
      __m512 acc[NT], acc_bias = _mm512_setzero_ps();
      for (int t = 0; t < NT; ++t)
        acc[t] = rb == r_lo ? _mm512_setzero_ps()
                            : _mm512_maskz_loadu_ps(mask, dw + (t0 + t) * g.cout + c0);
      if (db && rb != r_lo) acc_bias = _mm512_maskz_loadu_ps(mask, db + c0);
      for (int64_t r = rb; r < re; ++r) {
        const int64_t n = r / g.oh, ih0 = r % g.oh * g.sh - g.pt;
        const float* img = x + n * g.h * g.w * g.cin;
        const float* d = dy + r * g.ow * g.cout + c0;
        const bool rows_in = ih0 >= 0 && ih0 + span_h < g.h;
        for (int64_t ow = 0; ow < g.ow; ++ow, d += g.cout) {
          const __m512 dv = _mm512_maskz_loadu_ps(mask, d);
          if (db) acc_bias = _mm512_add_ps(acc_bias, dv);
          const int64_t iw0 = ow * g.sw - g.pl;
          if (rows_in && iw0 >= 0 && iw0 + span_w < g.w) {
            const float* base = img + (ih0 * g.w + iw0) * g.cin;
            for (int t = 0; t < NT; ++t)
              acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(base[o[t]]), dv, acc[t]);
          } else {
            for (int t = 0; t < NT; ++t) {
              const int64_t ih = ih0 + tkh[t] * g.dh, iw = iw0 + tkw[t] * g.dw;
              if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
              const __m512 xv = _mm512_set1_ps(img[(ih * g.w + iw) * g.cin + tci[t]]);
              acc[t] = _mm512_fmadd_ps(xv, dv, acc[t]);
            }
          }
        }
      }
      for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(dw + (t0 + t) * g.cout + c0, mask, acc[t]);
      if (db) _mm512_mask_storeu_ps(db + c0, mask, acc_bias);
    }
  }
}

using DwTapsFn = void (*)(const Conv2dGeometry&, const float*, const float*, int64_t, int64_t,
                          int64_t, const int64_t*, float*, float*);

template <int... I>
DwTapsFn dw_taps_fn(int nt, std::integer_sequence<int, I...>) {
  static constexpr DwTapsFn table[] = {dw_direct_taps<I + 1>...};
  return table[nt - 1];
}

void dw_direct(const Conv2dGeometry& g, const float* x, const float* dy, float* dw, float* db) {
  const int64_t rows = g.n * g.oh;
  direct_dw_run(g, rows, rows * g.ow * g.depth() * g.cout, kMaxTaps, dw, db,
                [&](int nt, int64_t r_lo, int64_t r_hi, int64_t t0, const int64_t* off,
                    float* part_dw, float* part_db) {
                  dw_taps_fn(nt, std::make_integer_sequence<int, kMaxTaps>())(
                      g, x, dy, r_lo, r_hi, t0, off, part_dw, part_db);
                });
}

// ---- conv + relu + 2x2 max pool in one pass (Cout % 16 == 0, stride and dilation 1) ------------

// One 16-channel block [c0, c0 + 16) of conv output pixel (oh, ow): bias + taps, with bounds
// checks (border pixels of a padded conv).
inline __m512 conv_pixel16(const Conv2dGeometry& g, const float* img, const float* w,
                           const float* bias, int64_t oh, int64_t ow, int64_t c0) {
  __m512 a = bias ? _mm512_loadu_ps(bias + c0) : _mm512_setzero_ps();
  for (int64_t kh = 0; kh < g.kh; ++kh) {
    const int64_t ih = oh - g.pt + kh;
    if (ih < 0 || ih >= g.h) continue;
    for (int64_t kw = 0; kw < g.kw; ++kw) {
      const int64_t iw = ow - g.pl + kw;
      if (iw < 0 || iw >= g.w) continue;
      const float* xp = img + (ih * g.w + iw) * g.cin;
      const float* wp = w + (kh * g.kw + kw) * g.cin * g.cout + c0;
      for (int64_t ci = 0; ci < g.cin; ++ci, wp += g.cout)
        a = _mm512_fmadd_ps(_mm512_set1_ps(xp[ci]), _mm512_loadu_ps(wp), a);
    }
  }
  return a;
}

// relu, then max over the window's 4 cells with the argmax in window order (the first maximum
// wins; a NaN cell wins unless best is NaN already, as max_pool2d), for 16 channels.
inline void relu_max4_store(const __m512 v[4], const int32_t idx[4], float* y, int32_t* argmax) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 best = _mm512_max_ps(zero, v[0]);
  __m512i best_idx = _mm512_set1_epi32(idx[0]);
  for (int q = 1; q < 4; ++q) {
    const __m512 r = _mm512_max_ps(zero, v[q]);
    const __mmask16 gt = _mm512_cmp_ps_mask(r, best, _CMP_NLE_UQ) &
                         _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q);
    best = _mm512_mask_blend_ps(gt, best, r);
    best_idx = _mm512_mask_blend_epi32(gt, best_idx, _mm512_set1_epi32(idx[q]));
  }
  _mm512_storeu_ps(y, best);
  _mm512_storeu_si512(argmax, best_idx);
}

// Pooled rows [r_lo, r_hi) of (n, ph). Per pooled cell and block of NV 16-channel vectors, the
// four conv pixels of its window keep 4 NV accumulators in registers; border windows of a padded
// conv go through conv_pixel16.
template <int NV>
void relu_pool_block(const Conv2dGeometry& g, const float* base, const float* w, const float* bias,
                     int64_t c0, const int64_t* off, const int32_t idx[4], float* yc, int32_t* ac) {
  const int64_t right = g.cin, down = g.w * g.cin;
  __m512 a[4][NV];
  for (int v = 0; v < NV; ++v) {
    const __m512 b = bias ? _mm512_loadu_ps(bias + c0 + kLanes * v) : _mm512_setzero_ps();
    for (int q = 0; q < 4; ++q) a[q][v] = b;
  }
  const float* wp = w + c0;
  for (int64_t t = 0; t < g.depth(); ++t, wp += g.cout) {
    __m512 wv[NV];
    for (int v = 0; v < NV; ++v) wv[v] = _mm512_loadu_ps(wp + kLanes * v);
    const float* xp = base + off[t];
    const float cell[4] = {xp[0], xp[right], xp[down], xp[down + right]};
    for (int q = 0; q < 4; ++q) {
      const __m512 xv = _mm512_set1_ps(cell[q]);
      for (int v = 0; v < NV; ++v) a[q][v] = _mm512_fmadd_ps(xv, wv[v], a[q][v]);
    }
  }
  for (int v = 0; v < NV; ++v) {
    const __m512 cells[4] = {a[0][v], a[1][v], a[2][v], a[3][v]};
    relu_max4_store(cells, idx, yc + c0 + kLanes * v, ac + c0 + kLanes * v);
  }
}

void fwd_relu_pool_rows(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                        float* y, int32_t* argmax, int64_t r_lo, int64_t r_hi, const int64_t* off) {
  const int64_t ph_n = g.oh / 2, pw_n = g.ow / 2;
  for (int64_t r = r_lo; r < r_hi; ++r) {
    const int64_t n = r / ph_n, oh = r % ph_n * 2;
    const float* img = x + n * g.h * g.w * g.cin;
    const int64_t ih0 = oh - g.pt;
    const bool rows_in = ih0 >= 0 && ih0 + g.kh < g.h;
    for (int64_t pw = 0; pw < pw_n; ++pw) {
      const int64_t ow = pw * 2, iw0 = ow - g.pl;
      const int64_t cell = r * pw_n + pw;
      const int32_t idx[4] = {static_cast<int32_t>(oh * g.ow + ow), static_cast<int32_t>(oh * g.ow + ow + 1),
                              static_cast<int32_t>((oh + 1) * g.ow + ow),
                              static_cast<int32_t>((oh + 1) * g.ow + ow + 1)};
      float* yc = y + cell * g.cout;
      int32_t* ac = argmax + cell * g.cout;
      if (!(rows_in && iw0 >= 0 && iw0 + g.kw < g.w)) {
        for (int64_t c0 = 0; c0 < g.cout; c0 += kLanes) {
          __m512 a[4];
          for (int q = 0; q < 4; ++q) a[q] = conv_pixel16(g, img, w, bias, oh + q / 2, ow + q % 2, c0);
          relu_max4_store(a, idx, yc + c0, ac + c0);
        }
        continue;
      }
      const float* base = img + (ih0 * g.w + iw0) * g.cin;
      int64_t c0 = 0;
      for (; c0 + 2 * kLanes <= g.cout; c0 += 2 * kLanes)
        relu_pool_block<2>(g, base, w, bias, c0, off, idx, yc, ac);
      if (c0 < g.cout) relu_pool_block<1>(g, base, w, bias, c0, off, idx, yc, ac);
    }
  }
}

void direct_relu_pool_forward(const Conv2dGeometry& g, const float* x, const float* w,
                              const float* bias, float* y, int32_t* argmax) {
  const int64_t ph_n = g.oh / 2, pw_n = g.ow / 2;
  const int64_t* off = direct_tap_offsets(g);
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / (4 * pw_n * g.depth() * g.cout + 1));
  parallel_for(0, g.n * ph_n, grain, [&](int64_t lo, int64_t hi) {
    fwd_relu_pool_rows(g, x, w, bias, y, argmax, lo, hi, off);
  });
}

// The weight gradient through relu + 2x2/2 max pooling (conv2d.cpp's dw_pool_taps explains it):
// per pooled pixel and 16-channel slice, g = dy * relu', and for each window cell the lanes whose
// argmax is that cell (an opmask) go into the taps' accumulators with the cell's patch. Lanes past
// Cout are neither loaded nor counted as lost.
template <int NT>
void dw_pool_taps(const Conv2dGeometry& g, const float* x, const float* dy, const float* y,
                  const int32_t* argmax, int64_t r_lo, int64_t r_hi, int64_t t0, const int64_t* off,
                  float* dw, float* db, bool* missed) {
  __mmask16 lost = 0;
  int64_t tkh[NT], tkw[NT], tci[NT], o[NT];
  for (int t = 0; t < NT; ++t) {
    const int64_t k = t0 + t;
    tci[t] = k % g.cin, tkw[t] = k / g.cin % g.kw, tkh[t] = k / g.cin / g.kw;
    o[t] = off[k];
  }
  const int64_t ph = g.oh / 2, pw = g.ow / 2;
  const __m512 zero = _mm512_setzero_ps();
  const int64_t block = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, pw * g.cout));
  for (int64_t rb = r_lo; rb < r_hi; rb += block) {
    const int64_t re = std::min(r_hi, rb + block);
    for (int64_t c0 = 0; c0 < g.cout; c0 += kLanes) {
      const __mmask16 live = lanes(g.cout - c0);
      __m512 acc[NT], acc_bias = zero;
      for (int t = 0; t < NT; ++t)
        acc[t] = rb == r_lo ? zero : _mm512_maskz_loadu_ps(live, dw + (t0 + t) * g.cout + c0);
      if (db && rb != r_lo) acc_bias = _mm512_maskz_loadu_ps(live, db + c0);
      for (int64_t r = rb; r < re; ++r) {
        const int64_t n = r / ph, py = r % ph;
        const float* img = x + n * g.h * g.w * g.cin;
        for (int64_t px = 0; px < pw; ++px) {
          const int64_t at = (r * pw + px) * g.cout + c0;
          // dy * relu' as activation.cpp's relu backward: y > 0 ? dy : dy * y (NaN kept)
          const __m512 dyv = _mm512_maskz_loadu_ps(live, dy + at), yv = _mm512_maskz_loadu_ps(live, y + at);
          const __m512 gv = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(yv, zero, _CMP_GT_OQ),
                                      _mm512_mul_ps(dyv, yv), dyv);
          if (db) acc_bias = _mm512_add_ps(acc_bias, gv);
          const __m512i winner = _mm512_maskz_loadu_epi32(live, argmax + at);
          __mmask16 found = 0;
          for (int q = 0; q < 4; ++q) {
            const int64_t oy = 2 * py + (q >> 1), ox = 2 * px + (q & 1);
            const __mmask16 hit = _mm512_mask_cmpeq_epi32_mask(
                live, winner, _mm512_set1_epi32(static_cast<int32_t>(oy * g.ow + ox)));
            found |= hit;
            if (!hit) continue;  // no channel's maximum sits here
            const __m512 gq = _mm512_maskz_mov_ps(hit, gv);
            const int64_t ih0 = oy - g.pt, iw0 = ox - g.pl;
            if (ih0 >= 0 && ih0 + g.kh <= g.h && iw0 >= 0 && iw0 + g.kw <= g.w) {
              const float* base = img + (ih0 * g.w + iw0) * g.cin;
              for (int t = 0; t < NT; ++t)
                acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(base[o[t]]), gq, acc[t]);
            } else {
              for (int t = 0; t < NT; ++t) {
                const int64_t ih = ih0 + tkh[t], iw = iw0 + tkw[t];
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                const __m512 xv = _mm512_set1_ps(img[(ih * g.w + iw) * g.cin + tci[t]]);
                acc[t] = _mm512_fmadd_ps(xv, gq, acc[t]);
              }
            }
          }
          lost |= live & ~found;
        }
      }
      for (int t = 0; t < NT; ++t) _mm512_mask_storeu_ps(dw + (t0 + t) * g.cout + c0, live, acc[t]);
      if (db) _mm512_mask_storeu_ps(db + c0, live, acc_bias);
    }
  }
  if (lost) *missed = true;  // the caller's flag for this pass
}

using DwPoolTapsFn = void (*)(const Conv2dGeometry&, const float*, const float*, const float*,
                              const int32_t*, int64_t, int64_t, int64_t, const int64_t*, float*,
                              float*, bool*);

template <int... I>
DwPoolTapsFn dw_pool_taps_fn(int nt, std::integer_sequence<int, I...>) {
  static constexpr DwPoolTapsFn table[] = {dw_pool_taps<I + 1>...};
  return table[nt - 1];
}

bool direct_relu_pool_weights(const Conv2dGeometry& g, const float* x, const float* dy,
                              const float* y, const int32_t* argmax, float* dw, float* db) {
  const int64_t ph = g.oh / 2;
  std::atomic<bool> missed{false};  // set by any thread's pass: atomic
  direct_dw_run(g, g.n * ph, g.n * g.oh * g.ow * g.depth() * g.cout, kMaxTaps, dw, db,
                [&](int nt, int64_t r_lo, int64_t r_hi, int64_t t0, const int64_t* off,
                    float* part_dw, float* part_db) {
                  bool lost = false;
                  dw_pool_taps_fn(nt, std::make_integer_sequence<int, kMaxTaps>())(
                      g, x, dy, y, argmax, r_lo, r_hi, t0, off, part_dw, part_db, &lost);
                  if (lost) missed.store(true, std::memory_order_relaxed);
                });
  return !missed.load();
}

// ---- weight gradient on the 12 x 32 micro-kernel -----------------------------------------------

// dw (K, Cout) = A^T (K, P) @ dy (P, Cout), as conv2d.cpp's dw_gemm_avx2 (which says why this
// form), on the AVX-512 kernel: A^T panels of 12 positions x kc pixels, packed per pixel by one
// masked load per run of consecutive floats (dw_panel_runs: 1 or 2 runs for Cin >= 12, more for
// smaller Cin, never a scalar loop; at a border pixel each run's mask also drops the rows whose
// tap lies outside the image); dy panels of 32 columns (masked at the Cout tail, zero-filled).
constexpr int kMR = gemm::kMR512;
constexpr int kNR = gemm::kNR512;
constexpr int64_t kDwKc = 256;  // pixels per block: the dy panel (32 KB) streams from L1/L2
constexpr int64_t kDwMc = 144;  // positions per block (12 panels): the A^T block (144 KB) in L2

int64_t dw_workspace_floats(const Conv2dGeometry& g) {
  const int64_t len = kDwMc * kDwKc + (g.cout + kNR - 1) / kNR * kNR * kDwKc;
  return (len + kLanes - 1) / kLanes * kLanes;  // each part's workspace starts 64-byte aligned
}

void weights_gemm_part(const Conv2dGeometry& g, const float* x, const float* dy, int64_t p_lo,
                       int64_t p_hi, float* dw, float* ws) {
  const int64_t depth = g.depth();
  const DwPanelRuns* runs = dw_panel_runs(g, kMR);
  float* a_buf = ws;
  float* b_buf = ws + kDwMc * kDwKc;
  const float* base[kDwKc];  // per pixel of the block: its patch origin when inside, else nullptr
  int64_t img_off[kDwKc], ih0[kDwKc], iw0[kDwKc];
  const int64_t span_h = (g.kh - 1) * g.dh, span_w = (g.kw - 1) * g.dw;
  for (int64_t p0 = p_lo; p0 < p_hi; p0 += kDwKc) {
    const int64_t kc = std::min(kDwKc, p_hi - p0);
    const gemm::UkrArgs args{1.0f, p0 == p_lo ? 0.0f : 1.0f, nullptr, gemm::Activation::none};
    for (int64_t j = 0; j < g.cout; j += kNR) {  // dy rows [p0, p0 + kc) as 32-column panels
      const __mmask16 k0 = lanes(g.cout - j), k1 = lanes(g.cout - j - kLanes);
      float* o = b_buf + j * kc;
      for (int64_t p = 0; p < kc; ++p, o += kNR) {
        const float* src = dy + (p0 + p) * g.cout + j;
        _mm512_storeu_ps(o, _mm512_maskz_loadu_ps(k0, src));
        _mm512_storeu_ps(o + kLanes, _mm512_maskz_loadu_ps(k1, src + kLanes));
      }
    }
    for (int64_t p = 0; p < kc; ++p) {
      const int64_t i = p0 + p, ow = i % g.ow, t = i / g.ow, oh = t % g.oh, n = t / g.oh;
      ih0[p] = oh * g.sh - g.pt, iw0[p] = ow * g.sw - g.pl, img_off[p] = n * g.h * g.w * g.cin;
      const bool inside = ih0[p] >= 0 && ih0[p] + span_h < g.h && iw0[p] >= 0 && iw0[p] + span_w < g.w;
      base[p] = inside ? x + img_off[p] + (ih0[p] * g.w + iw0[p]) * g.cin : nullptr;
    }
    for (int64_t k0 = 0; k0 < depth; k0 += kDwMc) {
      const int64_t mc = std::min(kDwMc, depth - k0);
      for (int64_t ir = 0; ir < mc; ir += kMR) {  // pack A^T panel (k0 + ir) / 12
        const DwPanelRuns& pr = runs[(k0 + ir) / kMR];
        const int rows = static_cast<int>(std::min<int64_t>(kMR, mc - ir));
        float* o = a_buf + ir * kc;
        for (int64_t p = 0; p < kc; ++p, o += kMR) {
          if (const float* b = base[p]) {
            __m512 v = _mm512_setzero_ps();
            for (int r = 0; r < pr.count; ++r)
              v = _mm512_mask_loadu_ps(v, static_cast<__mmask16>(pr.mask[r]), b + pr.shifted_off[r]);
            _mm512_mask_storeu_ps(o, lanes(kMR), v);
            continue;
          }
          // border pixel: each row's tap bounds-checked in its lane (ok), then the runs loaded as
          // for an inside pixel, each under its run mask and ok. A masked-off lane is never read
          // (AVX-512 masked loads do not fault on them), so a run's address may lie outside the
          // image for its outside rows; it is formed as an integer for that reason. (A 12-lane
          // gather with its index arithmetic made the packing 29% of this pass: half the pixels
          // of a 7x7 output are border pixels.)
          const __m512i hh = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(ih0[p])),
                                              _mm512_maskz_loadu_epi32(lanes(kMR), pr.tap_h));
          const __m512i ww = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(iw0[p])),
                                              _mm512_maskz_loadu_epi32(lanes(kMR), pr.tap_w));
          __mmask16 ok = lanes(kMR);
          ok = _mm512_mask_cmpge_epi32_mask(ok, hh, _mm512_setzero_si512());
          ok = _mm512_mask_cmplt_epi32_mask(ok, hh, _mm512_set1_epi32(static_cast<int32_t>(g.h)));
          ok = _mm512_mask_cmpge_epi32_mask(ok, ww, _mm512_setzero_si512());
          ok = _mm512_mask_cmplt_epi32_mask(ok, ww, _mm512_set1_epi32(static_cast<int32_t>(g.w)));
          const intptr_t origin = reinterpret_cast<intptr_t>(x + img_off[p]) +
                                  static_cast<intptr_t>((ih0[p] * g.w + iw0[p]) * g.cin) *
                                      static_cast<intptr_t>(sizeof(float));
          __m512 v = _mm512_setzero_ps();
          for (int r = 0; r < pr.count; ++r) {
            const __mmask16 m = static_cast<__mmask16>(pr.mask[r]) & ok;
            if (m)
              v = _mm512_mask_loadu_ps(
                  v, m, reinterpret_cast<const float*>(
                            origin + static_cast<intptr_t>(pr.shifted_off[r]) *
                                         static_cast<intptr_t>(sizeof(float))));
          }
          _mm512_mask_storeu_ps(o, lanes(kMR), v);
        }
      }
      for (int64_t j = 0; j < g.cout; j += kNR) {
        const int n = static_cast<int>(std::min<int64_t>(kNR, g.cout - j));
        for (int64_t ir = 0; ir < mc; ir += kMR)
          gemm::gemm_ukr_avx512_f32_12x32(kc, a_buf + ir * kc, 1, kMR, b_buf + j * kc, kNR,
                                          dw + (k0 + ir) * g.cout + j, g.cout,
                                          static_cast<int>(std::min<int64_t>(kMR, mc - ir)), n, args);
      }
    }
  }
}

// ---- col2im --------------------------------------------------------------------------------------

// conv2d.cpp's col2im (one task per input row, every (output pixel, tap) that reads it summed in a
// fixed order) with the channel run added 16 floats at a time, the tail in scalars.
void col2im(const Conv2dGeometry& g, const float* dcols, int64_t images, float* dx) {
  const int64_t depth = g.depth(), row_len = g.w * g.cin;
  const int64_t work = std::max<int64_t>(1, g.kh * g.ow * g.kw * g.cin);
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / work);
  const int64_t full = g.cin / kLanes * kLanes;
  parallel_for(0, images * g.h, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t idx = lo; idx < hi; ++idx) {
      const int64_t n = idx / g.h, ih = idx % g.h;
      float* row = dx + idx * row_len;
      for (int64_t i = 0; i < row_len; i += kLanes)
        _mm512_mask_storeu_ps(row + i, lanes(row_len - i), _mm512_setzero_ps());
      for (int64_t kh = 0; kh < g.kh; ++kh) {
        const int64_t t = ih + g.pt - kh * g.dh;
        if (t < 0 || t % g.sh != 0 || t / g.sh >= g.oh) continue;
        const int64_t oh = t / g.sh;
        for (int64_t ow = 0; ow < g.ow; ++ow) {
          const float* dc = dcols + ((n * g.oh + oh) * g.ow + ow) * depth + kh * g.kw * g.cin;
          for (int64_t kw = 0; kw < g.kw; ++kw) {
            const int64_t iw = ow * g.sw - g.pl + kw * g.dw;
            if (iw < 0 || iw >= g.w) continue;
            float* d = row + iw * g.cin;
            const float* s = dc + kw * g.cin;
            int64_t c = 0;
            for (; c < full; c += kLanes)
              _mm512_storeu_ps(d + c, _mm512_add_ps(_mm512_loadu_ps(d + c), _mm512_loadu_ps(s + c)));
            // The tail in scalars, not masked: the next tap adds into d + cin, inside the 64 bytes
            // of this tail's store, and a masked load there waits for that masked store to retire
            // instead of being forwarded (Zen 4: a 32x32x3 'same' data gradient took 6.7 ms with
            // masked tails, 4.3 ms with the portable loop).
            for (; c < g.cin; ++c) d[c] += s[c];
          }
        }
      }
    }
  });
}

bool direct_shape_ok(const Conv2dGeometry& g) { return g.cin <= 4 && g.cout % 8 == 0; }

}  // namespace

// The avx512 set (its GEMM's narrow 12 x 16 set packs the same 12-row panels, so one packer
// serves both). Constant-initialized; cpu/isa_registry.cpp puts it in its slot
// (cpu/isa_kernels.h says why not here).
namespace avx512 {
extern const ConvKernels kConvKernels{gemm::pack_a_rows_avx512,
                                      gemm::kMR512,
                                      winograd_forward_avx512,
                                      winograd_backward_weights_avx512,
                                      direct_shape_ok,
                                      fwd_direct,
                                      dw_direct,
                                      direct_relu_pool_forward,
                                      direct_relu_pool_weights,
                                      dw_workspace_floats,
                                      weights_gemm_part,
                                      col2im,
                                      winograd4_forward_avx512,
                                      winograd4_backward_weights_avx512};
}  // namespace avx512

}  // namespace corenn::cpu
