// Loss kernels (CUDA): value and gradient of the Keras 3 losses in one launch; the same math as
// cpu/loss.cpp (see its header for the formulas). pred, target, grad (rows, C); labels and
// weight (rows,); scale_i = w_i / rows.
//
// One block per row, math in double like the CPU: mse / mae / huber / bce are one pass (per
// element loss and gradient, then a block sum); cross-entropy from logits is the fused
// softmax-CE gradient, softmax_k * sum_j t_j - t_k, in three passes over the row (max, then
// sum of exponentials with the target sums, then the gradient), and from probabilities it goes
// through q = p / sum p as on the CPU. Each row writes (w_i loss_i, bad flag, bad label) to a
// scratch buffer that comes back to the host, where the rows are added in order: deterministic,
// and the first bad row (NaN target, out-of-range label) is reported as on the CPU. That D2H copy
// of 24 bytes per row synchronises the stream once per call; a training loop that does not need
// the value every step could skip it later.
#include <cmath>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/loss.h"

namespace corenn::cuda {

namespace {

constexpr double kEps = 1e-7;
constexpr int kLossThreads = 128;

struct RowOut {
  double loss;  // w_i * loss_i
  int64_t bad;  // 1: NaN target (dense) or out-of-range label (sparse)
  int64_t label;
};

struct Problem {
  LossKind kind;
  const float* pred;
  const float* target;
  const int32_t* labels32;
  const int64_t* labels64;
  const float* weight;
  float* grad;
  int64_t rows, cols;
  bool from_logits;
  double delta;
};

// NaN goes through both, as on the CPU (csrc/cpu/loss.cpp): a NaN prediction gives a NaN gradient.
__device__ inline double sign(double v) { return v != v ? v : double(v > 0.0) - double(v < 0.0); }
__device__ inline bool in_clip_range(double v) { return !(v < kEps || v > 1.0 - kEps); }
__device__ inline double clip(double v) { return fmin(fmax(v, kEps), 1.0 - kEps); }

// Elementwise losses: returns the element's loss, writes its gradient (times scale / C).
__device__ double dense_element(const Problem& pb, double x, double t, float* g, double sc) {
  switch (pb.kind) {
    case LossKind::mse: {
      const double e = x - t;
      if (g) *g = static_cast<float>(2.0 * e * sc);
      return e * e;
    }
    case LossKind::mae: {
      const double e = x - t;
      if (g) *g = static_cast<float>(sign(e) * sc);
      return fabs(e);
    }
    case LossKind::huber: {
      const double e = x - t, a = fabs(e), d = pb.delta;
      const bool quad = a <= d;
      if (g) *g = static_cast<float>((quad ? e : d * sign(e)) * sc);
      return quad ? 0.5 * e * e : d * a - 0.5 * d * d;
    }
    default: {  // bce
      if (pb.from_logits) {
        if (g) *g = static_cast<float>((1.0 / (1.0 + exp(-x)) - t) * sc);
        return fmax(x, 0.0) - x * t + log1p(exp(-fabs(x)));
      }
      const double c = clip(x);
      if (g) *g = in_clip_range(x) ? static_cast<float>(-(t / c - (1.0 - t) / (1.0 - c)) * sc) : 0.0f;
      return -(t * log(c) + (1.0 - t) * log(1.0 - c));
    }
  }
}

__global__ void loss_rows(Problem pb, RowOut* out) {
  const int64_t i = blockIdx.x, C = pb.cols;
  const float* p = pb.pred + i * C;
  float* g = pb.grad ? pb.grad + i * C : nullptr;
  const bool sparse = pb.kind == LossKind::sparse_cce;
  const float* t = sparse ? nullptr : pb.target + i * C;
  int64_t label = -1;

  // Validity first: a bad row writes nothing else (the host raises).
  int bad = 0;
  if (sparse) {
    label = pb.labels32 ? pb.labels32[i] : pb.labels64[i];
    bad = label < 0 || label >= C;
  } else {
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) bad |= isnan(t[j]);
    bad = block_reduce(bad, MaxOp{}, 0);
  }
  if (bad) {
    if (threadIdx.x == 0) out[i] = RowOut{0.0, 1, label};
    return;
  }
  const double w = pb.weight ? pb.weight[i] : 1.0, scale = w / pb.rows;
  auto target = [&](int64_t j) { return t ? double(t[j]) : double(j == label); };
  double li;

