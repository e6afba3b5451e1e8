// depthwise_conv2d CPU kernels: direct NHWC loops, vectorized over channels.
//
// Shapes: x (N, H, W, C), w (KH, KW, C, DM) = (KH*KW taps, C*DM) row-major, y / dy (N, OH, OW, C*DM),
// output channel j = c*DM + m; see ops/depthwise_conv2d.h for the math.
// Why not the GEMM: a depthwise conv does KH*KW multiply-adds per output value with no reduction
// over channels, so as a GEMM it would be C tiny (pixels x taps) @ (taps x DM) products; the
// direct loop instead streams each tap as one elementwise FMA over the contiguous channel axis,
// which is memory-bound and needs nothing else.
//   forward       rows (n, oh) over threads; per output pixel, y = bias + sum over inside taps.
//   backward data rows (n, ih) over threads; per input pixel, gather every (output pixel, tap)
//                 that read it (no scatter: no two threads write one element, fixed order).
//   backward w    output rows split over threads, each summing into its own partial dw / db;
//                 the partials are added in thread order (reproducible, as conv2d's dw_direct).
// Variants: on AVX2 the rows of depthwise_conv2d_avx2.cpp run (register accumulators over
// 8-channel blocks, written for DM == 1). DM > 1 reuses them: it is the DM == 1 conv of x with
// each channel repeated DM times (xe (N, H, W, C*DM), a scratch copy made once per call), so
// forward and weight gradient run on xe, and the data gradient runs into a dxe scratch that is
// then summed over each channel's DM copies. Without AVX2 the reference rows below run, whose
// inner loops the compiler may vectorize for the baseline ISA.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/aligned_buffer.h"
#include "core/parallel.h"
#include "ops/depthwise_conv2d.h"
#include "cpu/depthwise_conv2d_rows.h"

