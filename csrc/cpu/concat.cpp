// Concatenation and split (CPU); see ops/concat.h.
//
// Viewed as rows: piece i is (outer, w_i) and the whole is (outer, W), W = sum_i w_i, piece i
// sitting at column offset o_i of every whole row. Each (row, piece) pair is one memcpy; pairs
// are spread over threads in blocks of about kGrain floats.
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "ops/concat.h"

namespace corenn::cpu {

namespace {

constexpr int64_t kGrain = 32768;

template <class F>
void for_pieces(const std::vector<int64_t>& widths, int64_t outer, const F& f) {
  const int64_t n = static_cast<int64_t>(widths.size());
  std::vector<int64_t> offset(n + 1, 0);
  for (int64_t i = 0; i < n; ++i) offset[i + 1] = offset[i] + widths[i];
  const int64_t row = std::max<int64_t>(1, offset[n]);
  parallel_for(0, outer * n, std::max<int64_t>(1, kGrain * n / row), [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t r = t / n, i = t % n;
      if (widths[i]) f(i, r * widths[i], r * offset[n] + offset[i], widths[i]);
    }
  });
}

}  // namespace

void concat(const std::vector<const float*>& xs, const std::vector<int64_t>& widths,
            int64_t outer, float* y) {
  for_pieces(widths, outer, [&](int64_t i, int64_t src, int64_t dst, int64_t w) {
    std::memcpy(y + dst, xs[i] + src, w * sizeof(float));
  });
}

void split(const float* x, const std::vector<float*>& ys, const std::vector<int64_t>& widths,
           int64_t outer) {
  for_pieces(widths, outer, [&](int64_t i, int64_t dst, int64_t src, int64_t w) {
    std::memcpy(ys[i] + dst, x + src, w * sizeof(float));
  });
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(concat_stub, Slot::cpu_ref, concat);
CORENN_REGISTER_KERNEL(split_stub, Slot::cpu_ref, split);
}  // namespace corenn::cpu
