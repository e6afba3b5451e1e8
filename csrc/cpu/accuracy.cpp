// Accuracy counting kernels (CPU).
//
//   sparse_categorical: #{i : argmax_j pred[i, j] == label[i]}
//   categorical:        #{i : argmax_j pred[i, j] == argmax_j target[i, j]}
//   binary:             #{k : (pred[k] > threshold) == (target[k] > 0.5)}   (per element)
// pred / target are (rows, cols) row-major. argmax keeps the first maximum, a NaN being the largest value (NumPy's rule).
// Integer counts add exactly, so the fixed chunking only matters for the bad-label report.
#include <algorithm>

#include "cpu/fixed_chunk_sum.h"
#include "ops/accuracy.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kChunkElems = 8192;

inline int64_t argmax(const float* v, int64_t n) {
  int64_t best = 0;
  for (int64_t j = 1; j < n; ++j)
    if (!(v[j] <= v[best]) && v[best] == v[best]) best = j;  // NaN counts as the largest: the first NaN wins
  return best;
}

int64_t rows_per_chunk(int64_t cols) { return std::max<int64_t>(1, kChunkElems / std::max<int64_t>(cols, 1)); }

struct Count {
  int64_t hits = 0, bad_row = -1;
};
}  // namespace

template <class Label>
int64_t sparse_categorical_hits(const float* pred, const Label* labels, int64_t rows, int64_t cols) {
  const auto parts = fixed_chunk_map<Count>(rows, rows_per_chunk(cols), 2, [&](int64_t lo, int64_t hi, Count& c) {
    for (int64_t i = lo; i < hi; ++i) {
      const int64_t label = labels[i];
      if (label < 0 || label >= cols) {
        c.bad_row = i;
        return;
      }
      c.hits += argmax(pred + i * cols, cols) == label;
    }
  });
  int64_t hits = 0;
  for (const Count& c : parts) {
    if (c.bad_row >= 0) return -1 - c.bad_row;
    hits += c.hits;
  }
  return hits;
}

template int64_t sparse_categorical_hits<int32_t>(const float*, const int32_t*, int64_t, int64_t);
template int64_t sparse_categorical_hits<int64_t>(const float*, const int64_t*, int64_t, int64_t);

int64_t categorical_hits(const float* pred, const float* target, int64_t rows, int64_t cols) {
  const auto parts = fixed_chunk_map<Count>(rows, rows_per_chunk(cols), 2, [&](int64_t lo, int64_t hi, Count& c) {
    for (int64_t i = lo; i < hi; ++i)
      c.hits += argmax(pred + i * cols, cols) == argmax(target + i * cols, cols);
  });
  int64_t hits = 0;
  for (const Count& c : parts) hits += c.hits;
  return hits;
}

int64_t binary_hits(const float* pred, const float* target, int64_t n, float threshold) {
  const auto parts = fixed_chunk_map<Count>(n, 4 * kChunkElems, 2, [&](int64_t lo, int64_t hi, Count& c) {
    int64_t hits = 0;
    for (int64_t k = lo; k < hi; ++k) hits += (pred[k] > threshold) == (target[k] > 0.5f);
    c.hits = hits;
  });
  int64_t hits = 0;
  for (const Count& c : parts) hits += c.hits;
  return hits;
}

}  // namespace corenn::cpu
