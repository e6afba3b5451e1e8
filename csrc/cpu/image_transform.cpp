// Projective image warping kernels (CPU), NHWC float32; the math is in ops/image_transform.h.
//
// Each output pixel maps to a source point; its taps (up to four source pixels and weights, or
// "reads fill_value") are found once per pixel by `taps_of`, which both directions share, so
// the backward is exactly the transpose of the forward.
// forward   parallel over output rows; the C channels of a pixel share its taps.
// backward  scatters dy through the same taps. Samples are independent, so the work is split
//           by sample (each thread owns whole dx images): no atomics, and a fixed order per image
//           gives the same bits for any thread count. (One image runs on one thread.)
// Coordinates are computed in double and clamped to +-2^40 before the integer conversion, so a
// huge or infinite transform entry cannot overflow; a NaN coordinate reads fill_value.
#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "ops/image_transform.h"

namespace corenn::cpu {

namespace {

constexpr double kCoordLimit = 1099511627776.0;  // 2^40

// The index that fill_mode reads for source index i on an axis of length len; -1: fill_value.
int64_t fix_index(int64_t i, int64_t len, FillMode mode) {
  if (i >= 0 && i < len) return i;
  switch (mode) {
    case FillMode::kReflect: {
      const int64_t period = 2 * len;
      int64_t m = ((i % period) + period) % period;
      return m >= len ? period - 1 - m : m;
    }
    case FillMode::kWrap: return ((i % len) + len) % len;
    case FillMode::kNearest: return i < 0 ? 0 : len - 1;
    case FillMode::kConstant: break;
  }
  return -1;
}

// Up to four source pixels (flat index y * w + x into one image, -1 = fill) and their weights.
struct Taps {
  int64_t pixel[4];
  float weight[4];
  int count;
};

Taps taps_of(const float* t, int64_t col, int64_t row, const ImageTransformShape& s, bool bilinear,
             FillMode mode) {
  Taps taps{{-1, -1, -1, -1}, {0, 0, 0, 0}, 0};
  const double X = static_cast<double>(col), Y = static_cast<double>(row);
  const double k = t[6] * X + t[7] * Y + 1.0;
  double xin = (t[0] * X + t[1] * Y + t[2]) / k;
  double yin = (t[3] * X + t[4] * Y + t[5]) / k;
  if (k == 0.0 || std::isnan(xin) || std::isnan(yin)) {
    taps.count = 1;  // one tap that reads fill_value with weight 1
    taps.weight[0] = 1.0f;
    return taps;
  }
  xin = std::clamp(xin, -kCoordLimit, kCoordLimit);
  yin = std::clamp(yin, -kCoordLimit, kCoordLimit);
  const auto at = [&](int64_t yi, int64_t xi) {
    const int64_t fy = fix_index(yi, s.h, mode), fx = fix_index(xi, s.w, mode);
    return (fy < 0 || fx < 0) ? int64_t{-1} : fy * s.w + fx;
  };
  if (!bilinear) {
    taps.count = 1;
    taps.pixel[0] = at(static_cast<int64_t>(std::round(yin)), static_cast<int64_t>(std::round(xin)));
    taps.weight[0] = 1.0f;
    return taps;
  }
  const double x0 = std::floor(xin), y0 = std::floor(yin);
  const float ax = static_cast<float>(xin - x0), ay = static_cast<float>(yin - y0);
  const int64_t xi = static_cast<int64_t>(x0), yi = static_cast<int64_t>(y0);
  taps.count = 4;
  taps.pixel[0] = at(yi, xi);         taps.weight[0] = (1.0f - ay) * (1.0f - ax);
  taps.pixel[1] = at(yi, xi + 1);     taps.weight[1] = (1.0f - ay) * ax;
  taps.pixel[2] = at(yi + 1, xi);     taps.weight[2] = ay * (1.0f - ax);
  taps.pixel[3] = at(yi + 1, xi + 1); taps.weight[3] = ay * ax;
  return taps;
}

constexpr int64_t kGrainFloats = 16384;

}  // namespace

void image_transform_forward(const float* x, const float* transforms, float* y,
                             const ImageTransformShape& s, bool bilinear, FillMode mode,
                             float fill_value) {
  const int64_t c = s.c;
  const int64_t grain = std::max<int64_t>(1, kGrainFloats / std::max<int64_t>(s.ow * c, 1));
  parallel_for(0, s.n * s.oh, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t b = r / s.oh, row = r % s.oh;
      const float* img = x + b * s.h * s.w * c;
      const float* t = transforms + b * 8;
      for (int64_t col = 0; col < s.ow; ++col) {
        const Taps taps = taps_of(t, col, row, s, bilinear, mode);
        float* out = y + (r * s.ow + col) * c;
        std::fill(out, out + c, 0.0f);
        for (int k = 0; k < taps.count; ++k) {
          const float wt = taps.weight[k];
          if (taps.pixel[k] < 0) {  // weight 0 included: a NaN fill_value propagates as 0 * NaN
            for (int64_t ch = 0; ch < c; ++ch) out[ch] += wt * fill_value;
            continue;
          }
          const float* src = img + taps.pixel[k] * c;
          for (int64_t ch = 0; ch < c; ++ch) out[ch] += wt * src[ch];
        }
      }
    }
  });
}

void image_transform_backward(const float* dy, const float* transforms, float* dx,
                              const ImageTransformShape& s, bool bilinear, FillMode mode) {
  const int64_t c = s.c;
  parallel_for(0, s.n, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      float* img = dx + b * s.h * s.w * c;
      std::fill(img, img + s.h * s.w * c, 0.0f);
      const float* t = transforms + b * 8;
      for (int64_t row = 0; row < s.oh; ++row) {
        for (int64_t col = 0; col < s.ow; ++col) {
          const Taps taps = taps_of(t, col, row, s, bilinear, mode);
          const float* g = dy + ((b * s.oh + row) * s.ow + col) * c;
          for (int k = 0; k < taps.count; ++k) {
            if (taps.pixel[k] < 0) continue;  // fill_value is a constant
            float* dst = img + taps.pixel[k] * c;
            const float wt = taps.weight[k];
            for (int64_t ch = 0; ch < c; ++ch) dst[ch] += wt * g[ch];
          }
        }
      }
    }
  });
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(image_transform_forward_stub, Slot::cpu_ref, image_transform_forward);
CORENN_REGISTER_KERNEL(image_transform_backward_stub, Slot::cpu_ref, image_transform_backward);
}  // namespace corenn::cpu
