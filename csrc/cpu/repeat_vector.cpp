// RepeatVector kernels (CPU), float32. x, dx (N, D); y, dy (N, n, D), contiguous.
//
//   forward   y[b, r, :] = x[b, :]              one memcpy per (b, r) row; parallel over them
//   backward  dx[b, :] = sum_r dy[b, r, :]      parallel over samples; the inner loop runs along
//                                               D (contiguous, vectorises), r in order
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "ops/repeat_vector.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kGrainFloats = 32768;
int64_t grain(int64_t per_item) { return std::max<int64_t>(1, kGrainFloats / std::max<int64_t>(per_item, 1)); }
}  // namespace

void repeat_vector_forward(const float* x, float* y, int64_t n, int64_t repeats, int64_t d) {
  parallel_for(0, n * repeats, grain(d), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row)
      std::memcpy(y + row * d, x + (row / repeats) * d, d * sizeof(float));
  });
}

void repeat_vector_backward(const float* dy, float* dx, int64_t n, int64_t repeats, int64_t d) {
  parallel_for(0, n, grain(repeats * d), [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      float* out = dx + b * d;
      const float* in = dy + b * repeats * d;
      std::memcpy(out, in, d * sizeof(float));
      for (int64_t r = 1; r < repeats; ++r) {
        const float* row = in + r * d;
        for (int64_t j = 0; j < d; ++j) out[j] += row[j];
      }
    }
  });
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(repeat_vector_forward_stub, Slot::cpu_ref, repeat_vector_forward);
CORENN_REGISTER_KERNEL(repeat_vector_backward_stub, Slot::cpu_ref, repeat_vector_backward);
}  // namespace corenn::cpu
