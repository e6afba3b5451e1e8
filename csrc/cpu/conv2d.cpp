// conv2d CPU kernels: implicit GEMM on corenn's GEMM engine (cpu/gemm).
//
// Shapes: x (N, H, W, Cin), w (KH, KW, Cin, Cout), y / dy (N, OH, OW, Cout); see ops/conv2d.h.
// The patch matrix A (M, K) with M = N*OH*OW output pixels and K = KH*KW*Cin,
//   A[(n, oh, ow), (kh, kw, ci)] = x[n, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw, ci]  (0 outside),
// is never materialized: caller-supplied packers gather it straight into the GEMM's packed panels.
// w (KH, KW, Cin, Cout) row-major is already the (K, Cout) matrix B.
//
//   forward           y (M, Cout)   = act(A @ B + bias)   gemm_packed, A packed from x
//   backward weights  dw^T (Cout, K) = dy^T @ A           gemm_packed, long depth M, A packed as
//                                                          the B operand; then transposed
//   backward data     stride 1, Cin >= 16, Cout < 2 Cin, little padding (prefer_flipped_forward):
//                           dx = conv(dy, flipped w^T) (the forward kernel, padded dy);
//                     strided, dilation 1, Cin fills half a tile (use_subpixel): per output phase
//                           (ih % sh, iw % sw), an implicit GEMM of dy with that phase's sub-kernel
//                           (subpixel_backward_data), rows written once to their dx pixels;
//                     else  dx = col2im(dy @ B^T)         per chunk of images: sgemm into a
//                                                          buffer, then each thread gathers its
//                                                          own input rows (no atomics, fixed order)
// Variants: a 1x1 / stride 1 / no-padding conv is a plain GEMM on x (forward and data gradient).
// Small Cin (<= 4) with Cout % 8 == 0 on AVX2 and AVX-512: forward and weight gradient skip the
// GEMM (its patch packing of 1-float channel runs costs several times the multiply) for direct
// loops, fwd_direct / dw_direct below (conv2d_avx512.cpp at 16 channels a vector). Stride-1 3x3
// convs with 16+ channels on both sides use Winograd F(2x2, 3x3) there instead
// (conv2d_winograd.h), for the data gradient through its flipped form. The per-ISA kernels are a
// kernel set (conv2d_kernels.h); the algorithm choice below is the same for both vector ISAs.
// Micro-kernel (12 x 32 AVX-512, 6 x 16 AVX2 or portable) and threads are chosen by the GEMM
// driver; the patch packers pack for the tile of the Kernel it hands them.
#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <utility>
#include <vector>

#ifdef CORENN_X86_64
#include <immintrin.h>

#include "cpu/gemm/kernels_x86.h"
#endif

#include "core/aligned_buffer.h"
#include "core/kept_derived.h"
#include "core/parallel.h"
#include "cpu/conv2d_kernels.h"
#include "cpu/conv2d_winograd.h"
#include "cpu/gemm/gemm.h"
#include "ops/bias_grad.h"
#include "ops/conv2d.h"
#include "ops/pool2d.h"
#include "ops/sum_n.h"

namespace corenn::cpu {

CORENN_DEFINE_DISPATCH(ConvKernelsRef, conv2d_kernels_stub, "conv2d.kernels");

namespace {

// ---- packers and col2im --------------------------------------------------------------------

using gemm::kMR;
using gemm::kNR;

// ---- the per-ISA kernel set (conv2d_kernels.h) ------------------------------------------------
constexpr ConvKernels kRefConvKernels{};
CORENN_REGISTER_KERNEL(conv2d_kernels_stub, Slot::cpu_ref, &kRefConvKernels);

const ConvKernels& kernels() { return *conv2d_kernels_stub.cpu(); }
bool use_winograd4(const Conv2dGeometry& g) {
  return kernels().winograd4_forward && winograd4_shape_ok(g);
}

bool use_winograd(const Conv2dGeometry& g) {
  return kernels().winograd_forward && winograd_shape_ok(g);
}
bool use_direct_dw(const Conv2dGeometry& g) {
  const ConvKernels& k = kernels();
  return k.direct_ok && k.direct_ok(g);
}

// Scratch that persists per calling thread and only grows (64-byte aligned): a training step
// allocates nothing once the shapes are seen. `slot` keeps the users (which may nest) apart.
float* scratch(int slot, int64_t n) {
  thread_local AlignedBuffer buffers[3];
  return buffers[slot].get(static_cast<size_t>(n));
}

// partial[0, len) += partial[t * len, (t + 1) * len) for t = 1 .. parts - 1, in thread order
// (the per-thread partial sums of a weight gradient; a fixed order keeps results reproducible).
void sum_parts(float* partial, int parts, int64_t len) {
  for (int t = 1; t < parts; ++t)
    for (int64_t i = 0; i < len; ++i) partial[i] += partial[t * len + i];
}

bool is_pointwise(const Conv2dGeometry& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.pt == 0 && g.pl == 0 &&
         g.oh == g.h && g.ow == g.w;
}

// What the two A packers of implicit-GEMM convs (pack_patches, pack_subpixel_a) share: a run of
// zeros, the source of every row that falls outside the image (padding, rows past mc), and the
// kernel set's row interleaver for the GEMM kernel's mr (null: the scalar loop in pack).
struct RowPacker {
  const float* zeros;
  void (*rows)(const float* const* src, int64_t len, float* dst);
  // Interleaves src[r][0, len) for r < mr into the panel at o; returns the panel's next row.
  float* pack(const float* const* src, int64_t len, int mr, float* o) const {
    if (rows) {
      rows(src, len, o);  // AVX2: 8 x 8 transposes, spills land in slack; AVX-512 masked
      return o + len * mr;
    }
    for (int64_t c = 0; c < len; ++c, o += mr)
      for (int r = 0; r < mr; ++r) o[r] = src[r][c];
    return o;
  }
};

// `run`: the longest channel run a row reads. The zeros live per thread and only grow (+16 floats:
// the vector row packers may read a vector past a run's end).
RowPacker row_packer(int64_t run, int mr) {
  thread_local std::vector<float> zeros;
  if (static_cast<int64_t>(zeros.size()) < run + 16) zeros.assign(static_cast<size_t>(run + 16), 0.0f);
  const ConvKernels& k = kernels();
  return {zeros.data(), k.pack_a_rows_mr == mr ? k.pack_a_rows : nullptr};
}

// Packs A rows (pixels) [i0, i0 + mc) x depth [p0, p0 + kc) into mr-row panels (see gemm.h; mr
// from the GEMM kernel that runs them). Depth runs over (kh, kw, ci) with ci fastest, so each
// (kh, kw) tap is a contiguous run of input channels per row: the mr source runs are found once
// per tap (a zero run for padding or rows past mc) and interleaved into the panel, whose writes
// are then sequential.
void pack_patches(const Conv2dGeometry& g, const float* x, int mr, int64_t i0, int64_t mc,
                  int64_t p0, int64_t kc, float* dst) {
  const RowPacker packer = row_packer(g.cin, mr);
  const int64_t end = p0 + kc, xc = g.xc();  // xc: a group's channel run sits in a longer row
  const float* img[gemm::kMaxMR];
  int64_t ih0[gemm::kMaxMR], iw0[gemm::kMaxMR];
  const float* src[gemm::kMaxMR];
  for (int64_t ir = 0; ir < mc; ir += mr) {
    const int rows = static_cast<int>(std::min<int64_t>(mr, mc - ir));
    for (int r = 0; r < mr; ++r) {
      const int64_t i = i0 + ir + std::min(r, rows - 1);
      const int64_t ow = i % g.ow, t = i / g.ow, oh = t % g.oh, n = t / g.oh;
      img[r] = x + n * g.h * g.w * xc;
      ih0[r] = oh * g.sh - g.pt;
      iw0[r] = ow * g.sw - g.pl;
    }
    float* o = dst + ir * kc;
    int64_t ci = p0 % g.cin, q = p0 / g.cin, kw = q % g.kw, kh = q / g.kw;
    for (int64_t p = p0; p < end;) {
      const int64_t len = std::min(g.cin - ci, end - p);
      for (int r = 0; r < mr; ++r) {
        const int64_t ih = ih0[r] + kh * g.dh, iw = iw0[r] + kw * g.dw;
        const bool inside = r < rows && ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
        src[r] = inside ? img[r] + (ih * g.w + iw) * xc + ci : packer.zeros;
      }
      o = packer.pack(src, len, mr, o);
      p += len;
      ci = 0;
      if (++kw == g.kw) kw = 0, ++kh;
    }
  }
}

// Packs the patch matrix as a GEMM B operand: depth (pixels) [p0, p0 + kc) x columns (patch
// positions (kh, kw, ci)) [j0, j0 + nc), nr-column panels (see gemm.h; nr from the GEMM kernel). For one
// pixel a panel's nr columns are one or a few contiguous channel runs of the input: plain copies.
void pack_patches_b(const Conv2dGeometry& g, const float* x, int nr, int64_t p0, int64_t kc,
                    int64_t j0, int64_t nc, float* dst) {
  for (int64_t jr = 0; jr < nc; jr += nr) {
    const int cols = static_cast<int>(std::min<int64_t>(nr, nc - jr));
    const int64_t k0 = j0 + jr, ci0 = k0 % g.cin, q0 = k0 / g.cin, xc = g.xc();
    float* o = dst + jr * kc;
    int64_t ow = p0 % g.ow, t = p0 / g.ow, oh = t % g.oh, n = t / g.oh;
    for (int64_t p = 0; p < kc; ++p, o += nr) {
      const int64_t ih0 = oh * g.sh - g.pt, iw0 = ow * g.sw - g.pl;
      const float* img = x + n * g.h * g.w * xc;
      int64_t ci = ci0, kw = q0 % g.kw, kh = q0 / g.kw;
      for (int c = 0; c < cols;) {
        const int len = static_cast<int>(std::min<int64_t>(g.cin - ci, cols - c));
        const int64_t ih = ih0 + kh * g.dh, iw = iw0 + kw * g.dw;
        if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w)
          std::memcpy(o + c, img + (ih * g.w + iw) * xc + ci, sizeof(float) * len);
        else
          std::memset(o + c, 0, sizeof(float) * len);
        c += len;
        ci = 0;
        if (++kw == g.kw) kw = 0, ++kh;
      }
      for (int c = cols; c < nr; ++c) o[c] = 0.0f;
      if (++ow == g.ow) {
        ow = 0;
        if (++oh == g.oh) oh = 0, ++n;
      }
    }
  }
}

// dx rows of images [0, images) (dx points at the chunk's first image) from dcols (rows = the
// chunk's pixels, K columns). One task per input row: it sums every (output pixel, tap) that
// reads it, so no two threads write the same element and the order is fixed.
// With a group geometry (x_ld > cin) dx points at the group's first channel and only the group's
// channel run of each pixel is written.
void col2im(const Conv2dGeometry& g, const float* dcols, int64_t images, float* dx) {
  const int64_t depth = g.depth(), xc = g.xc(), row_len = g.w * xc;
  const int64_t work = std::max<int64_t>(1, g.kh * g.ow * g.kw * g.cin);
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / work);
  parallel_for(0, images * g.h, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t idx = lo; idx < hi; ++idx) {
      const int64_t n = idx / g.h, ih = idx % g.h;
      float* row = dx + idx * row_len;
      if (xc == g.cin)
        std::memset(row, 0, sizeof(float) * row_len);
      else
        for (int64_t iw = 0; iw < g.w; ++iw) std::memset(row + iw * xc, 0, sizeof(float) * g.cin);
      for (int64_t kh = 0; kh < g.kh; ++kh) {
        const int64_t t = ih + g.pt - kh * g.dh;
        if (t < 0 || t % g.sh != 0 || t / g.sh >= g.oh) continue;
        const int64_t oh = t / g.sh;
        for (int64_t ow = 0; ow < g.ow; ++ow) {
          const float* dc = dcols + ((n * g.oh + oh) * g.ow + ow) * depth + kh * g.kw * g.cin;
          for (int64_t kw = 0; kw < g.kw; ++kw) {
            const int64_t iw = ow * g.sw - g.pl + kw * g.dw;
            if (iw < 0 || iw >= g.w) continue;
            float* d = row + iw * xc;
            const float* s = dc + kw * g.cin;
            for (int64_t c = 0; c < g.cin; ++c) d[c] += s[c];
          }
        }
      }
    }
  });
}

