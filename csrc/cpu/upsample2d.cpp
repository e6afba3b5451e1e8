// Upsampling kernels (CPU), NHWC float32. x, dx (N, H, W, C); y, dy (N, OH, OW, C) with
// OH = H*sh, OW = W*sw. The math is in ops/upsample2d.h.
//
// nearest forward   parallel over input rows (n, h): the first of its sh output rows is built
//                   (each pixel's C floats copied sw times), the other sh-1 are memcpys of it.
// nearest backward  parallel over dx rows: each sums its sh x sw blocks, the inner loop along C.
// bilinear forward  parallel over output rows; per-axis tables (source rows, weights) are built
//                   once per call.
// bilinear backward separable, as the transposed forward: pass 1 spreads each dy row along W into
//                   a (N, OH, W, C) temporary (rows independent), pass 2 gathers, for each dx row,
//                   the temporary rows whose bilinear weights touch it. No scatter across
//                   threads, and the summation order is fixed: same bits for any thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "ops/upsample2d.h"

namespace corenn::cpu {

namespace {

constexpr int64_t kGrainFloats = 32768;
int64_t grain(int64_t per_row) { return std::max<int64_t>(1, kGrainFloats / std::max<int64_t>(per_row, 1)); }

// Source taps of an output coordinate along one axis (half-pixel centres, clamped).
struct Tap {
  int64_t i0, i1;
  float a;  // weight of i1; i0 gets 1 - a
};

std::vector<Tap> taps(int64_t in, int64_t scale) {
  std::vector<Tap> t(in * scale);
  for (int64_t o = 0; o < in * scale; ++o) {
    const double src = std::max((o + 0.5) / scale - 0.5, 0.0);
    const int64_t i0 = std::min(static_cast<int64_t>(src), in - 1);
    t[o] = {i0, std::min(i0 + 1, in - 1), static_cast<float>(src - i0)};
  }
  return t;
}

}  // namespace

void upsample2d_nearest_forward(const float* x, float* y, int64_t n, int64_t h, int64_t w,
                                int64_t c, int64_t sh, int64_t sw) {
  const int64_t orow = w * sw * c;
  parallel_for(0, n * h, grain(orow * sh), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* xr = x + r * w * c;
      float* yr = y + r * sh * orow;  // output row r*sh, as (n*H + h) * sh = n*OH + h*sh
      for (int64_t j = 0; j < w; ++j)
        for (int64_t k = 0; k < sw; ++k) std::memcpy(yr + (j * sw + k) * c, xr + j * c, c * sizeof(float));
      for (int64_t i = 1; i < sh; ++i) std::memcpy(yr + i * orow, yr, orow * sizeof(float));
    }
  });
}

void upsample2d_nearest_backward(const float* dy, float* dx, int64_t n, int64_t h, int64_t w,
                                 int64_t c, int64_t sh, int64_t sw) {
  const int64_t orow = w * sw * c;
  parallel_for(0, n * h, grain(orow * sh), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      float* dr = dx + r * w * c;
      const float* block = dy + r * sh * orow;
      std::fill(dr, dr + w * c, 0.0f);
      for (int64_t i = 0; i < sh; ++i) {
        const float* src = block + i * orow;
        for (int64_t j = 0; j < w; ++j) {
          float* out = dr + j * c;
          for (int64_t k = 0; k < sw; ++k) {
            const float* in = src + (j * sw + k) * c;
            for (int64_t ch = 0; ch < c; ++ch) out[ch] += in[ch];
          }
        }
      }
    }
  });
}

void upsample2d_bilinear_forward(const float* x, float* y, int64_t n, int64_t h, int64_t w,
                                 int64_t c, int64_t sh, int64_t sw) {
  const int64_t oh = h * sh, ow = w * sw;
  const std::vector<Tap> th = taps(h, sh), tw = taps(w, sw);
  parallel_for(0, n * oh, grain(ow * c), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const Tap& v = th[r % oh];
      const float* img = x + (r / oh) * h * w * c;
      const float* r0 = img + v.i0 * w * c;
      const float* r1 = img + v.i1 * w * c;
      float* yr = y + r * ow * c;
      for (int64_t j = 0; j < ow; ++j) {
        const Tap& u = tw[j];
        const float *x00 = r0 + u.i0 * c, *x01 = r0 + u.i1 * c;
        const float *x10 = r1 + u.i0 * c, *x11 = r1 + u.i1 * c;
        float* out = yr + j * c;
        for (int64_t ch = 0; ch < c; ++ch) {
          const float top = x00[ch] + u.a * (x01[ch] - x00[ch]);
          const float bottom = x10[ch] + u.a * (x11[ch] - x10[ch]);
          out[ch] = top + v.a * (bottom - top);
        }
      }
    }
  });
}

void upsample2d_bilinear_backward(const float* dy, float* dx, int64_t n, int64_t h, int64_t w,
                                  int64_t c, int64_t sh, int64_t sw) {
  const int64_t oh = h * sh, ow = w * sw;
  const std::vector<Tap> th = taps(h, sh), tw = taps(w, sw);
  std::vector<float> t(static_cast<size_t>(n * oh * w * c));
  parallel_for(0, n * oh, grain(ow * c), [&](int64_t lo, int64_t hi) {  // along W
    for (int64_t r = lo; r < hi; ++r) {
      const float* src = dy + r * ow * c;
      float* tr = t.data() + r * w * c;
      std::fill(tr, tr + w * c, 0.0f);
      for (int64_t j = 0; j < ow; ++j) {
        const Tap& u = tw[j];
        const float* g = src + j * c;
        float *t0 = tr + u.i0 * c, *t1 = tr + u.i1 * c;
        for (int64_t ch = 0; ch < c; ++ch) {
          t0[ch] += (1.0f - u.a) * g[ch];
          t1[ch] += u.a * g[ch];
        }
      }
    }
  });
  parallel_for(0, n * h, grain(w * c * 2 * sh), [&](int64_t lo, int64_t hi) {  // along H
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t b = r / h, i = r % h;
      float* dr = dx + r * w * c;
      std::fill(dr, dr + w * c, 0.0f);
      // Output rows whose taps reach row i lie within one input row of it.
      for (int64_t o = std::max<int64_t>(0, (i - 1) * sh); o < std::min(oh, (i + 2) * sh); ++o) {
        const Tap& v = th[o];
        const float wt = (v.i0 == i ? 1.0f - v.a : 0.0f) + (v.i1 == i ? v.a : 0.0f);
        if (wt == 0.0f && v.i0 != i && v.i1 != i) continue;
        const float* tr = t.data() + (b * oh + o) * w * c;
        for (int64_t k = 0; k < w * c; ++k) dr[k] += wt * tr[k];
      }
    }
  });
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(upsample2d_forward_stub, Slot::cpu_ref,
                       +[](bool bilinear, const float* x, float* y, int64_t n, int64_t h, int64_t w,
                           int64_t c, int64_t sh, int64_t sw) {
                         (bilinear ? upsample2d_bilinear_forward : upsample2d_nearest_forward)(
                             x, y, n, h, w, c, sh, sw);
                       });
CORENN_REGISTER_KERNEL(upsample2d_backward_stub, Slot::cpu_ref,
                       +[](bool bilinear, const float* dy, float* dx, int64_t n, int64_t h,
                           int64_t w, int64_t c, int64_t sh, int64_t sw) {
                         (bilinear ? upsample2d_bilinear_backward : upsample2d_nearest_backward)(
                             dy, dx, n, h, w, c, sh, sw);
                       });
}  // namespace corenn::cpu
