// Group normalization kernels (CPU). x, y, dy, dx are (N, A, C, B) row-major; gamma, beta, dgamma,
// dbeta are (C,); mean, inv_std are (N, G). The math is in ops/group_norm.h.
//
// Layout: for one sample n and one position a of the axes before the channels, the Cg channels
// of group g and all B positions after them are one contiguous run of L = Cg * B floats, at
// ((n * A + a) * C + g * Cg) * B. A group is A such runs, C * B floats apart; every loop below
// walks those runs, so channels-last inputs (B = 1) and channels-first ones (A = 1) both read
// memory in order.
//
// forward: parallel over the N * G groups; each group's mean and (two-pass, no cancellation)
//   variance are summed in double, then the group is written. y may be x.
// backward: the N * G groups are cut into a fixed number of chunks that depends on N * G only
//   (never on the thread count); a chunk computes its groups' dx and accumulates its own double
//   partials of dgamma / dbeta, combined afterwards in chunk order: same bits for any number of
//   threads. Within a group the sums are taken before dx is written, so dx may be dy.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "cpu/fixed_chunk_sum.h"
#include "ops/group_norm.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kGrainFloats = 16384;  // elements per thread at least
constexpr int64_t kMaxChunks = 64;       // partial dgamma / dbeta buffers, 2 * C doubles each

// Where group (n, g)'s runs start, how long each is, and how far apart they are.
struct Runs {
  int64_t first, count, length, stride, channels;  // channels per group
};

Runs runs_of(const GroupNormShape& s, int64_t n, int64_t g) {
  const int64_t cg = s.c / s.groups;
  return {(n * s.a * s.c + g * cg) * s.b, s.a, cg * s.b, s.c * s.b, cg};
}

int64_t group_grain(const GroupNormShape& s) {
  const int64_t m = s.a * (s.c / s.groups) * s.b;
  return std::max<int64_t>(1, kGrainFloats / std::max<int64_t>(m, 1));
}
}  // namespace

void group_norm_forward(const float* x, const float* gamma, const float* beta, float* y,
                        float* mean, float* inv_std, const GroupNormShape& s, double epsilon) {
  parallel_for(0, s.n * s.groups, group_grain(s), [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t n = t / s.groups, g = t % s.groups;
      const Runs r = runs_of(s, n, g);
      const double m_count = static_cast<double>(r.count * r.length);
      double sum = 0.0;
      for (int64_t a = 0; a < r.count; ++a) {
        const float* xr = x + r.first + a * r.stride;
        for (int64_t j = 0; j < r.length; ++j) sum += xr[j];
      }
      const double m = sum / m_count;
      double ss = 0.0;
      for (int64_t a = 0; a < r.count; ++a) {
        const float* xr = x + r.first + a * r.stride;
        for (int64_t j = 0; j < r.length; ++j) {
          const double d = xr[j] - m;
          ss += d * d;
        }
      }
      const float mf = static_cast<float>(m);
      const float inv = static_cast<float>(1.0 / std::sqrt(ss / m_count + epsilon));
      mean[t] = mf;
      inv_std[t] = inv;
      for (int64_t a = 0; a < r.count; ++a) {
        const float* xr = x + r.first + a * r.stride;
        float* yr = y + r.first + a * r.stride;
        for (int64_t ci = 0; ci < r.channels; ++ci) {
          const int64_t c = g * r.channels + ci;
          const float scale = gamma ? inv * gamma[c] : inv;
          const float shift = beta ? beta[c] : 0.0f;
          for (int64_t b = ci * s.b; b < (ci + 1) * s.b; ++b) yr[b] = (xr[b] - mf) * scale + shift;
        }
      }
    }
  });
}

namespace {
// dx for group (n, g) (when dx is given) and the group's dgamma / dbeta terms added to pg / pb.
void backward_group(const float* dy, const float* x, const float* gamma, float m, float inv,
                    float* dx, double* pg, double* pb, const Runs& r, int64_t g, int64_t inner) {
  double s1 = 0.0, s2 = 0.0;
  for (int64_t a = 0; a < r.count; ++a) {
    const int64_t off = r.first + a * r.stride;
    for (int64_t ci = 0; ci < r.channels; ++ci) {
      const int64_t c = g * r.channels + ci;
      const float gc = gamma ? gamma[c] : 1.0f;
      double dg = 0.0, db = 0.0;
      for (int64_t b = ci * inner; b < (ci + 1) * inner; ++b) {
        const float xhat = (x[off + b] - m) * inv;
        const float d = dy[off + b];
        dg += static_cast<double>(d) * xhat;
        db += d;
      }
      if (pg) pg[c] += dg;
      if (pb) pb[c] += db;
      s1 += db * gc;
      s2 += dg * gc;
    }
  }
  if (!dx) return;
  const double m_count = static_cast<double>(r.count * r.length);
  const float k1 = static_cast<float>(s1 / m_count), k2 = static_cast<float>(s2 / m_count);
  for (int64_t a = 0; a < r.count; ++a) {
    const int64_t off = r.first + a * r.stride;
    for (int64_t ci = 0; ci < r.channels; ++ci) {
      const float gc = gamma ? gamma[g * r.channels + ci] : 1.0f;
      for (int64_t b = ci * inner; b < (ci + 1) * inner; ++b) {
        const float xhat = (x[off + b] - m) * inv;
        dx[off + b] = inv * (dy[off + b] * gc - k1 - xhat * k2);
      }
    }
  }
}
}  // namespace

void group_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                         const float* inv_std, float* dx, float* dgamma, float* dbeta,
                         const GroupNormShape& s) {
  const int64_t tasks = s.n * s.groups;
  const int64_t chunk = std::max<int64_t>((tasks + kMaxChunks - 1) / kMaxChunks, 1);
  const int64_t grain_chunks = std::max<int64_t>(1, group_grain(s) / chunk);
  struct Partial {
    std::vector<double> g, b;
  };
  auto partials = fixed_chunk_map<Partial>(tasks, chunk, grain_chunks,
                                           [&](int64_t lo, int64_t hi, Partial& p) {
    if (dgamma) p.g.assign(s.c, 0.0);
    if (dbeta) p.b.assign(s.c, 0.0);
    double* pg = dgamma ? p.g.data() : nullptr;
    double* pb = dbeta ? p.b.data() : nullptr;
    for (int64_t t = lo; t < hi; ++t) {
      const Runs r = runs_of(s, t / s.groups, t % s.groups);
      backward_group(dy, x, gamma, mean[t], inv_std[t], dx, pg, pb, r, t % s.groups, s.b);
    }
  });
  if (!dgamma && !dbeta) return;
  std::vector<double> g(dgamma ? s.c : 0, 0.0), b(dbeta ? s.c : 0, 0.0);
  for (const Partial& p : partials) {
    for (size_t j = 0; j < g.size(); ++j) g[j] += p.g[j];
    for (size_t j = 0; j < b.size(); ++j) b[j] += p.b[j];
  }
  for (size_t j = 0; j < g.size(); ++j) dgamma[j] = static_cast<float>(g[j]);
  for (size_t j = 0; j < b.size(); ++j) dbeta[j] = static_cast<float>(b[j]);
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(group_norm_forward_stub, Slot::cpu_ref, group_norm_forward);
CORENN_REGISTER_KERNEL(group_norm_backward_stub, Slot::cpu_ref, group_norm_backward);
}  // namespace corenn::cpu