// ---- sub-pixel (phase) data gradient of a strided conv -------------------------------------

// For stride (sh, sw) and dilation 1, dx pixel (ih, iw) only receives the taps kh with
// ih + pt - kh divisible by sh (and likewise kw): the pixels of one phase (ih % sh, iw % sw) =
// (py, px) take the same sub-kernel, taps kh0 + sh*j, kw0 + sw*i (ceil(KH / sh) x ceil(KW / sw)
// of them), and phase pixel (a, b) (ih = py + sh*a, iw = px + sw*b) reads dy at
// (a + oh_base - j, b + ow_base - i): a stride-1 correlation of dy with that sub-kernel. Each
// phase is one implicit GEMM, rows = its pixels, depth = (j, i, co) (taps x Cout: a long depth
// where col2im's is Cout alone), columns = Cin, written once to its strided dx pixels: no column
// buffer, no col2im, no zeroing of dx.
struct SubpixelPhase {
  int64_t py, px, rows, cols;  // phase and its grid of dx pixels (ceil((H - py) / sh), ...)
  int64_t kh0, kw0, tj, ti;    // first tap and tap counts (0: the phase receives nothing)
  int64_t oh_base, ow_base;    // dy row / column of phase pixel (0, 0) for tap (0, 0)
};

int64_t floor_mod(int64_t a, int64_t m) { return ((a % m) + m) % m; }

SubpixelPhase subpixel_phase(const Conv2dGeometry& g, int64_t py, int64_t px) {
  SubpixelPhase ph{};
  ph.py = py, ph.px = px;
  ph.rows = py < g.h ? (g.h - py + g.sh - 1) / g.sh : 0;
  ph.cols = px < g.w ? (g.w - px + g.sw - 1) / g.sw : 0;
  ph.kh0 = floor_mod(py + g.pt, g.sh), ph.kw0 = floor_mod(px + g.pl, g.sw);
  ph.tj = ph.kh0 < g.kh ? (g.kh - ph.kh0 + g.sh - 1) / g.sh : 0;
  ph.ti = ph.kw0 < g.kw ? (g.kw - ph.kw0 + g.sw - 1) / g.sw : 0;
  ph.oh_base = (py + g.pt - ph.kh0) / g.sh;  // exact: py + pt - kh0 is a multiple of sh
  ph.ow_base = (px + g.pl - ph.kw0) / g.sw;
  return ph;
}

// Packs the phase's B (depth (j, i, co) x Cin), B[(j, i, co), ci] = w[kh0 + sh*j, kw0 + sw*i,
// ci, co], whole, in depth blocks of kc: block b at b * kc * panels * nr, its panel q at
// q * nr * (that block's depth). Columns past Cin are zero.
void pack_subpixel_b(const Conv2dGeometry& g, const SubpixelPhase& ph, const float* w, int nr,
                     int64_t kc, float* dst) {
  const int64_t depth = ph.tj * ph.ti * g.cout, panels = (g.cin + nr - 1) / nr;
  const int64_t tail = g.cin - (panels - 1) * nr;  // columns of the last panel that hold weights
  for (int64_t p0 = 0; p0 < depth; p0 += kc) {
    const int64_t kcb = std::min(kc, depth - p0);
    float* block = dst + p0 * panels * nr;
    for (int64_t p = p0; p < p0 + kcb; ++p) {
      const int64_t co = p % g.cout, q = p / g.cout, i = q % ph.ti, j = q / ph.ti;
      const float* wrow = w + ((ph.kh0 + g.sh * j) * g.kw + ph.kw0 + g.sw * i) * g.cin * g.cout + co;
      // every column written once: weights, then zeros past Cin (no fill of the whole block first)
      for (int64_t q = 0; q < panels; ++q) {
        float* o = block + q * nr * kcb + (p - p0) * nr;
        const float* src = wrow + q * nr * g.cout;
        const int64_t cols = q + 1 < panels ? nr : tail;
        for (int64_t c = 0; c < cols; ++c) o[c] = src[c * g.cout];
        for (int64_t c = cols; c < nr; ++c) o[c] = 0.0f;
      }
    }
  }
}

// Packs A rows [i0, i0 + mc) (phase pixels (n, a, b), b fastest) x depth [p0, p0 + kc) into
// mr-row panels: per tap a contiguous run of dy's channels per row (a zero run outside dy), as
// pack_patches does for the forward.
void pack_subpixel_a(const Conv2dGeometry& g, const SubpixelPhase& ph, const float* dy, int mr,
                     int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* dst) {
  const RowPacker packer = row_packer(g.cout, mr);
  const int64_t end = p0 + kc;
  const float* img[gemm::kMaxMR];
  int64_t oh0[gemm::kMaxMR], ow0[gemm::kMaxMR];
  const float* src[gemm::kMaxMR];
  for (int64_t ir = 0; ir < mc; ir += mr) {
    const int rows = static_cast<int>(std::min<int64_t>(mr, mc - ir));
    for (int r = 0; r < mr; ++r) {
      const int64_t i = i0 + ir + std::min(r, rows - 1);
      const int64_t b = i % ph.cols, t = i / ph.cols, a = t % ph.rows, n = t / ph.rows;
      img[r] = dy + n * g.oh * g.ow * g.cout;
      oh0[r] = a + ph.oh_base;
      ow0[r] = b + ph.ow_base;
    }
    float* o = dst + ir * kc;
    int64_t co = p0 % g.cout, q = p0 / g.cout, ti = q % ph.ti, tj = q / ph.ti;
    for (int64_t p = p0; p < end;) {
      const int64_t len = std::min(g.cout - co, end - p);
      for (int r = 0; r < mr; ++r) {
        const int64_t oh = oh0[r] - tj, ow = ow0[r] - ti;
        const bool inside = r < rows && oh >= 0 && oh < g.oh && ow >= 0 && ow < g.ow;
        src[r] = inside ? img[r] + (oh * g.ow + ow) * g.cout + co : packer.zeros;
      }
      o = packer.pack(src, len, mr, o);
      p += len;
      co = 0;
      if (++ti == ph.ti) ti = 0, ++tj;
    }
  }
}

// Strided, dilation 1: the phases above, each cut into blocks of mc pixels; a block is one task
// (GEMM into a per-thread (mc, Cin) buffer that stays in L2, then each row copied to its dx
// pixel), so every dx element is written by one task and the result does not depend on threads.
// bias (Cin,) or nullptr: added in that copy (Conv2DTranspose's forward; no pass of its own).
void subpixel_backward_data(const Conv2dGeometry& g, const float* dy, const float* w,
                            const float* bias, float* dx) {
  const gemm::Kernel kern = gemm::packed_kernel(g.cin);
  const int mr = kern.mr, nr = kern.nr;
  const int64_t phases = g.sh * g.sw, panels = (g.cin + nr - 1) / nr;
  std::vector<SubpixelPhase> ph(static_cast<size_t>(phases));
  std::vector<int64_t> b_at(static_cast<size_t>(phases) + 1, 0), kc_of(static_cast<size_t>(phases));
  std::vector<int64_t> task_at(static_cast<size_t>(phases) + 1, 0);
  const int64_t mc = std::max<int64_t>(mr, kern.bs.mc / mr * mr);
  for (int64_t f = 0; f < phases; ++f) {
    ph[f] = subpixel_phase(g, f / g.sw, f % g.sw);
    const int64_t depth = ph[f].tj * ph[f].ti * g.cout;
    // depth blocks of equal length (a last block of a few steps would cost a pass over C)
    const int64_t blocks = std::max<int64_t>(1, (depth + kern.bs.kc - 1) / kern.bs.kc);
    kc_of[f] = std::max<int64_t>(1, (depth + blocks - 1) / blocks);
    b_at[f + 1] = b_at[f] + depth * panels * nr;
    const int64_t m = g.n * ph[f].rows * ph[f].cols;
    task_at[f + 1] = task_at[f] + (m + mc - 1) / mc;
  }
  float* b_all = scratch(1, std::max<int64_t>(1, b_at[phases]));
  const int64_t work = g.n * g.h * g.w * g.cin * g.cout * ((g.kh + g.sh - 1) / g.sh) *
                       ((g.kw + g.sw - 1) / g.sw);
  const bool threads = work >= (int64_t{1} << 16);
  parallel_for(0, phases, threads ? 1 : phases, [&](int64_t lo, int64_t hi) {
    for (int64_t f = lo; f < hi; ++f)
      if (ph[f].tj > 0 && ph[f].ti > 0) pack_subpixel_b(g, ph[f], w, nr, kc_of[f], b_all + b_at[f]);
  });
  const int64_t tasks = task_at[phases];
  const int64_t a_len = (mc + gemm::kMaxMR) * std::max<int64_t>(1, *std::max_element(kc_of.begin(), kc_of.end())) +
                        gemm::kPackSlack;
  parallel_for(0, tasks, threads ? 1 : tasks, [&](int64_t lo, int64_t hi) {
    float* a_buf = scratch(0, a_len + (mc + gemm::kMaxMR) * panels * nr);
    float* c_buf = a_buf + (a_len + 15) / 16 * 16;  // 64-byte aligned, as scratch is
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t f = std::upper_bound(task_at.begin(), task_at.end(), task) - task_at.begin() - 1;
      const SubpixelPhase& p = ph[f];
      const int64_t m = g.n * p.rows * p.cols, i0 = (task - task_at[f]) * mc;
      const int64_t rows = std::min(mc, m - i0), depth = p.tj * p.ti * g.cout, ldc = panels * nr;
      if (depth > 0) {
        const float* b_phase = b_all + b_at[f];
        for (int64_t p0 = 0; p0 < depth; p0 += kc_of[f]) {
          const int64_t kc = std::min(kc_of[f], depth - p0);
          pack_subpixel_a(g, p, dy, mr, i0, rows, p0, kc, a_buf);
          const gemm::UkrArgs args{1.0f, p0 == 0 ? 0.0f : 1.0f, nullptr, gemm::Activation::none};
          for (int64_t q = 0; q < panels; ++q) {
            const float* b = b_phase + p0 * panels * nr + q * nr * kc;
            for (int64_t ir = 0; ir < rows; ir += mr)
              kern.ukr(kc, a_buf + ir * kc, 1, mr, b, nr, c_buf + ir * ldc + q * nr, ldc,
                       static_cast<int>(std::min<int64_t>(mr, rows - ir)), nr, args);
          }
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = i0 + r, b = i % p.cols, t = i / p.cols, a = t % p.rows, n = t / p.rows;
        float* out = dx + ((n * g.h + p.py + g.sh * a) * g.w + p.px + g.sw * b) * g.cin;
        const float* row = c_buf + r * ldc;
        if (depth > 0 && bias)
          for (int64_t c = 0; c < g.cin; ++c) out[c] = row[c] + bias[c];
        else if (depth > 0)
          std::memcpy(out, row, sizeof(float) * g.cin);
        else if (bias)
          std::memcpy(out, bias, sizeof(float) * g.cin);
        else
          std::memset(out, 0, sizeof(float) * g.cin);
      }
    }
  });
}

