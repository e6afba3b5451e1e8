// Loss kernels (CPU): value and gradient of Keras 3 losses in one pass over the rows.
//
// pred, target, grad are (rows, C); labels and weight are (rows,). With w_i = weight[i] (or 1) and
// scale_i = w_i / rows, for each row i (e = pred - target, eps = 1e-7):
//   mse    loss_i = mean_j e^2                          grad = 2 e scale_i / C
//   mae    loss_i = mean_j |e|                          grad = sign(e) scale_i / C
//   huber  loss_i = mean_j (|e| <= d ? e^2/2 : d|e| - d^2/2)
//                                                       grad = (|e| <= d ? e : d sign e) scale_i / C
//   bce    probabilities: c = clip(p, eps, 1-eps), loss_i = mean_j -(t log c + (1-t) log(1-c)),
//                         grad = -(t/c - (1-t)/(1-c)) scale_i / C where p is not clipped, else 0
//          logits x:      loss_i = mean_j max(x,0) - x t + log1p(e^-|x|),
//                         grad = (sigmoid(x) - t) scale_i / C
//   cce    probabilities: s = sum_j p_j, q = p / s, c = clip(q, eps, 1-eps), loss_i = -sum t log c;
//                         with g_j = -t_j / c_j (0 where clipped):
//                         grad_k = (g_k - sum_j g_j q_j) / s * scale_i   (chain rule through q)
//          logits x:      loss_i = sum_j t_j (lse - x_j), lse = log sum_j e^x_j,
//                         grad_k = (softmax_k sum_j t_j - t_k) scale_i   (= softmax - onehot)
//   sparse_cce: cce with t = onehot(label_i) (the NumPy/JAX Keras backends define it so).
// The math runs in double per row: the loss is a small part of a step and this keeps the clipping
// thresholds and log of tiny probabilities exact. Rows are cut into fixed chunks (independent of
// the thread count) whose double partial sums are added in order: deterministic for any threads.
#include <algorithm>
#include <cmath>

#include "cpu/fixed_chunk_sum.h"
#include "ops/loss.h"

