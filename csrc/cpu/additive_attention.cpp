// Additive attention score kernels (CPU); the math is in ops/additive_attention.h. query, dquery
// (N, Tq, D), key, dkey (N, Tv, D), scores, dscores (N, Tq, Tv) row-major.
//
// forward: parallel over the N * Tq query rows; the D-long dot of w with tanh is summed in double.
// backward: the batch is cut into a fixed number of chunks that depends on N only; a chunk owns
//   its samples' dquery / dkey rows (written whole, never shared) and accumulates its own double
//   partials of dw / dalpha, combined in chunk order afterwards: the same bits for any number of
//   threads. tanh is recomputed rather than stored (it would be N * Tq * Tv * D floats).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "cpu/fixed_chunk_sum.h"
#include "ops/additive_attention.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kGrainTanh = 8192;  // tanh evaluations per thread at least
constexpr int64_t kMaxChunks = 64;
}  // namespace

void additive_attention_scores_forward(const AdditiveProblem& p, const float* query,
                                       const float* key, const float* w, float* scores) {
  const int64_t per_row = std::max<int64_t>(p.tv * p.d, 1);
  parallel_for(0, p.n * p.tq, std::max<int64_t>(1, kGrainTanh / per_row), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t n = r / p.tq;
      const float* q = query + r * p.d;
      for (int64_t j = 0; j < p.tv; ++j) {
        const float* k = key + (n * p.tv + j) * p.d;
        double s = 0.0;
        for (int64_t d = 0; d < p.d; ++d) s += static_cast<double>(w[d]) * std::tanh(p.alpha * (q[d] + k[d]));
        scores[r * p.tv + j] = static_cast<float>(s);
      }
    }
  });
}

void additive_attention_scores_backward(const AdditiveProblem& p, const float* dscores,
                                        const float* query, const float* key, const float* w,
                                        float* dquery, float* dkey, float* dw, float* dalpha) {
  const int64_t chunk = std::max<int64_t>((p.n + kMaxChunks - 1) / kMaxChunks, 1);
  const int64_t per_sample = std::max<int64_t>(p.tq * p.tv * p.d, 1);
  const int64_t grain_chunks = std::max<int64_t>(1, kGrainTanh / (per_sample * chunk));
  struct Partial {
    std::vector<double> dw;
    double dalpha = 0.0;
  };
  auto partials = fixed_chunk_map<Partial>(p.n, chunk, grain_chunks,
                                           [&](int64_t lo, int64_t hi, Partial& part) {
    part.dw.assign(dw ? p.d : 0, 0.0);
    std::vector<double> dq_row(p.d), dk_acc;
    for (int64_t n = lo; n < hi; ++n) {
      dk_acc.assign(p.tv * p.d, 0.0);
      for (int64_t i = 0; i < p.tq; ++i) {
        const float* q = query + (n * p.tq + i) * p.d;
        std::fill(dq_row.begin(), dq_row.end(), 0.0);
        for (int64_t j = 0; j < p.tv; ++j) {
          const float ds = dscores[(n * p.tq + i) * p.tv + j];
          const float* k = key + (n * p.tv + j) * p.d;
          double* dk = dk_acc.data() + j * p.d;
          for (int64_t d = 0; d < p.d; ++d) {
            const float sum = q[d] + k[d];
            const double t = std::tanh(p.alpha * sum);
            const double g = ds * w[d] * (1.0 - t * t);
            dq_row[d] += g;
            dk[d] += g;
            if (dw) part.dw[d] += ds * t;
            part.dalpha += g * sum;
          }
        }
        if (dquery) {
          float* dq = dquery + (n * p.tq + i) * p.d;
          for (int64_t d = 0; d < p.d; ++d) dq[d] = static_cast<float>(p.alpha * dq_row[d]);
        }
      }
      if (dkey) {
        float* dk = dkey + n * p.tv * p.d;
        for (int64_t e = 0; e < p.tv * p.d; ++e) dk[e] = static_cast<float>(p.alpha * dk_acc[e]);
      }
    }
  });
  std::vector<double> sw(dw ? p.d : 0, 0.0);
  double sa = 0.0;
  for (const Partial& part : partials) {
    for (size_t d = 0; d < sw.size(); ++d) sw[d] += part.dw[d];
    sa += part.dalpha;
  }
  for (size_t d = 0; d < sw.size(); ++d) dw[d] = static_cast<float>(sw[d]);
  if (dalpha) *dalpha = static_cast<float>(sa);
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(additive_attention_scores_forward_stub, Slot::cpu_ref, additive_attention_scores_forward);
CORENN_REGISTER_KERNEL(additive_attention_scores_backward_stub, Slot::cpu_ref, additive_attention_scores_backward);
}  // namespace corenn::cpu