// The AVX2 kernels of this file, through dw_direct, exist only on x86-64 (every other CPU runs
// the implicit GEMM on the portable micro-kernel).
#ifdef CORENN_X86_64

// ---- direct forward for short patches (AVX2) ------------------------------------------------

// y rows [r_lo, r_hi) of (n, oh): per pixel, CB 8-channel accumulators start at the bias and take
// one broadcast input value times a w row slice per tap (w stays in L1: depth x Cout floats).
// Interior pixels go two at a time: 2 x CB independent accumulators hide the FMA latency (CB = 4
// alone would wait on each chain) and each w slice loaded serves both pixels.
template <int CB>
__attribute__((target("avx2,fma"))) void fwd_direct_rows(const Conv2dGeometry& g, const float* x,
                                                         const float* w, const float* bias,
                                                         float* y, bool relu, int64_t r_lo,
                                                         int64_t r_hi, const int64_t* off) {
  const int64_t depth = g.depth();
  const int64_t span_h = (g.kh - 1) * g.dh, span_w = (g.kw - 1) * g.dw;
  const int64_t pixel_step = g.sw * g.cin;  // input offset between neighbouring output pixels
  const __m256 zero = _mm256_setzero_ps();
  auto inside_w = [&](int64_t ow) {
    const int64_t iw0 = ow * g.sw - g.pl;
    return iw0 >= 0 && iw0 + span_w < g.w;
  };
  for (int64_t r = r_lo; r < r_hi; ++r) {
    const int64_t n = r / g.oh, ih0 = r % g.oh * g.sh - g.pt;
    const float* img = x + n * g.h * g.w * g.cin;
    const bool rows_in = ih0 >= 0 && ih0 + span_h < g.h;
    for (int64_t ow = 0; ow < g.ow;) {
      const int64_t iw0 = ow * g.sw - g.pl;
      const float* base = img + (ih0 * g.w + iw0) * g.cin;
      float* yp = y + (r * g.ow + ow) * g.cout;
      if (rows_in && ow + 1 < g.ow && inside_w(ow) && inside_w(ow + 1)) {
        for (int64_t c0 = 0; c0 < g.cout; c0 += 8 * CB) {
          __m256 a0[CB], a1[CB];
          for (int c = 0; c < CB; ++c) a0[c] = a1[c] = bias ? _mm256_loadu_ps(bias + c0 + 8 * c) : zero;
          const float* wp = w + c0;
          for (int64_t t = 0; t < depth; ++t, wp += g.cout) {
            const __m256 x0 = _mm256_broadcast_ss(base + off[t]);
            const __m256 x1 = _mm256_broadcast_ss(base + off[t] + pixel_step);
            for (int c = 0; c < CB; ++c) {
              const __m256 wv = _mm256_loadu_ps(wp + 8 * c);
              a0[c] = _mm256_fmadd_ps(x0, wv, a0[c]);
              a1[c] = _mm256_fmadd_ps(x1, wv, a1[c]);
            }
          }
          for (int c = 0; c < CB; ++c) {
            _mm256_storeu_ps(yp + c0 + 8 * c, relu ? _mm256_max_ps(zero, a0[c]) : a0[c]);  // NaN kept
            _mm256_storeu_ps(yp + g.cout + c0 + 8 * c, relu ? _mm256_max_ps(zero, a1[c]) : a1[c]);
          }
        }
        ow += 2;
        continue;
      }
      const bool inside = rows_in && inside_w(ow);
      for (int64_t c0 = 0; c0 < g.cout; c0 += 8 * CB) {
        __m256 acc[CB];
        for (int c = 0; c < CB; ++c) acc[c] = bias ? _mm256_loadu_ps(bias + c0 + 8 * c) : zero;
        const float* wp = w + c0;
        for (int64_t t = 0; t < depth; ++t, wp += g.cout) {
          __m256 xv;
          if (inside) {
            xv = _mm256_broadcast_ss(base + off[t]);
          } else {
            const int64_t ci = t % g.cin, kw = t / g.cin % g.kw, kh = t / g.cin / g.kw;
            const int64_t ih = ih0 + kh * g.dh, iw = iw0 + kw * g.dw;
            if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
            xv = _mm256_set1_ps(img[(ih * g.w + iw) * g.cin + ci]);
          }
          for (int c = 0; c < CB; ++c) acc[c] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(wp + 8 * c), acc[c]);
        }
        for (int c = 0; c < CB; ++c)
          _mm256_storeu_ps(yp + c0 + 8 * c, relu ? _mm256_max_ps(zero, acc[c]) : acc[c]);
      }
      ++ow;
    }
  }
}

void fwd_direct(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                float* y, bool relu) {
  std::vector<int64_t> off(static_cast<size_t>(g.depth()));
  for (int64_t k = 0; k < g.depth(); ++k) {
    const int64_t ci = k % g.cin, kw = k / g.cin % g.kw, kh = k / g.cin / g.kw;
    off[k] = (kh * g.dh * g.w + kw * g.dw) * g.cin + ci;
  }
  const auto rows_fn = g.cout % 32 == 0 ? fwd_direct_rows<4>
                       : g.cout % 16 == 0 ? fwd_direct_rows<2> : fwd_direct_rows<1>;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / (g.ow * g.depth() * g.cout + 1));
  parallel_for(0, g.n * g.oh, grain, [&](int64_t lo, int64_t hi) {
    rows_fn(g, x, w, bias, y, relu, lo, hi, off.data());
  });
}

// ---- weight gradient on the micro-kernel (AVX2) ---------------------------------------------

// dw (K, Cout) = A^T (K, P) @ dy (P, Cout), P = output pixels, K = KH*KW*Cin patch positions: dw
// comes out in Keras layout, no transpose. A^T panels (6 positions x kc pixels) are packed per
// pixel as one or two masked 6-float copies when the panel's positions are one or two channel
// runs (Cin >= 6),
// dy panels (kc x 16) are plain copies; the driver is BLIS's (pixels in kc blocks, positions in
// mc blocks, B panel in L1 across the A panels). Against the generic GEMM on
// dy^T (Cout, P) @ A (P, K), whose B block (kc x K) outgrows L2: the CNN's conv 2 at batch 64,
// one core, 4.3 -> 4.0 ms (69% -> 73% of peak), and no transpose of dw afterwards.
struct DwPack {
  std::vector<int64_t> off;           // position k -> offset from the patch origin in x
  std::vector<int64_t> tap_h, tap_w;  // position k -> kh * dh, kw * dw (bounds at borders)
  // The same and the channel as int32, with kMR entries of slack past the depth (row_h there
  // never inside), for the border pixels' gathers; gather_ok: one image fits int32 offsets.
  std::vector<int32_t> row_h, row_w, row_ci;
  bool gather_ok = false;
  // panel i: 6 = its positions are one run of consecutive floats; 1..5 = two runs, the second
  // starting at that row (a tap boundary inside the panel); 0 = neither (tiny Cin, last panel)
  std::vector<int8_t> split;
};


DwPack make_dw_pack(const Conv2dGeometry& g) {
  const int64_t depth = g.depth(), panels = (depth + kMR - 1) / kMR;
  DwPack d{std::vector<int64_t>(depth),
           std::vector<int64_t>(depth),
           std::vector<int64_t>(depth),
           std::vector<int32_t>(depth + kMR, INT32_MIN / 2),
           std::vector<int32_t>(depth + kMR),
           std::vector<int32_t>(depth + kMR),
           g.h * g.w * g.cin < (int64_t{1} << 31),
           std::vector<int8_t>(panels)};
  for (int64_t k = 0; k < depth; ++k) {
    const int64_t ci = k % g.cin, kw = k / g.cin % g.kw, kh = k / g.cin / g.kw;
    d.tap_h[k] = kh * g.dh, d.tap_w[k] = kw * g.dw;
    d.off[k] = (d.tap_h[k] * g.w + d.tap_w[k]) * g.cin + ci;
    d.row_h[k] = static_cast<int32_t>(d.tap_h[k]), d.row_w[k] = static_cast<int32_t>(d.tap_w[k]);
    d.row_ci[k] = static_cast<int32_t>(ci);
  }
  for (int64_t i = 0; i < panels; ++i) {
    const int64_t k = i * kMR;
    if (k + kMR > depth) continue;
    int breaks = 0, at = kMR;
    for (int r = 1; r < kMR; ++r)
      if (d.off[k + r] != d.off[k + r - 1] + 1) ++breaks, at = r;
    d.split[i] = static_cast<int8_t>(breaks == 0 ? kMR : breaks == 1 ? at : 0);
  }
  return d;
}

// Patch origins of pixels [p0, p0 + kc): base = x at the patch's top-left when the whole patch
// is inside the image (nullptr otherwise), and the origin (image, row, column) for the checked path.
struct PixelOrigins {
  std::vector<const float*> base;
  std::vector<int64_t> n, ih0, iw0;
  void resize(int64_t kc) { base.resize(kc), n.resize(kc), ih0.resize(kc), iw0.resize(kc); }
};

void find_origins(const Conv2dGeometry& g, const float* x, int64_t p0, int64_t kc, PixelOrigins& po) {
  for (int64_t p = 0; p < kc; ++p) {
    const int64_t i = p0 + p, ow = i % g.ow, t = i / g.ow, oh = t % g.oh, n = t / g.oh;
    const int64_t ih0 = oh * g.sh - g.pt, iw0 = ow * g.sw - g.pl;
    const bool inside = ih0 >= 0 && ih0 + (g.kh - 1) * g.dh < g.h && iw0 >= 0 &&
                        iw0 + (g.kw - 1) * g.dw < g.w;
    po.base[p] = inside ? x + ((n * g.h + ih0) * g.w + iw0) * g.cin : nullptr;
    po.n[p] = n, po.ih0[p] = ih0, po.iw0[p] = iw0;
  }
}

