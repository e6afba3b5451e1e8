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
// The losses below have no clipping of p to (0, 1) unless stated; d_j = the gradient before scale.
//   kld    tc = clip(t, eps, 1), pc = clip(p, eps, 1): loss_i = sum_j tc log(tc / pc),
//          d_j = -tc / pc where eps <= p <= 1, else 0 (the clip is flat there)
//   cosine nt = max(|t|, eps), np = max(|p|, eps) (Keras' normalize: x * min(rsqrt(x.x), 1/eps)),
//          loss_i = -(t.p) / (nt np), d_j = -(t_j - p_j (t.p) / |p|^2) / (nt np), or -t_j / (nt eps)
//          when |p| < eps (np is then a constant)
//   hinge  y = 2t - 1 when the whole batch's t is 0/1, else t; m = 1 - y p:
//          loss_i = mean_j max(m, 0),   d_j = -y [m > 0] / C
//   squared_hinge loss_i = mean_j max(m, 0)^2,  d_j = -2 y max(m, 0) / C
//   categorical_hinge pos = sum_j t p, neg = max_j (1 - t_j) p_j (first max at k), l = neg - pos + 1:
//          loss_i = max(l, 0),   d_j = [l > 0] ([j == k] (1 - t_k) - t_j)
//   log_cosh e = p - t: loss_i = mean_j e + softplus(-2e) - log 2 (= log cosh e, written so that
//          large |e| does not overflow: |e| + log1p(exp(-2|e|)) - log 2),  d_j = tanh(e) / C
//   poisson loss_i = mean_j p - t log(p + eps),   d_j = (1 - t / (p + eps)) / C
//   msle   d = log(max(p, eps) + 1) - log(max(t, eps) + 1): loss_i = mean_j d^2,
//          d_j = 2 d / (max(p, eps) + 1) / C where p >= eps, else 0
//   mape   loss_i = 100 mean_j |t - p| / max(|t|, eps),   d_j = 100 sign(p - t) / max(|t|, eps) / C
//   binary_focal (Lin et al.; Keras 3): p = sigmoid(x) from logits, else p; c = clip(p),
//          bce = -(t log c + (1-t) log(1-c)), p_t = t p + (1-t)(1-p), f = (1 - p_t)^gamma,
//          w = t alpha + (1-t)(1-alpha) with class balancing, else 1: loss_i = mean_j w f bce,
//          d_j = w (f' bce + f bce'), f' = -gamma (1 - p_t)^(gamma-1) (2t - 1), bce' = 0 where p is
//          clipped; times p (1 - p) from logits
//   categorical_focal q = softmax(x) from logits, else p / sum p; c = clip(q):
//          loss_i = -alpha sum_j t_j (1 - c_j)^gamma log c_j; with h_j = dloss/dq_j (0 where q_j is
//          clipped): grad_k = q_k (h_k - sum_j h_j q_j) from logits, (h_k - sum_j h_j q_j) / s else
// The math runs in double per row: the loss is a small part of a step and this keeps the clipping
// thresholds and log of tiny probabilities exact. The two hot rows, MSE and the softmax
// cross-entropy from logits, come from loss_rows_stub: with AVX-512 the MSE row of
// loss_avx512.cpp (the same double sums in lanes; the cross-entropy row stays this one, see there). Rows are cut into fixed chunks (independent of
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

double kld_row(const float* p, const float* t, float* g, int64_t C, double scale) {
  double s = 0.0;
  for (int64_t j = 0; j < C; ++j) {
    const double tc = std::min(std::max(double(t[j]), kEps), 1.0);
    const double x = p[j], pc = std::min(std::max(x, kEps), 1.0);
    s += tc * std::log(tc / pc);
    if (g) g[j] = (x < kEps || x > 1.0) ? 0.0f : static_cast<float>(-tc / pc * scale);
  }
  return s;
}

double cosine_row(const float* p, const float* t, float* g, int64_t C, double scale) {
  double tt = 0.0, pp = 0.0, tp = 0.0;
  for (int64_t j = 0; j < C; ++j) {
    tt += double(t[j]) * t[j];
    pp += double(p[j]) * p[j];
    tp += double(t[j]) * p[j];
  }
  const double pnorm = std::sqrt(pp);
  const double nt = std::max(std::sqrt(tt), kEps), np = std::max(pnorm, kEps);
  if (g) {
    // below eps the norm is clamped, so only the numerator t.p varies with p
    const double k = pnorm < kEps ? 0.0 : tp / pp;
    for (int64_t j = 0; j < C; ++j) g[j] = static_cast<float>(-(t[j] - p[j] * k) / (nt * np) * scale);
  }
  return -tp / (nt * np);
}

double hinge_row(const float* p, const float* t, float* g, int64_t C, double scale, bool pm1,
                 bool squared) {
  double s = 0.0;
  for (int64_t j = 0; j < C; ++j) {
    const double y = pm1 ? 2.0 * t[j] - 1.0 : double(t[j]);
    const double m = 1.0 - y * p[j];
    const double h = m > 0.0 ? m : (m != m ? m : 0.0);  // NaN stays NaN, as in the value
    s += squared ? h * h : h;
    const double d = squared ? -2.0 * y * h : (m != m ? m : m > 0.0 ? -y : 0.0);
    if (g) g[j] = static_cast<float>(d * scale / C);
  }
  return s / C;
}