  if (pb.kind != LossKind::cce && !sparse) {
    double s = 0.0;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x)
      s += dense_element(pb, p[j], t[j], g ? g + j : nullptr, scale / C);
    li = block_reduce(s, SumOp{}, 0.0) / C;
  } else if (pb.from_logits) {
    double m = -INFINITY;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) m = fmax(m, double(p[j]));
    m = block_reduce(m, MaxOp{}, -double(INFINITY));
    double z = 0.0, tsum = 0.0, tx = 0.0;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
      const double tj = target(j);
      z += exp(p[j] - m);
      tsum += tj;
      if (tj != 0.0) tx += tj * p[j];
    }
    z = block_reduce(z, SumOp{}, 0.0);
    tsum = block_reduce(tsum, SumOp{}, 0.0);
    tx = block_reduce(tx, SumOp{}, 0.0);
    if (g) {
      const double k = tsum / z;
      for (int64_t j = threadIdx.x; j < C; j += blockDim.x)
        g[j] = static_cast<float>((exp(p[j] - m) * k - target(j)) * scale);
    }
    li = tsum * (m + log(z)) - tx;
  } else {
    double s = 0.0;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) s += p[j];
    s = block_reduce(s, SumOp{}, 0.0);
    double loss = 0.0, dot = 0.0;
    for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
      const double tj = target(j);
      if (tj == 0.0) continue;
      const double q = p[j] / s, c = clip(q);
      loss -= tj * log(c);
      if (in_clip_range(q)) dot += -tj / c * q;
    }
    loss = block_reduce(loss, SumOp{}, 0.0);
    dot = block_reduce(dot, SumOp{}, 0.0);
    if (g) {
      for (int64_t j = threadIdx.x; j < C; j += blockDim.x) {
        const double tj = target(j), q = p[j] / s;
        const double gj = (tj != 0.0 && in_clip_range(q)) ? -tj / clip(q) : 0.0;
        g[j] = static_cast<float>((gj - dot) / s * scale);
      }
    }
    li = loss;
  }
  if (threadIdx.x == 0) out[i] = RowOut{w * li, 0, 0};
}

}  // namespace

cpu::LossResult loss_forward(const cpu::LossProblem& pb, const Tensor& like) {
  DeviceGuard guard(like);
  CORENN_CHECK(pb.rows <= 0x7fffffff, "loss: too many rows for one CUDA grid");
  static_assert(sizeof(RowOut) == 3 * sizeof(int64_t), "RowOut is three 8-byte fields");
  Tensor scratch = Tensor::empty({pb.rows * 3}, DType::int64, like.device());
  auto* rows_out = scratch.data<RowOut>();
  const Problem dev{pb.kind,   pb.pred,  pb.target, pb.labels32,    pb.labels64,
                    pb.weight, pb.grad,  pb.rows,   pb.cols,        pb.from_logits, pb.delta};
  loss_rows<<<static_cast<unsigned>(pb.rows), kLossThreads, 0, stream_of(like)>>>(dev, rows_out);
  check_launch("loss_forward");

  std::vector<RowOut> host(pb.rows);
  cuda::copy_bytes(host.data(), Device{}, rows_out, like.device(), host.size() * sizeof(RowOut));
  cpu::LossResult result;
  double sum = 0.0;
  for (int64_t i = 0; i < pb.rows; ++i) {
    if (host[i].bad) {
      result.bad_row = i;
      result.bad_label = host[i].label;
      return result;
    }
    sum += host[i].loss;
  }
  result.value = sum / pb.rows;
  return result;
}

}  // namespace corenn::cuda

namespace corenn {
CORENN_REGISTER_KERNEL(loss_forward_stub, Slot::cuda, cuda::loss_forward);
}  // namespace corenn