// A^T panels of positions [k0, k0 + mc) x the block's kc pixels into dst (panel i at i*MR*kc).
// Writes up to 2 floats past the block (8-wide stores of 6 values): the buffer has slack.
__attribute__((target("avx2,fma"))) void pack_dw_a(const Conv2dGeometry& g, const DwPack& d,
                                                   const float* x, const PixelOrigins& po,
                                                   int64_t k0, int64_t mc, int64_t kc, float* dst) {
  const int64_t depth = g.depth();
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i six = _mm256_cmpgt_epi32(_mm256_set1_epi32(kMR), lane), minus_one = _mm256_set1_epi32(-1);
  const __m256i height = _mm256_set1_epi32(static_cast<int32_t>(g.h)),
                width = _mm256_set1_epi32(static_cast<int32_t>(g.w)),
                channels = _mm256_set1_epi32(static_cast<int32_t>(g.cin));
  for (int64_t ir = 0; ir < mc; ir += kMR) {
    const int64_t k = k0 + ir;
    const int rows = static_cast<int>(std::min<int64_t>(kMR, std::min(mc - ir, depth - k)));
    const int split = rows == kMR && k % kMR == 0 ? d.split[k / kMR] : 0;
    // lanes [0, split) from the first run, [split, 6) from the second (read from its start
    // minus split, so lane j meets its float); masked lanes are neither read nor faulted.
    const __m256i first = _mm256_cmpgt_epi32(_mm256_set1_epi32(split), lane);
    const __m256i second = _mm256_andnot_si256(first, _mm256_cmpgt_epi32(_mm256_set1_epi32(kMR), lane));
    const int64_t off1 = d.off[k], off2 = split > 0 && split < kMR ? d.off[k + split] - split : 0;
    float* o = dst + ir * kc;
    for (int64_t p = 0; p < kc; ++p, o += kMR) {
      const float* b = po.base[p];
      if (b) {  // the whole patch inside the image
        if (split == kMR)
          _mm256_storeu_ps(o, _mm256_maskload_ps(b + off1, first));
        else if (split > 0)
          _mm256_storeu_ps(o, _mm256_or_ps(_mm256_maskload_ps(b + off1, first),
                                           _mm256_maskload_ps(b + off2, second)));
        else
          for (int r = 0; r < kMR; ++r) o[r] = r < rows ? b[d.off[k + r]] : 0.0f;
        continue;
      }
      // border pixel: each row's tap bounds-checked in its lane
      const __m256i hh = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int32_t>(po.ih0[p])),
                                          _mm256_maskload_epi32(d.row_h.data() + k, six));
      const __m256i ww = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int32_t>(po.iw0[p])),
                                          _mm256_maskload_epi32(d.row_w.data() + k, six));
      const __m256i ok = _mm256_and_si256(
          _mm256_and_si256(six, _mm256_cmpgt_epi32(hh, minus_one)),
          _mm256_and_si256(_mm256_cmpgt_epi32(height, hh),
                           _mm256_and_si256(_mm256_cmpgt_epi32(ww, minus_one), _mm256_cmpgt_epi32(width, ww))));
      if (split > 0) {
        // the panel's runs, as for an inside pixel, each under its lanes and ok (maskload neither
        // reads nor faults on a masked lane, so a run may start outside the image: its address
        // is formed as an integer); a gather with its index arithmetic cost far more
        const intptr_t origin =
            reinterpret_cast<intptr_t>(x + po.n[p] * g.h * g.w * g.cin) +
            static_cast<intptr_t>((po.ih0[p] * g.w + po.iw0[p]) * g.cin) * static_cast<intptr_t>(sizeof(float));
        const auto at = [&](int64_t off) {
          return reinterpret_cast<const float*>(origin + static_cast<intptr_t>(off) * static_cast<intptr_t>(sizeof(float)));
        };
        __m256 v = _mm256_maskload_ps(at(off1), _mm256_and_si256(first, ok));
        if (split < kMR) v = _mm256_or_ps(v, _mm256_maskload_ps(at(off2), _mm256_and_si256(second, ok)));
        _mm256_storeu_ps(o, v);
      } else if (d.gather_ok) {  // no run structure (tiny Cin, the last panel): gathered
        const __m256i idx = _mm256_add_epi32(
            _mm256_mullo_epi32(_mm256_add_epi32(_mm256_mullo_epi32(hh, width), ww), channels),
            _mm256_maskload_epi32(d.row_ci.data() + k, six));
        const float* image = x + po.n[p] * g.h * g.w * g.cin;
        _mm256_storeu_ps(o, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), image, idx,
                                                     _mm256_castsi256_ps(ok), 4));
      } else {  // border pixel of an image too large for int32 offsets
        for (int r = 0; r < kMR; ++r) {
          float v = 0.0f;
          if (r < rows) {
            const int64_t kk = k + r, hh = po.ih0[p] + d.tap_h[kk], ww = po.iw0[p] + d.tap_w[kk];
            if (hh >= 0 && hh < g.h && ww >= 0 && ww < g.w)
              v = x[((po.n[p] * g.h + hh) * g.w + ww) * g.cin + d.row_ci[kk]];
          }
          o[r] = v;
        }
      }
    }
  }
}

// dy rows [p0, p0 + kc) as NR-column panels (zero columns past Cout).
void pack_dw_b(const Conv2dGeometry& g, const float* dy, int64_t p0, int64_t kc, float* dst) {
  for (int64_t j = 0; j < g.cout; j += kNR, dst += kNR * kc) {
    const int64_t cols = std::min<int64_t>(kNR, g.cout - j);
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = dy + (p0 + p) * g.cout + j;
      float* o = dst + p * kNR;
      std::memcpy(o, src, sizeof(float) * cols);
      for (int64_t c = cols; c < kNR; ++c) o[c] = 0.0f;
    }
  }
}

constexpr int64_t kDwKc = 256;   // pixels per block: the dy panel (16 KB) stays in L1
constexpr int64_t kDwMc = 144;   // positions per block: the A^T block (144 KB) stays in L2

static_assert((kDwMc * kDwKc + 16) % 16 == 0, "the dy panels must start 64-byte aligned");

// A block (+ 16 floats of slack for pack_dw_a's spills, keeping B 64-byte aligned), then B.
int64_t dw_workspace_floats(const Conv2dGeometry& g) {
  return kDwMc * kDwKc + 16 + ((g.cout + kNR - 1) / kNR) * kNR * kDwKc;
}

// dw (K, Cout) += or = (first block) over pixels [p_lo, p_hi); ws has dw_workspace_floats.
void dw_gemm_avx2(const Conv2dGeometry& g, const DwPack& d, const float* x, const float* dy,
                  int64_t p_lo, int64_t p_hi, float* dw, float* ws) {
  const int64_t depth = g.depth();
  // The micro-kernel's packed path loads B panels aligned: ws is 64-byte aligned (scratch), and
  // so are both offsets (kDwMc * kDwKc + 16 floats; panel j at j * NR * kc floats).
  float* a_buf = ws;
  float* b_buf = ws + kDwMc * kDwKc + 16;
  PixelOrigins po;
  po.resize(kDwKc);
  for (int64_t p0 = p_lo; p0 < p_hi; p0 += kDwKc) {
    const int64_t kc = std::min(kDwKc, p_hi - p0);
    const gemm::UkrArgs args{1.0f, p0 == p_lo ? 0.0f : 1.0f, nullptr, gemm::Activation::none};
    pack_dw_b(g, dy, p0, kc, b_buf);
    find_origins(g, x, p0, kc, po);
    for (int64_t k0 = 0; k0 < depth; k0 += kDwMc) {
      const int64_t mc = std::min(kDwMc, depth - k0);
      pack_dw_a(g, d, x, po, k0, mc, kc, a_buf);
      for (int64_t j = 0; j < g.cout; j += kNR) {
        const float* b = b_buf + j * kc;
        const int n = static_cast<int>(std::min<int64_t>(kNR, g.cout - j));
        for (int64_t ir = 0; ir < mc; ir += kMR)
          gemm::gemm_ukr_avx2_f32_6x16(kc, a_buf + ir * kc, 1, kMR, b, kNR,
                                       dw + (k0 + ir) * g.cout + j, g.cout,
                                       static_cast<int>(std::min<int64_t>(kMR, mc - ir)), n, args);
      }
    }
  }
}

// ---- conv + relu + 2x2 max pool in one pass (small Cin, AVX2) --------------------------------

// One 16-channel block [c0, c0 + 16) of conv output pixel (oh, ow) into a[0..1], bias + taps,
// with bounds checks (border pixels of a padded conv).
__attribute__((target("avx2,fma"))) inline void conv_pixel16(const Conv2dGeometry& g,
                                                              const float* img, const float* w,
                                                              const float* bias, int64_t oh,
                                                              int64_t ow, int64_t c0, __m256 a[2]) {
  a[0] = bias ? _mm256_loadu_ps(bias + c0) : _mm256_setzero_ps();
  a[1] = bias ? _mm256_loadu_ps(bias + c0 + 8) : _mm256_setzero_ps();
  for (int64_t kh = 0; kh < g.kh; ++kh) {
    const int64_t ih = oh - g.pt + kh;
    if (ih < 0 || ih >= g.h) continue;
    for (int64_t kw = 0; kw < g.kw; ++kw) {
      const int64_t iw = ow - g.pl + kw;
      if (iw < 0 || iw >= g.w) continue;
      const float* xp = img + (ih * g.w + iw) * g.cin;
      const float* wp = w + (kh * g.kw + kw) * g.cin * g.cout + c0;
      for (int64_t ci = 0; ci < g.cin; ++ci, wp += g.cout) {
        const __m256 xv = _mm256_set1_ps(xp[ci]);
        a[0] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(wp), a[0]);
        a[1] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(wp + 8), a[1]);
      }
    }
  }
}

// relu, then max over the window's 4 cells with the argmax in window order (a strictly greater
// value replaces: the first maximum wins), for one 8-channel slice; stores y and argmax.
// NaN as max_pool2d (pool2d.cpp): relu keeps it (zero first in MAXPS), and a NaN cell wins unless
// best is NaN already: !(r <= best) && best == best, so the first NaN is the max and its argmax.
__attribute__((target("avx2,fma"), always_inline)) inline void relu_max4_store(
    __m256 v0, __m256 v1, __m256 v2, __m256 v3, const int32_t idx[4], float* y, int32_t* argmax) {
  const __m256 zero = _mm256_setzero_ps();
  __m256 best = _mm256_max_ps(zero, v0);
  __m256 best_idx = _mm256_castsi256_ps(_mm256_set1_epi32(idx[0]));
  const __m256 v[3] = {v1, v2, v3};
  for (int q = 1; q < 4; ++q) {
    const __m256 r = _mm256_max_ps(zero, v[q - 1]);
    const __m256 gt = _mm256_and_ps(_mm256_cmp_ps(r, best, _CMP_NLE_UQ), _mm256_cmp_ps(best, best, _CMP_ORD_Q));
    best = _mm256_blendv_ps(best, r, gt);
    best_idx = _mm256_blendv_ps(best_idx, _mm256_castsi256_ps(_mm256_set1_epi32(idx[q])), gt);
  }
  _mm256_storeu_ps(y, best);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(argmax), _mm256_castps_si256(best_idx));
}

// Pooled rows [r_lo, r_hi) of (n, ph). Per pooled cell and 16-channel block the four conv pixels
// of its window keep 8 accumulators in registers (enough to hide the FMA latency); border
// windows of a padded conv go through conv_pixel16.
__attribute__((target("avx2,fma"))) void fwd_relu_pool_rows(const Conv2dGeometry& g,
                                                            const float* x, const float* w,
                                                            const float* bias, float* y,
                                                            int32_t* argmax, int64_t r_lo,
                                                            int64_t r_hi, const int64_t* off) {
  const int64_t ph_n = g.oh / 2, pw_n = g.ow / 2, depth = g.depth();
  const int64_t right = g.cin, down = g.w * g.cin;  // window cell offsets in x
  const __m256 zero = _mm256_setzero_ps();
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
        for (int64_t c0 = 0; c0 < g.cout; c0 += 16) {
          __m256 a[4][2];
          for (int q = 0; q < 4; ++q) conv_pixel16(g, img, w, bias, oh + q / 2, ow + q % 2, c0, a[q]);
          for (int h = 0; h < 2; ++h)
            relu_max4_store(a[0][h], a[1][h], a[2][h], a[3][h], idx, yc + c0 + 8 * h, ac + c0 + 8 * h);
        }
        continue;
      }
      const float* base = img + (ih0 * g.w + iw0) * g.cin;
      for (int64_t c0 = 0; c0 < g.cout; c0 += 16) {
        __m256 b0 = bias ? _mm256_loadu_ps(bias + c0) : zero;
        __m256 b1 = bias ? _mm256_loadu_ps(bias + c0 + 8) : zero;
        __m256 a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
        const float* wp = w + c0;
        for (int64_t t = 0; t < depth; ++t, wp += g.cout) {
          const __m256 w0 = _mm256_loadu_ps(wp), w1 = _mm256_loadu_ps(wp + 8);
          const float* xp = base + off[t];
          __m256 xv = _mm256_broadcast_ss(xp);
          a00 = _mm256_fmadd_ps(xv, w0, a00);
          a01 = _mm256_fmadd_ps(xv, w1, a01);
          xv = _mm256_broadcast_ss(xp + right);
          a10 = _mm256_fmadd_ps(xv, w0, a10);
          a11 = _mm256_fmadd_ps(xv, w1, a11);
          xv = _mm256_broadcast_ss(xp + down);
          a20 = _mm256_fmadd_ps(xv, w0, a20);
          a21 = _mm256_fmadd_ps(xv, w1, a21);
          xv = _mm256_broadcast_ss(xp + down + right);
          a30 = _mm256_fmadd_ps(xv, w0, a30);
          a31 = _mm256_fmadd_ps(xv, w1, a31);
        }
        relu_max4_store(a00, a10, a20, a30, idx, yc + c0, ac + c0);
        relu_max4_store(a01, a11, a21, a31, idx, yc + c0 + 8, ac + c0 + 8);
      }
    }
  }
}