namespace corenn::cpu {

namespace {

// ---- reference rows ----------------------------------------------------------------------

void forward_rows_ref(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                      float* y, int64_t r_lo, int64_t r_hi) {
  const int64_t dm = g.cout / g.cin;
  for (int64_t r = r_lo; r < r_hi; ++r) {
    const int64_t n = r / g.oh, oh = r % g.oh;
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      float* yp = y + (r * g.ow + ow) * g.cout;
      for (int64_t j = 0; j < g.cout; ++j) yp[j] = bias ? bias[j] : 0.0f;
      for (int64_t kh = 0; kh < g.kh; ++kh) {
        const int64_t ih = oh * g.sh - g.pt + kh * g.dh;
        if (ih < 0 || ih >= g.h) continue;
        for (int64_t kw = 0; kw < g.kw; ++kw) {
          const int64_t iw = ow * g.sw - g.pl + kw * g.dw;
          if (iw < 0 || iw >= g.w) continue;
          const float* xp = x + ((n * g.h + ih) * g.w + iw) * g.cin;
          const float* wp = w + (kh * g.kw + kw) * g.cout;
          for (int64_t c = 0; c < g.cin; ++c)
            for (int64_t m = 0; m < dm; ++m) yp[c * dm + m] += xp[c] * wp[c * dm + m];
        }
      }
    }
  }
}

void data_rows_ref(const Conv2dGeometry& g, const float* dy, const float* w, float* dx,
                   int64_t r_lo, int64_t r_hi) {
  const int64_t dm = g.cout / g.cin;
  for (int64_t r = r_lo; r < r_hi; ++r) {
    const int64_t n = r / g.h, ih = r % g.h;
    for (int64_t iw = 0; iw < g.w; ++iw) {
      float* dxp = dx + (r * g.w + iw) * g.cin;
      std::memset(dxp, 0, sizeof(float) * g.cin);
      for (int64_t kh = 0; kh < g.kh; ++kh) {
        const int64_t t = ih + g.pt - kh * g.dh;
        if (t < 0 || t % g.sh != 0 || t / g.sh >= g.oh) continue;
        const int64_t oh = t / g.sh;
        for (int64_t kw = 0; kw < g.kw; ++kw) {
          const int64_t u = iw + g.pl - kw * g.dw;
          if (u < 0 || u % g.sw != 0 || u / g.sw >= g.ow) continue;
          const float* dyp = dy + ((n * g.oh + oh) * g.ow + u / g.sw) * g.cout;
          const float* wp = w + (kh * g.kw + kw) * g.cout;
          for (int64_t c = 0; c < g.cin; ++c) {
            float s = 0.0f;
            for (int64_t m = 0; m < dm; ++m) s += dyp[c * dm + m] * wp[c * dm + m];
            dxp[c] += s;
          }
        }
      }
    }
  }
}

void weights_rows_ref(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                      float* db, int64_t r_lo, int64_t r_hi) {
  const int64_t dm = g.cout / g.cin;
  for (int64_t r = r_lo; r < r_hi; ++r) {
    const int64_t n = r / g.oh, oh = r % g.oh;
    for (int64_t ow = 0; ow < g.ow; ++ow) {
      const float* dyp = dy + (r * g.ow + ow) * g.cout;
      if (db)
        for (int64_t j = 0; j < g.cout; ++j) db[j] += dyp[j];
      for (int64_t kh = 0; kh < g.kh; ++kh) {
        const int64_t ih = oh * g.sh - g.pt + kh * g.dh;
        if (ih < 0 || ih >= g.h) continue;
        for (int64_t kw = 0; kw < g.kw; ++kw) {
          const int64_t iw = ow * g.sw - g.pl + kw * g.dw;
          if (iw < 0 || iw >= g.w) continue;
          const float* xp = x + ((n * g.h + ih) * g.w + iw) * g.cin;
          float* dwp = dw + (kh * g.kw + kw) * g.cout;
          for (int64_t c = 0; c < g.cin; ++c)
            for (int64_t m = 0; m < dm; ++m) dwp[c * dm + m] += xp[c] * dyp[c * dm + m];
        }
      }
    }
  }
}

constexpr DepthwiseRows kRefRows{false, forward_rows_ref, data_rows_ref, weights_rows_ref};

// Scratch that persists per calling thread and only grows (slot 0: xe / dxe, slot 1: dw partials).
float* scratch(int slot, int64_t n) {
  thread_local AlignedBuffer buffers[2];
  return buffers[slot].get(static_cast<size_t>(n));
}

// xe[p, c*DM + m] = x[p, c] for every pixel p: the input of the equivalent DM == 1 conv.
const float* expand_channels(const Conv2dGeometry& g, const float* x) {
  const int64_t dm = g.cout / g.cin, pixels = g.n * g.h * g.w;
  float* xe = scratch(0, pixels * g.cout);
  parallel_for(0, pixels, std::max<int64_t>(1, 4096 / g.cout), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p)
      for (int64_t c = 0; c < g.cin; ++c)
        for (int64_t m = 0; m < dm; ++m) xe[p * g.cout + c * dm + m] = x[p * g.cin + c];
  });
  return xe;
}

// The geometry of that DM == 1 conv (C*DM channels in and out).
Conv2dGeometry expanded(Conv2dGeometry g) {
  g.cin = g.cout;
  return g;
}

// Rows per thread chunk: about 32K multiply-adds, so small problems stay on one thread.
int64_t grain(int64_t per_row) {
  return std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(per_row, 1));
}

}  // namespace

// ---- entries --------------------------------------------------------------------------------

void depthwise_conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w,
                              const float* bias, float* y) {
  const int64_t grain_rows = grain(g.ow * g.kh * g.kw * g.cout);
  const DepthwiseRows& k = *depthwise_rows_stub.cpu();
  const Conv2dGeometry gk = k.dm1_only ? expanded(g) : g;
  const float* xk = k.dm1_only && g.cout != g.cin ? expand_channels(g, x) : x;
  parallel_for(0, g.n * g.oh, grain_rows, [&](int64_t lo, int64_t hi) {
    k.forward_rows(gk, xk, w, bias, y, lo, hi);
  });
}

