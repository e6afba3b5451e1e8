// Confusion counts at many thresholds (CPU), for AUC / Precision / Recall.
//
// For ascending thresholds thr[0..T), element k (prediction p_k, label y_k, weight w_k):
//   tp[t] = sum_k w_k pos_k [p_k > thr[t]]     fp[t] = sum_k w_k neg_k [p_k > thr[t]]
//   fn[t] = sum_k w_k pos_k - tp[t]            tn[t] = sum_k w_k neg_k - fp[t]
// with pos_k = [y_k != 0], neg_k = 1 - pos_k, or with soft labels pos_k = y_k, neg_k = 1 - y_k.
// The plain way tests every element against every threshold (T = 200 for Keras' AUC). Instead each
// element goes to bucket b_k = #{t : thr[t] < p_k} (a binary search), so p_k > thr[t] iff b_k > t,
// and a suffix sum over the T + 1 buckets gives every threshold's counts: O(n log T + T).
// A NaN prediction lands in bucket 0: negative at every threshold.
// Buckets are filled per fixed chunk and added in chunk order: the same sums for any thread count.
#include <algorithm>
#include <vector>

#include "cpu/fixed_chunk_sum.h"
#include "ops/accuracy.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kChunkElems = 16384;

struct Buckets {
  std::vector<double> pos, neg;
};
}  // namespace

void confusion_counts(const float* pred, const float* target, int64_t n, int64_t cols,
                      const float* weight, const float* thr, int64_t T, bool soft_labels,
                      double* out) {
  const auto parts = fixed_chunk_map<Buckets>(n, kChunkElems, 1, [&](int64_t lo, int64_t hi, Buckets& b) {
    b.pos.assign(static_cast<size_t>(T + 1), 0.0);
    b.neg.assign(static_cast<size_t>(T + 1), 0.0);
    for (int64_t k = lo; k < hi; ++k) {
      const float p = pred[k];
      const int64_t bucket = std::lower_bound(thr, thr + T, p) - thr;  // #{t : thr[t] < p}
      const double w = weight ? double(weight[k / cols]) : 1.0;
      const double y = target[k];
      const double pos = soft_labels ? y : double(y != 0.0);
      b.pos[bucket] += w * pos;
      b.neg[bucket] += w * (1.0 - pos);
    }
  });
  std::vector<double> pos(static_cast<size_t>(T + 1), 0.0), neg(static_cast<size_t>(T + 1), 0.0);
  for (const Buckets& b : parts) {
    for (int64_t i = 0; i <= T; ++i) {
      pos[i] += b.pos[i];
      neg[i] += b.neg[i];
    }
  }
  double all_pos = 0.0, all_neg = 0.0;
  for (int64_t i = 0; i <= T; ++i) {
    all_pos += pos[i];
    all_neg += neg[i];
  }
  double tp = 0.0, fp = 0.0;  // suffix sums: buckets above t
  for (int64_t t = T - 1; t >= 0; --t) {
    tp += pos[t + 1];
    fp += neg[t + 1];
    out[4 * t + 0] = tp;
    out[4 * t + 1] = fp;
    out[4 * t + 2] = all_neg - fp;
    out[4 * t + 3] = all_pos - tp;
  }
}

CORENN_REGISTER_KERNEL(confusion_counts_stub, Slot::cpu_ref, confusion_counts);

}  // namespace corenn::cpu