double categorical_hinge_row(const float* p, const float* t, float* g, int64_t C, double scale) {
  double pos = 0.0, neg = 0.0;
  int64_t k = 0;
  for (int64_t j = 0; j < C; ++j) {
    pos += double(t[j]) * p[j];  // a NaN anywhere in p makes pos, hence the loss, NaN
    const double v = (1.0 - t[j]) * p[j];
    if (j == 0 || v > neg) {
      neg = v;
      k = j;
    }
  }
  const double l = neg - pos + 1.0;
  const bool nan = l != l;
  if (g) {
    for (int64_t j = 0; j < C; ++j) {
      const double d = (j == k ? 1.0 - t[j] : 0.0) - t[j];
      g[j] = nan ? static_cast<float>(l) : l > 0.0 ? static_cast<float>(d * scale) : 0.0f;
    }
  }
  return nan ? l : std::max(l, 0.0);
}

double log_cosh_row(const float* p, const float* t, float* g, int64_t C, double scale) {
  static const double kLog2 = std::log(2.0);
  double s = 0.0;
  for (int64_t j = 0; j < C; ++j) {
    const double e = double(p[j]) - t[j], a = std::fabs(e);
    s += a + std::log1p(std::exp(-2.0 * a)) - kLog2;
    if (g) g[j] = static_cast<float>(std::tanh(e) * scale / C);
  }
  return s / C;
}

double poisson_row(const float* p, const float* t, float* g, int64_t C, double scale) {
  double s = 0.0;
  for (int64_t j = 0; j < C; ++j) {
    const double x = double(p[j]) + kEps;
    s += p[j] - t[j] * std::log(x);
    if (g) g[j] = static_cast<float>((1.0 - t[j] / x) * scale / C);
  }
  return s / C;
}

double msle_row(const float* p, const float* t, float* g, int64_t C, double scale) {
  double s = 0.0;
  for (int64_t j = 0; j < C; ++j) {
    const double x = p[j], xc = std::max(x, kEps);  // max(NaN, eps) is NaN: NaN goes through
    const double d = std::log1p(xc) - std::log1p(std::max(double(t[j]), kEps));
    s += d * d;
    if (g) g[j] = x < kEps ? 0.0f : static_cast<float>(2.0 * d / (xc + 1.0) * scale / C);
  }
  return s / C;
}

double mape_row(const float* p, const float* t, float* g, int64_t C, double scale) {
  double s = 0.0;
  for (int64_t j = 0; j < C; ++j) {
    const double den = std::max(std::fabs(double(t[j])), kEps), e = double(p[j]) - t[j];
    s += std::fabs(e) / den;
    if (g) g[j] = static_cast<float>(100.0 * sign(e) / den * scale / C);
  }
  return 100.0 * s / C;
}

