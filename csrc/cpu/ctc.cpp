// CTC loss and its logit gradient (CPU), the recursions of ops/ctc.h in log space and double.
// Parallel over the batch: each sample's alpha / beta tables (T_b x S) are its task's own.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/parallel.h"
#include "ops/ctc.h"

namespace corenn::cpu {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// log(e^a + e^b) without overflow; -inf + -inf stays -inf.
inline double log_add(double a, double b) {
  if (a < b) std::swap(a, b);
  if (b == kNegInf) return a;
  return a + std::log1p(std::exp(b - a));
}

void ctc_one(const float* x, const int64_t* label, int64_t steps, int64_t label_len, int64_t classes,
             int64_t blank, float* loss, float* grad) {
  // grad holds this sample's full (time, classes) block; steps past `steps` stay zero.
  if (steps == 0) {
    *loss = std::numeric_limits<float>::infinity();
    return;
  }
  const int64_t S = 2 * label_len + 1;
  std::vector<int64_t> ext(S, blank);
  for (int64_t i = 0; i < label_len; ++i) ext[2 * i + 1] = label[i];
  std::vector<char> skip(S, 0);  // a path may jump from s-2 to s (over a blank)
  for (int64_t s = 2; s < S; ++s) skip[s] = ext[s] != blank && ext[s] != ext[s - 2];

  // A NaN logit in the sample's steps: NaN loss and gradient over those steps (decided before
  // the recursions, whose structurally impossible states would otherwise hide it).
  for (int64_t i = 0; i < steps * classes; ++i) {
    if (std::isnan(x[i])) {
      *loss = std::numeric_limits<float>::quiet_NaN();
      std::fill(grad, grad + steps * classes, std::numeric_limits<float>::quiet_NaN());
      return;
    }
  }
  // log-softmax per step
  std::vector<double> logp(steps * classes);
  for (int64_t t = 0; t < steps; ++t) {
    const float* xt = x + t * classes;
    double m = xt[0];
    for (int64_t k = 1; k < classes; ++k) m = std::max(m, static_cast<double>(xt[k]));
    double z = 0.0;
    for (int64_t k = 0; k < classes; ++k) z += std::exp(xt[k] - m);
    const double lz = m + std::log(z);
    for (int64_t k = 0; k < classes; ++k) logp[t * classes + k] = xt[k] - lz;
  }

  std::vector<double> alpha(steps * S, kNegInf), beta(steps * S, kNegInf);
  alpha[0] = logp[ext[0]];
  if (S > 1) alpha[1] = logp[ext[1]];
  for (int64_t t = 1; t < steps; ++t) {
    const double* prev = &alpha[(t - 1) * S];
    double* cur = &alpha[t * S];
    for (int64_t s = 0; s < S; ++s) {
      double a = prev[s];
      if (s >= 1) a = log_add(a, prev[s - 1]);
      if (s >= 2 && skip[s]) a = log_add(a, prev[s - 2]);
      cur[s] = a == kNegInf ? kNegInf : a + logp[t * classes + ext[s]];
    }
  }
  const int64_t last = (steps - 1) * S;
  beta[last + S - 1] = logp[(steps - 1) * classes + ext[S - 1]];
  if (S > 1) beta[last + S - 2] = logp[(steps - 1) * classes + ext[S - 2]];
  for (int64_t t = steps - 2; t >= 0; --t) {
    const double* next = &beta[(t + 1) * S];
    double* cur = &beta[t * S];
    for (int64_t s = 0; s < S; ++s) {
      double b = next[s];
      if (s + 1 < S) b = log_add(b, next[s + 1]);
      if (s + 2 < S && skip[s + 2]) b = log_add(b, next[s + 2]);
      cur[s] = b == kNegInf ? kNegInf : b + logp[t * classes + ext[s]];
    }
  }
  const double ll = S > 1 ? log_add(alpha[last + S - 1], alpha[last + S - 2]) : alpha[last];
  if (!std::isfinite(ll)) {  // no alignment of `steps` steps spells the label
    *loss = std::numeric_limits<float>::infinity();
    return;
  }
  *loss = static_cast<float>(-ll);
  // d loss / d logp[t, k] = -occupancy of class k at t; through the log-softmax
  // d / dx = d/dlogp - p * sum_k d/dlogp, and that sum is -1 at every step (the occupancies of a
  // step sum to one), so dx = p - occupancy.
  std::vector<double> occ(classes);
  for (int64_t t = 0; t < steps; ++t) {
    std::fill(occ.begin(), occ.end(), 0.0);
    const double* lp = &logp[t * classes];
    for (int64_t s = 0; s < S; ++s) {
      const double a = alpha[t * S + s], b = beta[t * S + s];
      if (a == kNegInf || b == kNegInf) continue;
      occ[ext[s]] += std::exp(a + b - lp[ext[s]] - ll);
    }
    double total = 0.0;
    for (int64_t k = 0; k < classes; ++k) total += occ[k];
    float* g = grad + t * classes;
    for (int64_t k = 0; k < classes; ++k) g[k] = static_cast<float>(std::exp(lp[k]) * total - occ[k]);
  }
}

}  // namespace

void ctc_loss(const float* logits, const int64_t* labels, const int64_t* label_lengths,
              const int64_t* logit_lengths, int64_t blank, float* loss, float* grad, int64_t batch,
              int64_t time, int64_t classes, int64_t max_label) {
  parallel_for(0, batch, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b) {
      float* gb = grad + b * time * classes;
      std::fill(gb, gb + time * classes, 0.0f);
      ctc_one(logits + b * time * classes, labels + b * max_label, logit_lengths[b], label_lengths[b],
              classes, blank, loss + b, gb);
    }
  });
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(ctc_loss_stub, Slot::cpu_ref, ctc_loss);
}  // namespace corenn::cpu
