// Layer normalization kernels (CPU). x, y, dy, dx are (R, D) row-major; gamma, beta, dgamma,
// dbeta are (D,); mean, inv_std are (R,). The math is in ops/layer_norm.h.
//
// forward: parallel over rows; each row's mean and (two-pass, so no cancellation) variance are
//   summed in double while the row sits in cache, then the row is written. y may be x.
// The row loops come from layer_norm_rows_stub: the reference rows here, 8- and 16-wide ones in
// layer_norm_avx2.cpp / layer_norm_avx512.cpp (the same double sums, in lanes).
// backward: one fused pass. Rows are cut into a fixed number of chunks that depends on R only
//   (never on the thread count); a chunk computes its rows' dx and accumulates its own double
//   partials of dgamma / dbeta, combined afterwards in chunk order: same bits for any number of
//   threads. Within a row the sums are taken before dx is written, so dx may be dy.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "cpu/fixed_chunk_sum.h"
#include "ops/layer_norm.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kGrainFloats = 16384;  // elements per thread at least
constexpr int64_t kMaxChunks = 64;       // partial dgamma / dbeta buffers, 2 * D doubles each

int64_t row_grain(int64_t d) { return std::max<int64_t>(1, kGrainFloats / std::max<int64_t>(d, 1)); }
}  // namespace

namespace {
// One row of the forward (the reference row; the vector rows match it up to the sums' order).
void forward_row(const float* xr, const float* gamma, const float* beta, float* yr, float* mean,
                 float* inv_std, int64_t d, double epsilon) {
  double s = 0.0;
  for (int64_t j = 0; j < d; ++j) s += xr[j];
  const double m = s / d;
  double ss = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    const double c = xr[j] - m;
    ss += c * c;
  }
  const float mf = static_cast<float>(m);
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / d + epsilon));
  *mean = mf;
  *inv_std = inv;
  if (gamma && beta) {
    for (int64_t j = 0; j < d; ++j) yr[j] = (xr[j] - mf) * inv * gamma[j] + beta[j];
  } else if (gamma) {
    for (int64_t j = 0; j < d; ++j) yr[j] = (xr[j] - mf) * inv * gamma[j];
  } else if (beta) {
    for (int64_t j = 0; j < d; ++j) yr[j] = (xr[j] - mf) * inv + beta[j];
  } else {
    for (int64_t j = 0; j < d; ++j) yr[j] = (xr[j] - mf) * inv;
  }
}
}  // namespace

void layer_norm_forward(const float* x, const float* gamma, const float* beta, float* y,
                        float* mean, float* inv_std, int64_t rows, int64_t d, double epsilon) {
  const auto row = layer_norm_rows_stub.cpu()->forward_row;
  parallel_for(0, rows, row_grain(d), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      row(x + r * d, gamma, beta, y + r * d, mean + r, inv_std + r, d, epsilon);
  });
}

namespace {
// dx for one row (when dx is given) and the row's dgamma / dbeta terms added to pg / pb.
void backward_row(const float* dy, const float* x, const float* gamma, float m, float inv,
                  float* dx, double* pg, double* pb, int64_t d) {
  if (pg) {
    for (int64_t j = 0; j < d; ++j) pg[j] += static_cast<double>(dy[j]) * ((x[j] - m) * inv);
  }
  if (pb) {
    for (int64_t j = 0; j < d; ++j) pb[j] += dy[j];
  }
  if (!dx) return;
  double s1 = 0.0, s2 = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    const float g = gamma ? dy[j] * gamma[j] : dy[j];
    s1 += g;
    s2 += static_cast<double>(g) * ((x[j] - m) * inv);
  }
  const float a = static_cast<float>(s1 / d), b = static_cast<float>(s2 / d);
  for (int64_t j = 0; j < d; ++j) {
    const float g = gamma ? dy[j] * gamma[j] : dy[j];
    dx[j] = inv * (g - a - (x[j] - m) * inv * b);
  }
}
}  // namespace

void layer_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                         const float* inv_std, float* dx, float* dgamma, float* dbeta,
                         int64_t rows, int64_t d) {
  const bool sums = dgamma || dbeta;
  const auto backward_row = layer_norm_rows_stub.cpu()->backward_row;
  const int64_t chunk = std::max<int64_t>((rows + kMaxChunks - 1) / kMaxChunks, 1);
  const int64_t grain_chunks = std::max<int64_t>(1, row_grain(d) / chunk);
  struct Partial {
    std::vector<double> g, b;
  };
  auto partials = fixed_chunk_map<Partial>(rows, chunk, grain_chunks,
                                           [&](int64_t lo, int64_t hi, Partial& p) {
    if (dgamma) p.g.assign(d, 0.0);
    if (dbeta) p.b.assign(d, 0.0);
    double* pg = dgamma ? p.g.data() : nullptr;
    double* pb = dbeta ? p.b.data() : nullptr;
    for (int64_t r = lo; r < hi; ++r)
      backward_row(dy + r * d, x + r * d, gamma, mean[r], inv_std[r], dx ? dx + r * d : nullptr,
                   pg, pb, d);
  });
  if (!sums) return;
  std::vector<double> g(dgamma ? d : 0, 0.0), b(dbeta ? d : 0, 0.0);
  for (const Partial& p : partials) {
    for (size_t j = 0; j < g.size(); ++j) g[j] += p.g[j];
    for (size_t j = 0; j < b.size(); ++j) b[j] += p.b[j];
  }
  for (size_t j = 0; j < g.size(); ++j) dgamma[j] = static_cast<float>(g[j]);
  for (size_t j = 0; j < b.size(); ++j) dbeta[j] = static_cast<float>(b[j]);
}

}  // namespace corenn::cpu

namespace corenn::cpu {
namespace {
constexpr LayerNormRows kRefRows{forward_row, backward_row};
}  // namespace
CORENN_DEFINE_DISPATCH(LayerNormRowsRef, layer_norm_rows_stub, "layer_norm.rows");
CORENN_REGISTER_KERNEL(layer_norm_rows_stub, Slot::cpu_ref, &kRefRows);
CORENN_REGISTER_KERNEL(layer_norm_forward_stub, Slot::cpu_ref, layer_norm_forward);
CORENN_REGISTER_KERNEL(layer_norm_backward_stub, Slot::cpu_ref, layer_norm_backward);
}  // namespace corenn::cpu