// ---- direct weight gradient for short patches (AVX2) ----------------------------------------

// dw rows [t0, t0 + NT) (taps, i.e. (kh, kw, ci)) over output rows [r_lo, r_hi) of (n, oh):
// for each pixel, dy's 8-channel slice is FMA'd into NT accumulators with the tap's input value
// broadcast. off[t] is the tap's offset from the patch origin when the whole patch is inside.
template <int NT>
__attribute__((target("avx2,fma"))) void dw_direct_taps(const Conv2dGeometry& g, const float* x,
                                                        const float* dy, int64_t r_lo,
                                                        int64_t r_hi, int64_t t0,
                                                        const int64_t* off, float* dw, float* db) {
  int64_t tkh[NT], tkw[NT], tci[NT], o[NT];  // o: a local copy, one load per tap (not two)
  for (int t = 0; t < NT; ++t) {
    const int64_t k = t0 + t;
    tci[t] = k % g.cin, tkw[t] = k / g.cin % g.kw, tkh[t] = k / g.cin / g.kw;
    o[t] = off[k];
  }
  const int64_t span_h = (g.kh - 1) * g.dh, span_w = (g.kw - 1) * g.dw;
  // Output rows go in blocks whose dy (~16 KB) stays in L1 across the Cout / 8 channel passes, so
  // dy streams from memory once (a pass over all rows per 8 channels read it Cout / 16 times);
  // the accumulators go back to dw between blocks, a few loads per hundreds of FMAs.
  const int64_t block = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, g.ow * g.cout));
  for (int64_t rb = r_lo; rb < r_hi; rb += block) {
    const int64_t re = std::min(r_hi, rb + block);
    prefetch_rows(dy, g.ow * g.cout, std::min(r_hi, rb + 2 * block), std::min(r_hi, rb + 3 * block));
    for (int64_t c0 = 0; c0 < g.cout; c0 += 8) {
      __m256 acc[NT], acc_bias = _mm256_setzero_ps();
      for (int t = 0; t < NT; ++t)
        acc[t] = rb == r_lo ? _mm256_setzero_ps() : _mm256_loadu_ps(dw + (t0 + t) * g.cout + c0);
      if (db && rb != r_lo) acc_bias = _mm256_loadu_ps(db + c0);
      for (int64_t r = rb; r < re; ++r) {
        const int64_t n = r / g.oh, ih0 = r % g.oh * g.sh - g.pt;
        const float* img = x + n * g.h * g.w * g.cin;
        const float* d = dy + r * g.ow * g.cout + c0;
        const bool rows_in = ih0 >= 0 && ih0 + span_h < g.h;
        for (int64_t ow = 0; ow < g.ow; ++ow, d += g.cout) {
          const __m256 dv = _mm256_loadu_ps(d);
          if (db) acc_bias = _mm256_add_ps(acc_bias, dv);  // the bias gradient rides along, once
          const int64_t iw0 = ow * g.sw - g.pl;
          if (rows_in && iw0 >= 0 && iw0 + span_w < g.w) {
            const float* base = img + (ih0 * g.w + iw0) * g.cin;
            for (int t = 0; t < NT; ++t)
              acc[t] = _mm256_fmadd_ps(_mm256_broadcast_ss(base + o[t]), dv, acc[t]);
          } else {
            for (int t = 0; t < NT; ++t) {
              const int64_t ih = ih0 + tkh[t] * g.dh, iw = iw0 + tkw[t] * g.dw;
              if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
              const __m256 xv = _mm256_set1_ps(img[(ih * g.w + iw) * g.cin + tci[t]]);
              acc[t] = _mm256_fmadd_ps(xv, dv, acc[t]);
            }
          }
        }
      }
      for (int t = 0; t < NT; ++t) _mm256_storeu_ps(dw + (t0 + t) * g.cout + c0, acc[t]);
      if (db) _mm256_storeu_ps(db + c0, acc_bias);
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

constexpr int kDirectMaxTaps = 12;  // accumulators held in registers per pass

// The same through relu + 2x2/2 max pooling, for a first layer (no input gradient): dz, the conv
// output's gradient, is dy_pool routed to each window's argmax and masked by relu' = [y_pool > 0],
// so three quarters of it are zeros. Rows r here are pooled rows (n, py). Per pooled pixel and
// 8-channel slice, g = dy * [y > 0] (also the bias gradient), and for each of the window's 4 conv
// cells, g restricted to the channels whose argmax is that cell goes into the taps' accumulators
// with the cell's input patch: the FMAs of dw_direct_taps over the conv output, without writing
// the full-size dz (max_pool2d_backward) and reading it back. The tap setup and the patch loop
// repeat dw_direct_taps' on purpose: moved into a shared struct and helper, GCC kept the
// accumulators in memory and dw_direct ran 1.7x slower (conv1 weights 670 -> 1140 us).
template <int NT>
__attribute__((target("avx2,fma"))) void dw_pool_taps(const Conv2dGeometry& g, const float* x,
                                                      const float* dy, const float* y,
                                                      const int32_t* argmax, int64_t r_lo,
                                                      int64_t r_hi, int64_t t0, const int64_t* off,
                                                      float* dw, float* db, std::atomic<bool>* missed) {
  // A lane whose winner is none of its window's 4 cells is counted in `lost`: the forward never
  // produces one, and its gradient would vanish, so the entry refuses the call (free here: the
  // 4 compares are made anyway).
  __m256i lost = _mm256_setzero_si256();
  int64_t tkh[NT], tkw[NT], tci[NT], o[NT];
  for (int t = 0; t < NT; ++t) {
    const int64_t k = t0 + t;
    tci[t] = k % g.cin, tkw[t] = k / g.cin % g.kw, tkh[t] = k / g.cin / g.kw;
    o[t] = off[k];
  }
  const int64_t ph = g.oh / 2, pw = g.ow / 2;
  const __m256 zero = _mm256_setzero_ps();
  const int64_t block = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, pw * g.cout));
  for (int64_t rb = r_lo; rb < r_hi; rb += block) {
    const int64_t re = std::min(r_hi, rb + block);
    for (int64_t c0 = 0; c0 < g.cout; c0 += 8) {
      __m256 acc[NT], acc_bias = _mm256_setzero_ps();
      for (int t = 0; t < NT; ++t)
        acc[t] = rb == r_lo ? _mm256_setzero_ps() : _mm256_loadu_ps(dw + (t0 + t) * g.cout + c0);
      if (db && rb != r_lo) acc_bias = _mm256_loadu_ps(db + c0);
      for (int64_t r = rb; r < re; ++r) {
        const int64_t n = r / ph, py = r % ph;
        const float* img = x + n * g.h * g.w * g.cin;
        for (int64_t px = 0; px < pw; ++px) {
          const int64_t at = (r * pw + px) * g.cout + c0;
          // dy * relu' as activation.cpp's relu backward: y > 0 ? dy : dy * y (y = +-0 or NaN
          // there), so a NaN dy at a dead unit, or a NaN y, stays NaN
          const __m256 dyv = _mm256_loadu_ps(dy + at), yv = _mm256_loadu_ps(y + at);
          const __m256 gv = _mm256_blendv_ps(_mm256_mul_ps(dyv, yv), dyv, _mm256_cmp_ps(yv, zero, _CMP_GT_OQ));
          if (db) acc_bias = _mm256_add_ps(acc_bias, gv);
          const __m256i winner =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(argmax + at));
          __m256i found = _mm256_setzero_si256();
          for (int q = 0; q < 4; ++q) {
            const int64_t oy = 2 * py + (q >> 1), ox = 2 * px + (q & 1);
            const __m256i hit =
                _mm256_cmpeq_epi32(winner, _mm256_set1_epi32(static_cast<int32_t>(oy * g.ow + ox)));
            found = _mm256_or_si256(found, hit);
            if (_mm256_testz_si256(hit, hit)) continue;  // no channel's maximum sits here
            const __m256 gq = _mm256_and_ps(gv, _mm256_castsi256_ps(hit));
            const int64_t ih0 = oy - g.pt, iw0 = ox - g.pl;
            if (ih0 >= 0 && ih0 + g.kh <= g.h && iw0 >= 0 && iw0 + g.kw <= g.w) {
              const float* base = img + (ih0 * g.w + iw0) * g.cin;
              for (int t = 0; t < NT; ++t)
                acc[t] = _mm256_fmadd_ps(_mm256_broadcast_ss(base + o[t]), gq, acc[t]);
            } else {
              for (int t = 0; t < NT; ++t) {
                const int64_t ih = ih0 + tkh[t], iw = iw0 + tkw[t];
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                const __m256 xv = _mm256_set1_ps(img[(ih * g.w + iw) * g.cin + tci[t]]);
                acc[t] = _mm256_fmadd_ps(xv, gq, acc[t]);
              }
            }
          }
          lost = _mm256_or_si256(lost, _mm256_xor_si256(found, _mm256_set1_epi32(-1)));
        }
      }
      for (int t = 0; t < NT; ++t) _mm256_storeu_ps(dw + (t0 + t) * g.cout + c0, acc[t]);
      if (db) _mm256_storeu_ps(db + c0, acc_bias);
    }
  }
  if (!_mm256_testz_si256(lost, lost)) missed->store(true, std::memory_order_relaxed);
}

using DwPoolTapsFn = void (*)(const Conv2dGeometry&, const float*, const float*, const float*,
                              const int32_t*, int64_t, int64_t, int64_t, const int64_t*, float*,
                              float*, std::atomic<bool>*);

template <int... I>
DwPoolTapsFn dw_pool_taps_fn(int nt, std::integer_sequence<int, I...>) {
  static constexpr DwPoolTapsFn table[] = {dw_pool_taps<I + 1>...};
  return table[nt - 1];
}