namespace corenn::cpu {

namespace {

constexpr double kEps = 1e-7;
constexpr int64_t kChunkElems = 4096;
constexpr int64_t kGrainChunks = 4;

// NaN goes through both (sign(NaN) = NaN; NaN counts as inside the clip range), so a NaN
// prediction gives a NaN gradient, not a silent 0.
inline double sign(double v) { return v != v ? v : static_cast<double>(v > 0.0) - static_cast<double>(v < 0.0); }
inline bool in_clip_range(double v) { return !(v < kEps || v > 1.0 - kEps); }
inline double clip(double v) { return std::min(std::max(v, kEps), 1.0 - kEps); }

// Each row function returns loss_i and, when g is set, writes the row's gradient times `scale`.
double mse_row(const float* p, const float* t, float* g, int64_t C, double scale) {
  double s = 0.0;
  for (int64_t j = 0; j < C; ++j) {
    const double e = double(p[j]) - t[j];
    s += e * e;
    if (g) g[j] = static_cast<float>(2.0 * e * scale / C);
  }
  return s / C;
}

double mae_row(const float* p, const float* t, float* g, int64_t C, double scale) {
  double s = 0.0;
  for (int64_t j = 0; j < C; ++j) {
    const double e = double(p[j]) - t[j];
    s += std::fabs(e);
    if (g) g[j] = static_cast<float>(sign(e) * scale / C);
  }
  return s / C;
}

double huber_row(const float* p, const float* t, float* g, int64_t C, double scale, double d) {
  double s = 0.0;
  for (int64_t j = 0; j < C; ++j) {
    const double e = double(p[j]) - t[j], a = std::fabs(e);
    const bool quad = a <= d;
    s += quad ? 0.5 * e * e : d * a - 0.5 * d * d;
    if (g) g[j] = static_cast<float>((quad ? e : d * sign(e)) * scale / C);
  }
  return s / C;
}

double bce_row(const float* p, const float* t, float* g, int64_t C, double scale, bool logits) {
  double s = 0.0;
  for (int64_t j = 0; j < C; ++j) {
    const double x = p[j], y = t[j];
    if (logits) {
      s += std::max(x, 0.0) - x * y + std::log1p(std::exp(-std::fabs(x)));
      if (g) g[j] = static_cast<float>((1.0 / (1.0 + std::exp(-x)) - y) * scale / C);
    } else {
      const double c = clip(x);
      s -= y * std::log(c) + (1.0 - y) * std::log(1.0 - c);
      if (g) g[j] = in_clip_range(x) ? static_cast<float>(-(y / c - (1.0 - y) / (1.0 - c)) * scale / C) : 0.0f;
    }
  }
  return s / C;
}

// Dense targets t, or (t == nullptr) the one-hot row of `label`.
double cce_row(const float* p, const float* t, int64_t label, float* g, int64_t C, double scale,
               bool logits) {
  auto target = [&](int64_t j) { return t ? double(t[j]) : double(j == label); };
  if (logits) {
    double m = p[0];
    for (int64_t j = 1; j < C; ++j) m = std::max(m, double(p[j]));
    double z = 0.0, tsum = 0.0, tx = 0.0;
    for (int64_t j = 0; j < C; ++j) {
      const double e = std::exp(p[j] - m);
      z += e;
      if (g) g[j] = static_cast<float>(e);  // parked here so the gradient needs no second exp
      const double tj = target(j);
      tsum += tj;
      if (tj != 0.0) tx += tj * p[j];
    }
    if (g) {
      const double k = tsum / z;
      for (int64_t j = 0; j < C; ++j) g[j] = static_cast<float>((g[j] * k - target(j)) * scale);
    }
    return tsum * (m + std::log(z)) - tx;
  }
  double s = 0.0;
  for (int64_t j = 0; j < C; ++j) s += p[j];
  double loss = 0.0, dot = 0.0;
  for (int64_t j = 0; j < C; ++j) {
    const double tj = target(j);
    if (tj == 0.0) continue;
    const double q = p[j] / s, c = clip(q);
    loss -= tj * std::log(c);
    if (in_clip_range(q)) dot += -tj / c * q;
  }
  if (g) {
    for (int64_t j = 0; j < C; ++j) {
      const double tj = target(j), q = p[j] / s;
      const double gj = (tj != 0.0 && in_clip_range(q)) ? -tj / clip(q) : 0.0;
      g[j] = static_cast<float>((gj - dot) / s * scale);
    }
  }
  return loss;
}

struct Partial {
  double sum = 0.0;
  int64_t bad_row = -1, bad_label = 0;
};

void rows_dense(const LossProblem& pb, int64_t lo, int64_t hi, Partial& out) {
  const int64_t C = pb.cols;
  double sum = 0.0;
  for (int64_t i = lo; i < hi; ++i) {
    const float* p = pb.pred + i * C;
    const float* t = pb.target + i * C;
    bool nan = false;
    for (int64_t j = 0; j < C; ++j) nan |= std::isnan(t[j]);
    if (nan) {
      out.bad_row = i;
      break;
    }
    const double w = pb.weight ? pb.weight[i] : 1.0, scale = w / pb.rows;
    float* g = pb.grad ? pb.grad + i * C : nullptr;
    double li = 0.0;
    switch (pb.kind) {
      case LossKind::mse: li = mse_row(p, t, g, C, scale); break;
      case LossKind::mae: li = mae_row(p, t, g, C, scale); break;
      case LossKind::huber: li = huber_row(p, t, g, C, scale, pb.delta); break;
      case LossKind::bce: li = bce_row(p, t, g, C, scale, pb.from_logits); break;
      case LossKind::cce: li = cce_row(p, t, -1, g, C, scale, pb.from_logits); break;
      case LossKind::sparse_cce: break;
    }
    sum += w * li;
  }
  out.sum = sum;
}

void rows_sparse(const LossProblem& pb, int64_t lo, int64_t hi, Partial& out) {
  const int64_t C = pb.cols;
  double sum = 0.0;
  for (int64_t i = lo; i < hi; ++i) {
    const int64_t label = pb.labels32 ? pb.labels32[i] : pb.labels64[i];
    if (label < 0 || label >= C) {
      out.bad_row = i;
      out.bad_label = label;
      break;
    }
    const double w = pb.weight ? pb.weight[i] : 1.0;
    float* g = pb.grad ? pb.grad + i * C : nullptr;
    sum += w * cce_row(pb.pred + i * C, nullptr, label, g, C, w / pb.rows, pb.from_logits);
  }
  out.sum = sum;
}

}  // namespace

LossResult loss_forward(const LossProblem& pb) {
  const int64_t rows_per_chunk = std::max<int64_t>(1, kChunkElems / std::max<int64_t>(pb.cols, 1));
  const bool sparse = pb.kind == LossKind::sparse_cce;
  const auto partial = fixed_chunk_map<Partial>(
      pb.rows, rows_per_chunk, kGrainChunks, [&](int64_t lo, int64_t hi, Partial& out) {
        if (sparse) rows_sparse(pb, lo, hi, out);
        else rows_dense(pb, lo, hi, out);
      });
  LossResult result;
  double sum = 0.0;
  for (const Partial& part : partial) {
    if (part.bad_row >= 0) {
      result.bad_row = part.bad_row;
      result.bad_label = part.bad_label;
      return result;
    }
    sum += part.sum;
  }
  result.value = sum / pb.rows;
  return result;
}

}  // namespace corenn::cpu