// Dense targets t, or (t == nullptr) the one-hot row of `label`: the softmax cross-entropy from
// logits (the reference row of loss_rows_stub).
double cce_logits_row(const float* p, const float* t, int64_t label, float* g, int64_t C,
                      double scale) {
  auto target = [&](int64_t j) { return t ? double(t[j]) : double(j == label); };
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

// Dense targets t, or (t == nullptr) the one-hot row of `label`. From logits: the per-ISA row.
double cce_row(const LossRows& rows, const float* p, const float* t, int64_t label, float* g,
               int64_t C, double scale, bool logits) {
  auto target = [&](int64_t j) { return t ? double(t[j]) : double(j == label); };
  if (logits) return rows.cce_logits_row(p, t, label, g, C, scale);
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

double binary_focal_row(const float* p, const float* t, float* g, int64_t C, double scale, bool logits,
                        double alpha, double gamma, bool balanced) {
  double s = 0.0;
  for (int64_t j = 0; j < C; ++j) {
    const double x = p[j], y = t[j];
    const double q = logits ? 1.0 / (1.0 + std::exp(-x)) : x;
    const double c = clip(q);
    const double bce = -(y * std::log(c) + (1.0 - y) * std::log(1.0 - c));
    const double one_minus_pt = 1.0 - (y * q + (1.0 - y) * (1.0 - q));
    const double f = std::pow(one_minus_pt, gamma);
    const double w = balanced ? y * alpha + (1.0 - y) * (1.0 - alpha) : 1.0;
    s += w * f * bce;
    if (g) {
      const double dbce = in_clip_range(q) ? -(y / c - (1.0 - y) / (1.0 - c)) : 0.0;
      // d(1 - p_t)/dq = -(2y - 1); gamma = 0 makes f constant (no 0^-1 at p_t = 1)
      const double df = gamma == 0.0 ? 0.0 : -gamma * std::pow(one_minus_pt, gamma - 1.0) * (2.0 * y - 1.0);
      double d = w * (df * bce + f * dbce);
      if (logits) d *= q * (1.0 - q);
      g[j] = static_cast<float>(d * scale / C);
    }
  }
  return s / C;
}

double categorical_focal_row(const float* p, const float* t, float* g, int64_t C, double scale, bool logits,
                             double alpha, double gamma) {
  double m = -INFINITY, s = 0.0;
  if (logits) {
    for (int64_t j = 0; j < C; ++j) m = std::max(m, double(p[j]));
    for (int64_t j = 0; j < C; ++j) s += std::exp(p[j] - m);
  } else {
    for (int64_t j = 0; j < C; ++j) s += p[j];
  }
  auto prob = [&](int64_t j) { return logits ? std::exp(p[j] - m) / s : p[j] / s; };
  double loss = 0.0, dot = 0.0;
  for (int64_t j = 0; j < C; ++j) {
    const double tj = t[j];
    if (tj == 0.0) continue;
    const double q = prob(j), c = clip(q), lc = std::log(c), f = std::pow(1.0 - c, gamma);
    loss -= alpha * tj * f * lc;
    if (g && in_clip_range(q)) {
      const double df = gamma == 0.0 ? 0.0 : -gamma * std::pow(1.0 - c, gamma - 1.0);
      dot += -alpha * tj * (df * lc + f / c) * q;
    }
  }
  if (g) {
    for (int64_t j = 0; j < C; ++j) {
      const double tj = t[j], q = prob(j);
      double h = 0.0;
      if (tj != 0.0 && in_clip_range(q)) {
        const double c = clip(q), f = std::pow(1.0 - c, gamma);
        const double df = gamma == 0.0 ? 0.0 : -gamma * std::pow(1.0 - c, gamma - 1.0);
        h = -alpha * tj * (df * std::log(c) + f / c);
      }
      g[j] = static_cast<float>((logits ? q * (h - dot) : (h - dot) / s) * scale);
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
  const LossRows& rows = *loss_rows_stub.cpu();
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
      case LossKind::mse: li = rows.mse_row(p, t, g, C, scale); break;
      case LossKind::mae: li = mae_row(p, t, g, C, scale); break;
      case LossKind::huber: li = huber_row(p, t, g, C, scale, pb.delta); break;
      case LossKind::bce: li = bce_row(p, t, g, C, scale, pb.from_logits); break;
      case LossKind::cce: li = cce_row(rows, p, t, -1, g, C, scale, pb.from_logits); break;
      case LossKind::sparse_cce: break;
      case LossKind::kld: li = kld_row(p, t, g, C, scale); break;
      case LossKind::cosine: li = cosine_row(p, t, g, C, scale); break;
      case LossKind::hinge: li = hinge_row(p, t, g, C, scale, pb.hinge_pm1, false); break;
      case LossKind::squared_hinge: li = hinge_row(p, t, g, C, scale, pb.hinge_pm1, true); break;
      case LossKind::categorical_hinge: li = categorical_hinge_row(p, t, g, C, scale); break;
      case LossKind::log_cosh: li = log_cosh_row(p, t, g, C, scale); break;
      case LossKind::poisson: li = poisson_row(p, t, g, C, scale); break;
      case LossKind::msle: li = msle_row(p, t, g, C, scale); break;
      case LossKind::mape: li = mape_row(p, t, g, C, scale); break;
      case LossKind::binary_focal:
        li = binary_focal_row(p, t, g, C, scale, pb.from_logits, pb.focal_alpha, pb.focal_gamma,
                              pb.class_balancing);
        break;
      case LossKind::categorical_focal:
        li = categorical_focal_row(p, t, g, C, scale, pb.from_logits, pb.focal_alpha, pb.focal_gamma);
        break;
    }
    if (pb.per_sample) pb.per_sample[i] = static_cast<float>(li);
    sum += w * li;
  }
  out.sum = sum;
}

void rows_sparse(const LossProblem& pb, int64_t lo, int64_t hi, Partial& out) {
  const int64_t C = pb.cols;
  const LossRows& rows = *loss_rows_stub.cpu();
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
    const double li =
        cce_row(rows, pb.pred + i * C, nullptr, label, g, C, w / pb.rows, pb.from_logits);
    if (pb.per_sample) pb.per_sample[i] = static_cast<float>(li);
    sum += w * li;
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

bool all_zero_or_one(const float* t, int64_t n) {
  for (int64_t k = 0; k < n; ++k)
    if (t[k] != 0.0f && t[k] != 1.0f) return false;
  return true;
}

}  // namespace corenn::cpu

namespace corenn::cpu {
namespace {
constexpr LossRows kRefRows{mse_row, cce_logits_row};
}  // namespace
CORENN_DEFINE_DISPATCH(LossRowsRef, loss_rows_stub, "loss.rows");
CORENN_REGISTER_KERNEL(loss_rows_stub, Slot::cpu_ref, &kRefRows);
CORENN_REGISTER_KERNEL(loss_forward_stub, Slot::cpu_ref,
                       +[](const LossProblem& pb, const Tensor&) { return loss_forward(pb); });
}  // namespace corenn::cpu