// Runs taps(nt, r_lo, r_hi, t0, off, part_dw, part_db) over `rows` rows split across threads, in
// passes of at most max_taps taps (off[k]: tap k's offset from the patch origin), each thread
// summing into its own partial dw and db; the partials are added in thread order (reproducible).
// `work` (multiply-adds) decides whether threads pay off. The AVX-512 kernels call it through
// direct_dw_run (conv2d_kernels.h).
template <class Taps>
void direct_dw_driver(const Conv2dGeometry& g, int64_t rows, int64_t work, int max_taps,
                      float* dw, float* db, const Taps& taps) {
  const int64_t depth = g.depth(), size = depth * g.cout;
  std::vector<int64_t> off(static_cast<size_t>(depth));
  for (int64_t k = 0; k < depth; ++k) {
    const int64_t ci = k % g.cin, kw = k / g.cin % g.kw, kh = k / g.cin / g.kw;
    off[k] = (kh * g.dh * g.w + kw * g.dw) * g.cin + ci;
  }
  const int64_t passes = (depth + max_taps - 1) / max_taps;
  const int64_t per_pass = (depth + passes - 1) / passes;
  const int parts = work < (int64_t{1} << 16) ? 1 : std::max(1, get_num_threads());
  const int64_t stride = size + g.cout;  // a part's dw, then its db
  float* partial = scratch(0, parts * stride);
  parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t r_lo = rows * t / parts, r_hi = rows * (t + 1) / parts;
      for (int64_t t0 = 0; t0 < depth; t0 += per_pass) {
        const int nt = static_cast<int>(std::min(per_pass, depth - t0));
        taps(nt, r_lo, r_hi, t0, off.data(), partial + t * stride,
             db && t0 == 0 ? partial + t * stride + size : nullptr);
      }
    }
  });
  sum_parts(partial, parts, stride);
  std::memcpy(dw, partial, sizeof(float) * size);
  if (db) std::memcpy(db, partial + size, sizeof(float) * g.cout);
}

// Same rule for the forward pass.
bool direct_shape_ok(const Conv2dGeometry& g) { return g.cin <= 4 && g.cout % 8 == 0; }

// dw (depth, Cout) = sum over pixels of patch^T dy. Output rows are split over threads, each
// summing into its own partial dw; the partials are then added in thread order (reproducible).
void dw_direct(const Conv2dGeometry& g, const float* x, const float* dy, float* dw, float* db) {
  const int64_t rows = g.n * g.oh;
  direct_dw_driver(g, rows, rows * g.ow * g.depth() * g.cout, kDirectMaxTaps, dw, db,
                   [&](int nt, int64_t r_lo, int64_t r_hi, int64_t t0, const int64_t* off,
                       float* part_dw, float* part_db) {
                     dw_taps_fn(nt, std::make_integer_sequence<int, kDirectMaxTaps>())(
                         g, x, dy, r_lo, r_hi, t0, off, part_dw, part_db);
                   });
}

void direct_relu_pool_forward(const Conv2dGeometry& g, const float* x, const float* w,
                              const float* bias, float* y, int32_t* argmax) {
  const int64_t ph_n = g.oh / 2, pw_n = g.ow / 2;
  std::vector<int64_t> off(static_cast<size_t>(g.depth()));
  for (int64_t k = 0; k < g.depth(); ++k)
    off[k] = (k / g.cin / g.kw * g.w + k / g.cin % g.kw) * g.cin + k % g.cin;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / (4 * pw_n * g.depth() * g.cout + 1));
  parallel_for(0, g.n * ph_n, grain, [&](int64_t lo, int64_t hi) {
    fwd_relu_pool_rows(g, x, w, bias, y, argmax, lo, hi, off.data());
  });
}

bool direct_relu_pool_weights(const Conv2dGeometry& g, const float* x, const float* dy,
                              const float* y, const int32_t* argmax, float* dw, float* db) {
  const int64_t ph = g.oh / 2;
  std::atomic<bool> missed{false};
  direct_dw_driver(g, g.n * ph, g.n * g.oh * g.ow * g.depth() * g.cout, kDirectMaxTaps, dw, db,
                   [&](int nt, int64_t r_lo, int64_t r_hi, int64_t t0, const int64_t* off,
                       float* part_dw, float* part_db) {
                     dw_pool_taps_fn(nt, std::make_integer_sequence<int, kDirectMaxTaps>())(
                         g, x, dy, y, argmax, r_lo, r_hi, t0, off, part_dw, part_db, &missed);
                   });
  return !missed.load();
}

void weights_gemm_part_avx2(const Conv2dGeometry& g, const float* x, const float* dy, int64_t p_lo,
                            int64_t p_hi, float* dw_part, float* ws) {
  dw_gemm_avx2(g, make_dw_pack(g), x, dy, p_lo, p_hi, dw_part, ws);
}

constexpr ConvKernels kAvx2ConvKernels{gemm::pack_a_rows_avx2,
                                       kMR,
                                       winograd_forward_avx2,
                                       winograd_backward_weights_avx2,
                                       direct_shape_ok,
                                       fwd_direct,
                                       dw_direct,
                                       direct_relu_pool_forward,
                                       direct_relu_pool_weights,
                                       dw_workspace_floats,
                                       weights_gemm_part_avx2,
                                       nullptr,
                                       nullptr,
                                       nullptr,
                                       winograd_kernel_floats_avx2,
                                       winograd_transform_kernel_avx2,
                                       winograd_forward_transformed_avx2};
CORENN_REGISTER_KERNEL(conv2d_kernels_stub, Slot::avx2, &kAvx2ConvKernels);

#endif  // CORENN_X86_64

// Stride-1 data gradient: the flipped forward conv does (input pixels / output pixels) times the
// col2im GEMM's flops, on a GEMM with N = Cin; col2im's GEMM has K = Cout and pays an extra pass
// over its (pixels, K) buffer. Measured on the 2-core AVX2 machine (best of 10, ms, flip / col2im):
// 13x13x32->64 valid 6.2 / 3.4, same 6.1 / 4.6; 5x5x64->64 valid 1.47 / 0.47; 32x32x3->32 same
// 1.28 / 0.51; 32x32x64->64 same 12.8 / 13.5; 30x30x32->32 valid 3.0 / 3.9.
bool prefer_flipped_forward(const Conv2dGeometry& g) {
  const bool border_heavy = 4 * g.h * g.w > 5 * g.oh * g.ow;
  return g.cin >= 16 && g.cout < 2 * g.cin && !border_heavy;
}

}  // namespace

#ifdef CORENN_X86_64

void direct_dw_run(const Conv2dGeometry& g, int64_t rows, int64_t work, int max_taps, float* dw,
                   float* db, const DirectTapsFn& taps) {
  direct_dw_driver(g, rows, work, max_taps, dw, db, taps);
}

const DwPanelRuns* dw_panel_runs(const Conv2dGeometry& g, int mr) {
  thread_local std::vector<DwPanelRuns> runs;
  const int64_t depth = g.depth(), panels = (depth + mr - 1) / mr;
  runs.assign(static_cast<size_t>(panels), DwPanelRuns{});
  auto offset = [&](int64_t k) {
    const int64_t ci = k % g.cin, kw = k / g.cin % g.kw, kh = k / g.cin / g.kw;
    return (kh * g.dh * g.w + kw * g.dw) * g.cin + ci;
  };
  for (int64_t i = 0; i < panels; ++i) {
    DwPanelRuns& r = runs[i];
    const int64_t k0 = i * mr;
    const int rows = static_cast<int>(std::min<int64_t>(mr, depth - k0));
    for (int row = 0; row < mr; ++row) {
      const int64_t k = k0 + row;
      r.tap_h[row] = row < rows ? static_cast<int32_t>(k / g.cin / g.kw * g.dh) : INT32_MIN / 2;
      r.tap_w[row] = row < rows ? static_cast<int32_t>(k / g.cin % g.kw * g.dw) : 0;
    }
    for (int s = 0; s < rows;) {  // a run: rows [s, e) whose taps are consecutive floats of x
      int e = s + 1;
      while (e < rows && offset(k0 + e) == offset(k0 + e - 1) + 1) ++e;
      r.mask[r.count] = static_cast<uint32_t>(((uint64_t{1} << e) - 1) & ~((uint64_t{1} << s) - 1));
      r.shifted_off[r.count] = offset(k0 + s) - s;
      ++r.count;
      s = e;
    }
  }
  return runs.data();
}

const int64_t* direct_tap_offsets(const Conv2dGeometry& g) {
  thread_local std::vector<int64_t> off;
  off.resize(static_cast<size_t>(g.depth()));
  for (int64_t k = 0; k < g.depth(); ++k) {
    const int64_t ci = k % g.cin, kw = k / g.cin % g.kw, kh = k / g.cin / g.kw;
    off[k] = (kh * g.dh * g.w + kw * g.dw) * g.cin + ci;
  }
  return off.data();
}
#endif

// ---- algorithm choice (one place, so the query in ops/conv2d.h cannot drift from the entries) --

// Grouped convs run the implicit GEMM per group (its packers take a channel offset and the row
// length through the group geometry); Winograd and the direct loops index whole rows.
ConvAlgo conv2d_forward_algo(const Conv2dGeometry& g) {
  if (g.groups > 1) return ConvAlgo::implicit_gemm;
  if (is_pointwise(g)) return ConvAlgo::pointwise_gemm;
  if (use_winograd4(g)) return ConvAlgo::winograd4;
  if (use_winograd(g)) return ConvAlgo::winograd;
  if (use_direct_dw(g)) return ConvAlgo::direct;
  return ConvAlgo::implicit_gemm;
}

ConvAlgo conv2d_weights_algo(const Conv2dGeometry& g) {
  if (g.groups > 1) return ConvAlgo::implicit_gemm;
  if (use_winograd4(g)) return ConvAlgo::winograd4;
  if (use_winograd(g)) return ConvAlgo::winograd;
  if (use_direct_dw(g)) return ConvAlgo::direct;
  return ConvAlgo::implicit_gemm;
}

Conv2dGeometry group_geometry(const Conv2dGeometry& g) {
  Conv2dGeometry gg = g;
  gg.cin = g.cin / g.groups, gg.cout = g.cout / g.groups, gg.groups = 1;
  gg.x_ld = g.cin, gg.y_ld = g.cout;
  return gg;
}

Conv2dGeometry flipped_geometry(const Conv2dGeometry& g) {
  return {g.n, g.oh, g.ow, g.cout, g.kh, g.kw, g.cin, g.h, g.w,
          1, 1, (g.kh - 1) * g.dh - g.pt, (g.kw - 1) * g.dw - g.pl, g.dh, g.dw};
}

// The sub-pixel data gradient: strided, no dilation, and enough dx channels that its GEMM's
// columns (Cin) fill the tile at least half (col2im's GEMM has KH*KW*Cin columns, so it keeps a
// conv with few input channels, e.g. a decoder's last layer to 1-3 channels). bench_conv, one
// thread, CPU clock, AVX-512, best of 7 alternated with the col2im build (us): Conv2DTranspose
// 7x7x128->64 k4 s2 forward 5204 -> 4382 (79 -> 94 GFLOP/s), 14x14x64->32 k3 s2
// 2883 -> 2904 (even: its phases are 1-4 taps of 64 channels, col2im's depth is 64 too).
bool use_subpixel(const Conv2dGeometry& g) {
  if ((g.sh == 1 && g.sw == 1) || g.dh != 1 || g.dw != 1) return false;
  return 2 * g.cin >= gemm::packed_kernel(g.cin).nr;
}

ConvAlgo conv2d_data_algo(const Conv2dGeometry& g) {
  if (g.groups > 1) return ConvAlgo::col2im_gemm;
  if (is_pointwise(g)) return ConvAlgo::pointwise_gemm;
  if (g.sh == 1 && g.sw == 1 &&
      (use_winograd(flipped_geometry(g)) || prefer_flipped_forward(g)))
    return ConvAlgo::flipped_forward;
  if (use_subpixel(g)) return ConvAlgo::subpixel_gemm;
  return ConvAlgo::col2im_gemm;
}

