// Accuracy counting kernels (CPU).
//
//   sparse_categorical: #{i : argmax_j pred[i, j] == label[i]}
//   categorical:        #{i : argmax_j pred[i, j] == argmax_j target[i, j]}
//   binary:             #{k : (pred[k] > threshold) == (target[k] > 0.5)}   (per element)
//   top_k:              #{i : #{j : pred[i, j] > pred[i, label_i]} < k}, label_i an index or
//                       argmax_j target[i, j]  (Keras' in_top_k: ties at the k-th score are in)
// pred / target are (rows, cols) row-major. argmax keeps the first maximum, a NaN being the largest value (NumPy's rule).
// per_row (optional) gets each row's 0/1 hit, or for binary the row's fraction of matches: the
// per-sample function forms (metrics.sparse_categorical_accuracy(...)) read it.
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

// One pass over the row: no partial sort is needed to know whether fewer than k beat the label.
inline bool in_top_k(const float* v, int64_t n, int64_t label, int64_t k) {
  const float x = v[label];
  if (x != x) return false;
  int64_t above = 0;
  for (int64_t j = 0; j < n; ++j) above += v[j] > x;
  return above < k;
}

int64_t rows_per_chunk(int64_t cols) { return std::max<int64_t>(1, kChunkElems / std::max<int64_t>(cols, 1)); }

struct Count {
  int64_t hits = 0, bad_row = -1;
};

int64_t total(const std::vector<Count>& parts) {
  int64_t hits = 0;
  for (const Count& c : parts) {
    if (c.bad_row >= 0) return -1 - c.bad_row;
    hits += c.hits;
  }
  return hits;
}
}  // namespace

template <class Label>
int64_t sparse_categorical_hits(const float* pred, const Label* labels, int64_t rows, int64_t cols,
                                float* per_row) {
  const auto parts = fixed_chunk_map<Count>(rows, rows_per_chunk(cols), 2, [&](int64_t lo, int64_t hi, Count& c) {
    for (int64_t i = lo; i < hi; ++i) {
      const int64_t label = labels[i];
      if (label < 0 || label >= cols) {
        c.bad_row = i;
        return;
      }
      const bool hit = argmax(pred + i * cols, cols) == label;
      c.hits += hit;
      if (per_row) per_row[i] = hit;
    }
  });
  return total(parts);
}

template int64_t sparse_categorical_hits<int32_t>(const float*, const int32_t*, int64_t, int64_t, float*);
template int64_t sparse_categorical_hits<int64_t>(const float*, const int64_t*, int64_t, int64_t, float*);

int64_t categorical_hits(const float* pred, const float* target, int64_t rows, int64_t cols, float* per_row) {
  const auto parts = fixed_chunk_map<Count>(rows, rows_per_chunk(cols), 2, [&](int64_t lo, int64_t hi, Count& c) {
    for (int64_t i = lo; i < hi; ++i) {
      const bool hit = argmax(pred + i * cols, cols) == argmax(target + i * cols, cols);
      c.hits += hit;
      if (per_row) per_row[i] = hit;
    }
  });
  return total(parts);
}

int64_t binary_hits(const float* pred, const float* target, int64_t rows, int64_t cols, float threshold,
                    float* per_row) {
  const auto parts = fixed_chunk_map<Count>(rows, rows_per_chunk(cols), 2, [&](int64_t lo, int64_t hi, Count& c) {
    int64_t hits = 0;
    for (int64_t i = lo; i < hi; ++i) {
      const float* p = pred + i * cols;
      const float* t = target + i * cols;
      int64_t row = 0;
      for (int64_t j = 0; j < cols; ++j) row += (p[j] > threshold) == (t[j] > 0.5f);
      hits += row;
      if (per_row) per_row[i] = static_cast<float>(double(row) / cols);
    }
    c.hits = hits;
  });
  return total(parts);
}

template <class Label>
int64_t top_k_hits(const float* pred, const Label* labels, const float* target, int64_t rows,
                   int64_t cols, int64_t k, float* per_row) {
  const auto parts = fixed_chunk_map<Count>(rows, rows_per_chunk(cols), 2, [&](int64_t lo, int64_t hi, Count& c) {
    for (int64_t i = lo; i < hi; ++i) {
      const int64_t label = labels ? int64_t(labels[i]) : argmax(target + i * cols, cols);
      if (label < 0 || label >= cols) {
        c.bad_row = i;
        return;
      }
      const bool hit = in_top_k(pred + i * cols, cols, label, k);
      c.hits += hit;
      if (per_row) per_row[i] = hit;
    }
  });
  return total(parts);
}

template int64_t top_k_hits<int32_t>(const float*, const int32_t*, const float*, int64_t, int64_t, int64_t, float*);
template int64_t top_k_hits<int64_t>(const float*, const int64_t*, const float*, int64_t, int64_t, int64_t, float*);

}  // namespace corenn::cpu

// ---- registration: the cpu_ref slots of the accuracy stubs ----------------------------------

namespace corenn::cpu {
namespace {

template <class Label>
AccuracyHits sparse_hits_of(const float* pred, const Label* labels, int64_t rows, int64_t cols,
                            float* per_row) {
  AccuracyHits h;
  const int64_t r = sparse_categorical_hits(pred, labels, rows, cols, per_row);
  if (r >= 0) {
    h.hits = r;
  } else {
    h.bad_row = -1 - r;
    h.bad_label = static_cast<int64_t>(labels[h.bad_row]);
  }
  return h;
}

AccuracyHits sparse_hits(const Tensor&, const float* pred, const void* labels, bool labels32,
                         int64_t rows, int64_t cols, float* per_row) {
  if (labels32) return sparse_hits_of(pred, static_cast<const int32_t*>(labels), rows, cols, per_row);
  return sparse_hits_of(pred, static_cast<const int64_t*>(labels), rows, cols, per_row);
}

int64_t categorical(const Tensor&, const float* pred, const float* target, int64_t rows,
                    int64_t cols, float* per_row) {
  return categorical_hits(pred, target, rows, cols, per_row);
}

int64_t binary(const Tensor&, const float* pred, const float* target, int64_t rows, int64_t cols,
               float threshold, float* per_row) {
  return binary_hits(pred, target, rows, cols, threshold, per_row);
}

}  // namespace

CORENN_REGISTER_KERNEL(sparse_categorical_hits_stub, Slot::cpu_ref, sparse_hits);
CORENN_REGISTER_KERNEL(categorical_hits_stub, Slot::cpu_ref, categorical);
CORENN_REGISTER_KERNEL(binary_hits_stub, Slot::cpu_ref, binary);
CORENN_REGISTER_KERNEL(top_k_hits_stub, Slot::cpu_ref,
                       +[](const float* pred, const int32_t* labels32, const int64_t* labels64,
                           const float* target, int64_t rows, int64_t cols, int64_t k,
                           float* per_row) {
                         return labels32 ? top_k_hits(pred, labels32, target, rows, cols, k, per_row)
                                         : top_k_hits(pred, labels64, target, rows, cols, k, per_row);
                       });

}  // namespace corenn::cpu
