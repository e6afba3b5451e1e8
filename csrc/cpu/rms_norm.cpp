// RMS normalization kernels (CPU). x, y, dy, dx are (R, D) row-major; gamma, dgamma are (D,);
// inv_rms is (R,). The math is in ops/rms_norm.h.
//
// forward: parallel over rows; each row's sum of squares is taken in double while the row sits
//   in cache, then the row is written (y may be x).
// The row loops come from rms_norm_rows_stub: the reference rows here, 8- and 16-wide ones in
// rms_norm_avx2.cpp / rms_norm_avx512.cpp (the same double sums, in lanes).
// backward: one fused pass, as layer normalization's (cpu/layer_norm.cpp): rows are cut into a
//   fixed number of chunks that depends on R only, each chunk computes its rows' dx and its own
//   double partial of dgamma, and the partials are added in chunk order, so the bits do not
//   depend on the thread count. A row's sum is taken before its dx is written (dx may be dy).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "cpu/fixed_chunk_sum.h"
#include "ops/rms_norm.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kGrainFloats = 16384;  // elements per thread at least
constexpr int64_t kMaxChunks = 64;       // partial dgamma buffers, D doubles each

int64_t row_grain(int64_t d) { return std::max<int64_t>(1, kGrainFloats / std::max<int64_t>(d, 1)); }

// One row of the forward (the reference row; the vector rows match it up to the sums' order).
void forward_row(const float* xr, const float* gamma, float* yr, float* inv_rms, int64_t d,
                 double epsilon) {
  double ss = 0.0;
  for (int64_t j = 0; j < d; ++j) ss += static_cast<double>(xr[j]) * xr[j];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / d + epsilon));
  *inv_rms = inv;
  if (gamma) {
    for (int64_t j = 0; j < d; ++j) yr[j] = xr[j] * inv * gamma[j];
  } else {
    for (int64_t j = 0; j < d; ++j) yr[j] = xr[j] * inv;
  }
}

// dx for one row (when dx is given) and the row's dgamma terms added to pg.
void backward_row(const float* dy, const float* x, const float* gamma, float inv, float* dx,
                  double* pg, int64_t d) {
  if (pg) {
    for (int64_t j = 0; j < d; ++j) pg[j] += static_cast<double>(dy[j]) * (x[j] * inv);
  }
  if (!dx) return;
  double s = 0.0;
  for (int64_t j = 0; j < d; ++j) {
    const float g = gamma ? dy[j] * gamma[j] : dy[j];
    s += static_cast<double>(g) * (x[j] * inv);
  }
  const float b = static_cast<float>(s / d);
  for (int64_t j = 0; j < d; ++j) {
    const float g = gamma ? dy[j] * gamma[j] : dy[j];
    dx[j] = inv * (g - x[j] * inv * b);
  }
}
}  // namespace

void rms_norm_forward(const Tensor&, const float* x, const float* gamma, float* y, float* inv_rms,
                      int64_t rows, int64_t d, double epsilon) {
  const auto row = rms_norm_rows_stub.cpu()->forward_row;
  parallel_for(0, rows, row_grain(d), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) row(x + r * d, gamma, y + r * d, inv_rms + r, d, epsilon);
  });
}

void rms_norm_backward(const Tensor&, const float* dy, const float* x, const float* gamma,
                       const float* inv_rms, float* dx, float* dgamma, int64_t rows, int64_t d) {
  const auto row = rms_norm_rows_stub.cpu()->backward_row;
  const int64_t chunk = std::max<int64_t>((rows + kMaxChunks - 1) / kMaxChunks, 1);
  const int64_t grain_chunks = std::max<int64_t>(1, row_grain(d) / chunk);
  auto partials = fixed_chunk_map<std::vector<double>>(rows, chunk, grain_chunks,
                                                       [&](int64_t lo, int64_t hi, std::vector<double>& p) {
    if (dgamma) p.assign(d, 0.0);
    double* pg = dgamma ? p.data() : nullptr;
    for (int64_t r = lo; r < hi; ++r)
      row(dy + r * d, x + r * d, gamma, inv_rms[r], dx ? dx + r * d : nullptr, pg, d);
  });
  if (!dgamma) return;
  std::vector<double> g(d, 0.0);
  for (const auto& p : partials)
    for (int64_t j = 0; j < d; ++j) g[j] += p[j];
  for (int64_t j = 0; j < d; ++j) dgamma[j] = static_cast<float>(g[j]);
}

namespace {
constexpr RmsNormRows kRefRows{forward_row, backward_row};
}  // namespace
CORENN_DEFINE_DISPATCH(RmsNormRowsRef, rms_norm_rows_stub, "rms_norm.rows");
CORENN_REGISTER_KERNEL(rms_norm_rows_stub, Slot::cpu_ref, &kRefRows);
CORENN_REGISTER_KERNEL(rms_norm_forward_stub, Slot::cpu_ref, rms_norm_forward);
CORENN_REGISTER_KERNEL(rms_norm_backward_stub, Slot::cpu_ref, rms_norm_backward);

}  // namespace corenn::cpu