const char* conv_algo_name(ConvAlgo algo) {
  switch (algo) {
    case ConvAlgo::pointwise_gemm: return "pointwise_gemm";
    case ConvAlgo::winograd: return "winograd_f2x2_3x3";
    case ConvAlgo::winograd4: return "winograd_f4x4_3x3";
    case ConvAlgo::direct: return "direct";
    case ConvAlgo::implicit_gemm: return "implicit_gemm";
    case ConvAlgo::flipped_forward: return "flipped_forward";
    case ConvAlgo::col2im_gemm: return "col2im_gemm";
    case ConvAlgo::subpixel_gemm: return "subpixel_gemm";
  }
  return "?";
}

// ---- what inference keeps on a conv's weight (core/kept_derived.h) -----------------------------
//
// At batch 1 the work that depends only on the weight is a large share of a conv's forward: the
// implicit GEMM packs all of w (5x5x64 -> 64: 147 KB) for 9 output pixels, Winograd transforms
// it (G w G^T, 16 / 9 of w's size) for 36 tiles. With keep_w (a layer's forward) that work is
// done once per weight version: the implicit GEMM's and the 1x1 conv's panels are the GEMM's
// kept packed B (packed_b_cache.cpp), the Winograd kernel is kept below. Both on the second sight
// of a (key, version), so a training step, whose weights change every step, never pays for it.

namespace {

struct WinogradKey {
  const ConvKernels* kernels = nullptr;  // the ISA's layout of U
  const float* w = nullptr;
  int64_t cin = 0, cout = 0;
  bool operator==(const WinogradKey& o) const {
    return kernels == o.kernels && w == o.w && cin == o.cin && cout == o.cout;
  }
};
struct WinogradKernel {
  AlignedBuffer buf;
  const float* u = nullptr;
};

KeptDerived<WinogradKey, WinogradKernel>& winograd_kernel_cache() {
  static KeptDerived<WinogradKey, WinogradKernel> c(Storage::DerivedSlot::winograd_kernel,
                                                    KeepWhen::second_sight);
  return c;
}

void winograd_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                      float* y, bool relu, const Storage* keep_w) {
  const ConvKernels& k = kernels();
  if (keep_w && k.winograd_forward_transformed) {
    const std::shared_ptr<const WinogradKernel> kept =
        winograd_kernel_cache().get(*keep_w, WinogradKey{&k, w, g.cin, g.cout}, [&] {
          auto made = std::make_shared<WinogradKernel>();
          float* u = made->buf.get(static_cast<size_t>(k.winograd_kernel_floats(g)));
          k.winograd_transform_kernel(g, w, u);
          made->u = u;
          return made;
        });
    if (kept) return k.winograd_forward_transformed(g, x, kept->u, bias, y, {relu});
  }
  k.winograd_forward(g, x, w, bias, y, {relu});
}

}  // namespace

KeptStats winograd_kernel_stats() { return winograd_kernel_cache().stats(); }

// ---- entries (the reference path is the same code on the GEMM's portable micro-kernel) -------

void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                    float* y, bool relu, const Storage* keep_w) {
  const gemm::Activation act = relu ? gemm::Activation::relu : gemm::Activation::none;
  switch (conv2d_forward_algo(g)) {
    case ConvAlgo::pointwise_gemm:
      return gemm::sgemm(false, false, g.pixels(), g.cout, g.cin, 1.0f, x, g.cin, w, g.cout, 0.0f,
                         y, g.cout, bias, act, keep_w);
    case ConvAlgo::winograd: return winograd_forward(g, x, w, bias, y, relu, keep_w);
    case ConvAlgo::winograd4: return kernels().winograd4_forward(g, x, w, bias, y, {relu});
    case ConvAlgo::direct: return kernels().direct_forward(g, x, w, bias, y, relu);
    default: break;
  }
  // One implicit GEMM per group (one for an ordinary conv): rows of the group's patches (its
  // channel run of x), its column block of w (ldb = Cout) into its column block of y (ldc = Cout).
  const Conv2dGeometry gg = g.groups > 1 ? group_geometry(g) : g;
  const gemm::Kernel kern = gemm::packed_kernel(gg.cout);
  if (g.groups == 1) {  // (a grouped conv's column blocks would take turns in the one kept slot)
    const gemm::PackA pack_a = [&g, x, mr = kern.mr](int64_t i0, int64_t mc, int64_t p0,
                                                     int64_t kc, float* dst) {
      pack_patches(g, x, mr, i0, mc, p0, kc, dst);
    };
    return gemm::gemm_packed_kept_b(kern, g.pixels(), g.cout, g.depth(), pack_a, w, g.cout,
                                    keep_w, 1.0f, 0.0f, y, g.cout, bias, act);
  }
  for (int64_t gi = 0; gi < g.groups; ++gi) {
    const float* xg = x + gi * gg.cin;
    const gemm::PackA pack_a = [&gg, xg, mr = kern.mr](int64_t i0, int64_t mc, int64_t p0,
                                                        int64_t kc, float* dst) {
      pack_patches(gg, xg, mr, i0, mc, p0, kc, dst);
    };
    gemm::gemm_packed(kern, g.pixels(), gg.cout, gg.depth(), pack_a,
                      gemm::pack_b_matrix(kern, w + gi * gg.cout, g.cout, false), 1.0f, 0.0f,
                      y + gi * gg.cout, g.cout, bias ? bias + gi * gg.cout : nullptr, act);
  }
}

void conv2d_relu_max_pool2d_forward(const Conv2dGeometry& g, const float* x, const float* w,
                                    const float* bias, float* y, int32_t* argmax,
                                    const Storage* keep_w) {
  const int64_t ph_n = g.oh / 2, pw_n = g.ow / 2;
  if (use_direct_dw(g) && g.cout % 16 == 0 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1)
    return kernels().direct_relu_pool_forward(g, x, w, bias, y, argmax);
  // Any other case (portable ISA, wide inputs): the conv into a scratch map, then the pooling.
  float* z = scratch(1, g.pixels() * g.cout);
  conv2d_forward(g, x, w, bias, z, true, keep_w);
  const Pool2dGeom pg{g.n, g.oh, g.ow, g.cout, ph_n, pw_n, 2, 2, 2, 2, 0, 0};
  max_pool2d_forward(pg, z, y, argmax);
}

bool conv2d_relu_max_pool2d_backward_weights(const Conv2dGeometry& g, const float* x,
                                             const float* dy, const float* y,
                                             const int32_t* argmax, float* dw, float* db) {
  const int64_t ph = g.oh / 2, pw = g.ow / 2;
  if (use_direct_dw(g)) return kernels().direct_relu_pool_weights(g, x, dy, y, argmax, dw, db);
  // Any other conv: dz (zero but at each window's winner, where it is dy * relu') into a scratch
  // map, then the ordinary weight gradient. A winner outside its window is skipped (it cannot
  // come from the forward; nothing is written out of place) and reported.
  bool all_found = true;
  float* dz = scratch(1, g.pixels() * g.cout);
  std::memset(dz, 0, sizeof(float) * g.pixels() * g.cout);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t py = 0; py < ph; ++py)
      for (int64_t px = 0; px < pw; ++px)
        for (int64_t c = 0; c < g.cout; ++c) {
          const int64_t at = ((n * ph + py) * pw + px) * g.cout + c;
          const int64_t cell = argmax[at], oy = cell / g.ow, ox = cell % g.ow;
          if (cell >= 0 && oy / 2 == py && ox / 2 == px && oy < 2 * ph)  // dy * relu', NaN kept
            dz[((n * g.oh + oy) * g.ow + ox) * g.cout + c] = y[at] > 0.0f ? dy[at] : dy[at] * y[at];
          else
            all_found = false;
        }
  conv2d_backward_weights(g, x, dz, dw, db);
  return all_found;
}

namespace {

// The weight gradient of a grouped conv: per group, dw_g^T (Cout/G, K_g) = dy_g^T @ A_g as the
// generic implicit-GEMM path of weights_gradient (pixel ranges over threads, partials summed in
// thread order), dy_g the group's column block of dy (lda = Cout), A_g packed straight from the
// group's channel run of x (group_geometry); dw_g^T lands transposed in the group's column block
// of dw (KH, KW, Cin/G, Cout). db = column sums of all of dy.
void grouped_weights_gradient(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                              float* db) {
  const Conv2dGeometry gg = group_geometry(g);
  const int64_t depth = gg.depth(), size = gg.cout * depth, pixels = g.pixels();
  const double flops = 2.0 * size * pixels;
  const int parts = static_cast<int>(std::clamp<int64_t>(
      flops < 4e6 ? 1 : get_num_threads(), 1, std::max<int64_t>(1, pixels / 64)));
  float* partial = scratch(0, parts * size);
  const gemm::Kernel kern = gemm::packed_kernel();
  for (int64_t gi = 0; gi < g.groups; ++gi) {
    const float* xg = x + gi * gg.cin;
    const float* dyg = dy + gi * gg.cout;
    parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        const int64_t p_lo = pixels * t / parts, p_hi = pixels * (t + 1) / parts;
        const gemm::PackB pack_b = [&gg, xg, p_lo, nr = kern.nr](int64_t p0, int64_t kc,
                                                                  int64_t j0, int64_t nc,
                                                                  float* dst) {
          pack_patches_b(gg, xg, nr, p_lo + p0, kc, j0, nc, dst);
        };
        gemm::gemm_packed(kern, gg.cout, depth, p_hi - p_lo,
                          gemm::pack_a_matrix(kern, dyg + p_lo * g.cout, g.cout, true), pack_b,
                          1.0f, 0.0f, partial + t * size, depth, nullptr, gemm::Activation::none);
      }
    });
    sum_parts(partial, parts, size);
    for (int64_t k = 0; k < depth; ++k)
      for (int64_t co = 0; co < gg.cout; ++co)
        dw[k * g.cout + gi * gg.cout + co] = partial[co * depth + k];
  }
  if (db) bias_grad(dy, db, pixels, g.cout);
}