void depthwise_conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w,
                                    float* dx) {
  const int64_t grain_rows = grain(g.w * g.kh * g.kw * g.cout);
  const DepthwiseRows& k = *depthwise_rows_stub.cpu();
  if (k.dm1_only) {
    const Conv2dGeometry ge = expanded(g);
    const int64_t dm = g.cout / g.cin, pixels = g.n * g.h * g.w;
    float* dxe = dm == 1 ? dx : scratch(0, pixels * g.cout);
    parallel_for(0, g.n * g.h, grain_rows, [&](int64_t lo, int64_t hi) {
      k.data_rows(ge, dy, w, dxe, lo, hi);
    });
    if (dm > 1)  // dx[p, c] = sum over m of dxe[p, c*DM + m]
      parallel_for(0, pixels, std::max<int64_t>(1, 4096 / g.cout), [&](int64_t lo, int64_t hi) {
        for (int64_t p = lo; p < hi; ++p)
          for (int64_t c = 0; c < g.cin; ++c) {
            float s = 0.0f;
            for (int64_t m = 0; m < dm; ++m) s += dxe[p * g.cout + c * dm + m];
            dx[p * g.cin + c] = s;
          }
      });
    return;
  }
  parallel_for(0, g.n * g.h, grain_rows, [&](int64_t lo, int64_t hi) {
    k.data_rows(g, dy, w, dx, lo, hi);
  });
}

void depthwise_conv2d_backward_weights(const Conv2dGeometry& g, const float* x, const float* dy,
                                       float* dw, float* db) {
  const DepthwiseRows& k = *depthwise_rows_stub.cpu();
  const float* xs = k.dm1_only && g.cout != g.cin ? expand_channels(g, x) : x;
  const Conv2dGeometry gk = k.dm1_only ? expanded(g) : g;
  const int64_t rows = g.n * g.oh, size = g.kh * g.kw * g.cout, stride = size + g.cout;
  const int64_t work = rows * g.ow * g.kh * g.kw * g.cout;
  const int parts = static_cast<int>(
      std::min<int64_t>(work < (int64_t{1} << 16) ? 1 : std::max(1, get_num_threads()), rows));
  // Per-thread partial sums (dw, then db), added in thread order below.
  float* partial = scratch(1, parts * stride);
  std::memset(partial, 0, sizeof(float) * parts * stride);
  parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      float* pdw = partial + t * stride;
      float* pdb = db ? pdw + size : nullptr;
      const int64_t r_lo = rows * t / parts, r_hi = rows * (t + 1) / parts;
      k.weights_rows(gk, xs, dy, pdw, pdb, r_lo, r_hi);
    }
  });
  for (int t = 1; t < parts; ++t)
    for (int64_t i = 0; i < stride; ++i) partial[i] += partial[t * stride + i];
  std::memcpy(dw, partial, sizeof(float) * size);
  if (db) std::memcpy(db, partial + size, sizeof(float) * g.cout);
}

CORENN_DEFINE_DISPATCH(DepthwiseRowsRef, depthwise_rows_stub, "depthwise_conv2d.rows");
CORENN_REGISTER_KERNEL(depthwise_rows_stub, Slot::cpu_ref, &kRefRows);

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(depthwise_conv2d_forward_stub, Slot::cpu_ref, depthwise_conv2d_forward);
CORENN_REGISTER_KERNEL(depthwise_conv2d_backward_data_stub, Slot::cpu_ref, depthwise_conv2d_backward_data);
CORENN_REGISTER_KERNEL(depthwise_conv2d_backward_weights_stub, Slot::cpu_ref, depthwise_conv2d_backward_weights);
}  // namespace corenn::cpu
