// Zero padding kernels (CPU), NHWC float32.
//
//   forward   y[n, top + h, left + w, c] = x[n, h, w, c], every other y cell 0
//   backward  dx[n, h, w, c] = dy[n, top + h, left + w, c]                    (a crop)
// Shapes: x, dx (N, H, W, C); y, dy (N, BH, BW, C) with BH >= top + H, BW >= left + W.
// Layout: contiguous NHWC, so one image row is W*C contiguous floats: each output row is at most
// three memset/memcpy runs. Parallel over the N*BH rows of y (forward) or N*H rows of dx.
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "ops/pad2d.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kRowGrainFloats = 32768;
}  // namespace

void zero_pad2d_forward(int64_t n, int64_t h, int64_t w, int64_t c, int64_t top, int64_t left,
                        int64_t bh, int64_t bw, const float* x, float* y) {
  const int64_t row = bw * c, inner = w * c, before = left * c, after = row - before - inner;
  parallel_for(0, n * bh, std::max<int64_t>(1, kRowGrainFloats / std::max<int64_t>(row, 1)),
               [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      float* yr = y + r * row;
      const int64_t i = r % bh - top;
      if (i < 0 || i >= h) {
        std::memset(yr, 0, row * sizeof(float));
        continue;
      }
      std::memset(yr, 0, before * sizeof(float));
      std::memcpy(yr + before, x + ((r / bh) * h + i) * inner, inner * sizeof(float));
      std::memset(yr + before + inner, 0, after * sizeof(float));
    }
  });
}

void zero_pad2d_backward(int64_t n, int64_t h, int64_t w, int64_t c, int64_t top, int64_t left,
                         int64_t bh, int64_t bw, const float* dy, float* dx) {
  const int64_t inner = w * c;
  parallel_for(0, n * h, std::max<int64_t>(1, kRowGrainFloats / std::max<int64_t>(inner, 1)),
               [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t b = r / h, i = r % h;
      std::memcpy(dx + r * inner, dy + ((b * bh + top + i) * bw + left) * c, inner * sizeof(float));
    }
  });
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(zero_pad2d_forward_stub, Slot::cpu_ref,
                       +[](const Tensor&, int64_t n, int64_t h, int64_t w, int64_t c, int64_t top,
                           int64_t left, int64_t bh, int64_t bw, const float* x, float* y) {
                         zero_pad2d_forward(n, h, w, c, top, left, bh, bw, x, y);
                       });
CORENN_REGISTER_KERNEL(zero_pad2d_backward_stub, Slot::cpu_ref,
                       +[](const Tensor&, int64_t n, int64_t h, int64_t w, int64_t c, int64_t top,
                           int64_t left, int64_t bh, int64_t bw, const float* dy, float* dx) {
                         zero_pad2d_backward(n, h, w, c, top, left, bh, bw, dy, dx);
                       });
}  // namespace corenn::cpu