// The weight gradient (see conv2d_backward_weights), with db the column sums of dy (a conv) or,
// db_from_x, of x (Conv2DTranspose, whose output gradient is this conv's x: its bias gradient then
// rides in the same parallel pass, each part summing its share of x's rows, instead of a pass and
// a fork / join of its own after the GEMM).
void weights_gradient(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                      float* db, bool db_from_x) {
  // dw^T (Cout, K) = dy^T @ A: the patches become the B operand, whose packing copies contiguous
  // channel runs (as the A operand they would be gathered one float at a time); then transpose.
  // The GEMM depth is every output pixel (long K, short M and N): it is split over threads, each
  // running a single-threaded GEMM over its pixel range into its own partial dw^T (and db, the
  // column sums of its dy rows), summed in thread order afterwards: one join instead of a barrier
  // per depth block, and reproducible for a given thread count.
  if (g.groups > 1) return grouped_weights_gradient(g, x, dy, dw, db);  // never db_from_x
  const int64_t db_rows = db_from_x ? g.n * g.h * g.w : g.pixels();
  const int64_t db_cols = db_from_x ? g.cin : g.cout;
  const float* db_src = db_from_x ? x : dy;
  switch (conv2d_weights_algo(g)) {
    case ConvAlgo::winograd:
      kernels().winograd_backward_weights(g, x, dy, dw, db_from_x ? nullptr : db);
      if (db && db_from_x) bias_grad(x, db, db_rows, db_cols);
      return;
    case ConvAlgo::winograd4:
      kernels().winograd4_backward_weights(g, x, dy, dw, db_from_x ? nullptr : db);
      if (db && db_from_x) bias_grad(x, db, db_rows, db_cols);
      return;
    case ConvAlgo::direct:
      kernels().direct_weights(g, x, dy, dw, db_from_x ? nullptr : db);
      if (db && db_from_x) bias_grad(x, db, db_rows, db_cols);
      return;
    default: break;
  }
  const int64_t depth = g.depth(), size = g.cout * depth, pixels = g.pixels();
  const double flops = 2.0 * size * pixels;
  const int parts = static_cast<int>(std::clamp<int64_t>(
      flops < 4e6 ? 1 : get_num_threads(), 1, std::max<int64_t>(1, pixels / 64)));
  // Part t's bias rows: the same fraction of db_src as its pixels are of the output (for a conv
  // exactly its pixels' dy rows, for the transposed conv about the images its patches came from).
  auto bias_part = [&](int64_t t, float* part_db) {
    const int64_t r_lo = db_rows * t / parts, r_hi = db_rows * (t + 1) / parts;
    bias_grad(db_src + r_lo * db_cols, part_db, r_hi - r_lo, db_cols);
  };
  const ConvKernels& k = kernels();
  if (k.weights_gemm_part) {
    // dw (K, Cout) comes out in its final layout: part 0 writes dw and db in place, the others
    // their partials, added to it in thread order (the same sums as into a partial of part 0's).
    const int64_t stride = size + db_cols;
    float* partial = scratch(0, std::max<int64_t>(1, (parts - 1) * stride));
    const int64_t ws_len = k.weights_workspace_floats(g);
    float* ws = scratch(2, parts * ws_len);
    parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        float* part = t == 0 ? dw : partial + (t - 1) * stride;
        k.weights_gemm_part(g, x, dy, pixels * t / parts, pixels * (t + 1) / parts, part,
                            ws + t * ws_len);
        if (db) bias_part(t, t == 0 ? db : part + size);
      }
    });
    // Each element is summed in part order whoever adds it, so splitting the elements over the
    // threads keeps the bits (a 1024 x 128 dw: ~40 us on one thread, a few % of the pass).
    parallel_for(0, size, 16384, [&](int64_t lo, int64_t hi) {
      for (int t = 1; t < parts; ++t) {
        const float* part = partial + (t - 1) * stride;
        for (int64_t i = lo; i < hi; ++i) dw[i] += part[i];
      }
    });
    if (db)
      for (int t = 1; t < parts; ++t)
        for (int64_t c = 0; c < db_cols; ++c) db[c] += partial[(t - 1) * stride + size + c];
    return;
  }
  const int64_t stride = size + db_cols;
  float* partial = scratch(0, parts * stride);
  const gemm::Kernel kern = gemm::packed_kernel();
  parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t p_lo = pixels * t / parts, p_hi = pixels * (t + 1) / parts;
      const gemm::PackB pack_b = [&g, x, p_lo, nr = kern.nr](int64_t p0, int64_t kc, int64_t j0,
                                                             int64_t nc, float* dst) {
        pack_patches_b(g, x, nr, p_lo + p0, kc, j0, nc, dst);
      };
      float* part = partial + t * stride;
      gemm::gemm_packed(kern, g.cout, depth, p_hi - p_lo,
                        gemm::pack_a_matrix(kern, dy + p_lo * g.cout, g.cout, true), pack_b, 1.0f,
                        0.0f, part, depth, nullptr, gemm::Activation::none);
      if (db) bias_part(t, part + size);
    }
  });
  sum_parts(partial, parts, stride);
  for (int64_t k = 0; k < depth; ++k)
    for (int64_t co = 0; co < g.cout; ++co) dw[k * g.cout + co] = partial[co * depth + k];
  if (db) std::memcpy(db, partial + size, sizeof(float) * db_cols);
}

}  // namespace

void conv2d_backward_weights(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                             float* db) {
  weights_gradient(g, x, dy, dw, db, false);
}

// Stride 1: dx is a forward conv of dy with the kernel flipped in space and its channel axes
// swapped, padded so that dx[ih] gathers dy[ih + pt - kh*dh]: the forward's own algorithm
// (Winograd or implicit GEMM), no col2im. The flipped kernel, in this thread's scratch.
static const float* flipped_kernel(const Conv2dGeometry& g, const float* w) {
  float* wt = scratch(1, g.depth() * g.cout);
  for (int64_t kh = 0; kh < g.kh; ++kh)
    for (int64_t kw = 0; kw < g.kw; ++kw)
      for (int64_t ci = 0; ci < g.cin; ++ci)
        for (int64_t co = 0; co < g.cout; ++co)
          wt[(((g.kh - 1 - kh) * g.kw + (g.kw - 1 - kw)) * g.cout + co) * g.cin + ci] =
              w[((kh * g.kw + kw) * g.cin + ci) * g.cout + co];
  return wt;
}

void conv2d_backward_data_relu_sum(const Conv2dGeometry& g, const float* dy, const float* w,
                                   float* dx, const float* add, const float* relu_of) {
  if (conv2d_data_algo(g) == ConvAlgo::flipped_forward) {
    const Conv2dGeometry f = flipped_geometry(g);
    const WinogradEpilogue ep{false, add, relu_of};
    if (use_winograd4(f)) return kernels().winograd4_forward(f, dy, flipped_kernel(g, w), nullptr, dx, ep);
    if (use_winograd(f)) return kernels().winograd_forward(f, dy, flipped_kernel(g, w), nullptr, dx, ep);
  }
  // the other algorithms: the data gradient, then the sum and relu' in one pass over it
  conv2d_backward_data(g, dy, w, dx);
  std::vector<const float*> parts{dx};
  if (add) parts.push_back(add);
  const int64_t n = g.n * g.h * g.w * g.cin;
  if (relu_of)
    sum_n_relu_grad(parts, relu_of, dx, n);
  else if (add)
    sum_n(parts, dx, n);
}

void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx) {
  const int64_t depth = g.depth(), pix = g.oh * g.ow;
  const ConvAlgo algo = conv2d_data_algo(g);
  if (algo == ConvAlgo::pointwise_gemm) {  // dx = dy @ w^T directly
    gemm::sgemm(false, true, g.pixels(), g.cin, g.cout, 1.0f, dy, g.cout, w, g.cout, 0.0f, dx,
                g.cin, nullptr, gemm::Activation::none);
    return;
  }
  if (algo == ConvAlgo::flipped_forward) {
    conv2d_forward(flipped_geometry(g), dy, flipped_kernel(g, w), nullptr, dx, false);
    return;
  }
  if (algo == ConvAlgo::subpixel_gemm) return subpixel_backward_data(g, dy, w, nullptr, dx);
  // col2im path. Images are split over threads; each thread runs, per chunk of its images, a
  // single-threaded dcols = dy @ B^T into its own buffer sized to stay in L2 (~256 KB) and
  // scatters it into dx at once: dcols never goes to memory and no barrier runs per GEMM block.
  // A grouped conv does this per group: dy's column block of the group (lda = Cout) times its
  // block of w (ldb = Cout), scattered into the group's channel run of dx (group_geometry).
  const Conv2dGeometry gg = g.groups > 1 ? group_geometry(g) : g;
  const int64_t per_image = pix * depth;
  // A small problem stays on the calling thread: a fork costs more than its multiply-adds, and far
  // more on a loaded host where the other thread may wait for a core (Conv2DTranspose runs this
  // path forward on small decoder inputs). The result does not depend on the split.
  const int64_t work = g.n * per_image * g.cout;
  const int parts = work < (int64_t{1} << 16)
                        ? 1
                        : static_cast<int>(std::clamp<int64_t>(get_num_threads(), 1, g.n));
  const int64_t chunk = std::clamp<int64_t>((int64_t{1} << 16) / std::max<int64_t>(1, per_image),
                                            1, (g.n + parts - 1) / parts);
  float* dcols_all = scratch(2, parts * chunk * per_image);
  // the kernel sets' col2im scatters whole rows; a group's run takes the portable loop
  const auto scatter = kernels().col2im && g.groups == 1 ? kernels().col2im : col2im;
  parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      float* dcols = dcols_all + t * chunk * per_image;
      const int64_t n_hi = g.n * (t + 1) / parts;
      for (int64_t n0 = g.n * t / parts; n0 < n_hi; n0 += chunk) {
        const int64_t images = std::min(chunk, n_hi - n0);
        for (int64_t gi = 0; gi < g.groups; ++gi) {
          gemm::sgemm(false, true, images * pix, depth, gg.cout, 1.0f,
                      dy + n0 * pix * g.cout + gi * gg.cout, g.cout, w + gi * gg.cout, g.cout, 0.0f,
                      dcols, depth, nullptr, gemm::Activation::none);
          scatter(gg, dcols, images, dx + n0 * g.h * g.w * g.cin + gi * gg.cin);
        }
      }
    }
  });
}

void add_bias_rows(float* y, const float* bias, int64_t rows, int64_t cols) {
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(cols, 1));
  parallel_for(0, rows, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      float* row = y + r * cols;
      for (int64_t c = 0; c < cols; ++c) row[c] += bias[c];
    }
  });
}

}  // namespace corenn::cpu

// ---- registration: the cpu_ref slots of the conv2d stubs ---------------------------------------

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(conv2d_forward_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Conv2dGeometry& g, const float* x, const float* w,
                           const float* bias, float* y, bool relu, const Storage* keep_w) {
                         conv2d_forward(g, x, w, bias, y, relu, keep_w);
                       });
CORENN_REGISTER_KERNEL(conv2d_backward_data_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Conv2dGeometry& g, const float* dy,
                           const float* w, float* dx) { conv2d_backward_data(g, dy, w, dx); });
CORENN_REGISTER_KERNEL(conv2d_backward_data_relu_sum_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Conv2dGeometry& g, const float* dy,
                           const float* w, float* dx, const float* add, const float* relu_of) {
                         conv2d_backward_data_relu_sum(g, dy, w, dx, add, relu_of);
                       });
CORENN_REGISTER_KERNEL(conv2d_backward_weights_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Conv2dGeometry& g, const float* x,
                           const float* dy, float* dw, float* db) {
                         conv2d_backward_weights(g, x, dy, dw, db);
                       });
CORENN_REGISTER_KERNEL(conv2d_relu_max_pool2d_forward_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Conv2dGeometry& g, const float* x, const float* w,
                           const float* bias, float* y, int32_t* argmax,
                           const Storage* keep_w) {
                         conv2d_relu_max_pool2d_forward(g, x, w, bias, y, argmax, keep_w);
                       });
CORENN_REGISTER_KERNEL(conv2d_relu_max_pool2d_backward_weights_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Conv2dGeometry& g, const float* x,
                           const float* dy, const float* y, const int32_t* argmax, float* dw,
                           float* db) {
                         return conv2d_relu_max_pool2d_backward_weights(g, x, dy, y, argmax, dw,
                                                                        db);
                       });
// Conv2DTranspose (g is the geometry of the conv it transposes: its y is our x).
CORENN_REGISTER_KERNEL(conv2d_transpose_forward_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Conv2dGeometry& g, const float* x, const float* w,
                           const float* bias, float* y) {
                         if (conv2d_data_algo(g) == ConvAlgo::subpixel_gemm)
                           return subpixel_backward_data(g, x, w, bias, y);  // bias fused
                         conv2d_backward_data(g, x, w, y);
                         if (bias) add_bias_rows(y, bias, g.n * g.h * g.w, g.cin);
                       });
CORENN_REGISTER_KERNEL(conv2d_transpose_backward_data_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Conv2dGeometry& g, const float* dy,
                           const float* w, float* dx) {
                         conv2d_forward(g, dy, w, nullptr, dx, false);
                       });
CORENN_REGISTER_KERNEL(conv2d_transpose_backward_weights_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Conv2dGeometry& g, const float* x,
                           const float* dy, float* dw, float* db) {
                         weights_gradient(g, dy, x, dw, db, true);  // db: column sums of dy
                       });
}  // namespace corenn::cpu
