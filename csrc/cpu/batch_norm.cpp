// Batch normalization kernels (CPU). x, y, dy, dx are (rows, C) row-major; per-channel vectors
// are (C,). The math is in ops/batch_norm.h; the entry computes the per-channel scalars.
//
// Two kinds of pass:
//   column reductions (statistics, gradient sums): a fixed grid of tiles, kRowChunk rows by
//     kColBlock channels, independent of the thread count; each tile accumulates its rows in
//     double into two per-channel partials, which are combined in row-chunk order. Same bits
//     for any number of threads (as bias_grad). The inner loop runs along a row, across
//     channels, so it is contiguous and vectorises.
//   elementwise (normalize, input gradient): parallel over rows, per-channel scalars broadcast.
// The statistics are taken around a shift (the first row): var = E[(x-k)^2] - E[x-k]^2 stays
// accurate when |mean| >> std, in one pass over x instead of two.
//
// Variants: each loop is written once, force-inlined, and compiled twice -- baseline x86-64
// (SSE2, the portable path) and under __attribute__((target("avx2,fma"))), chosen per call by
// active_isa(). Large tensors are memory-bound either way; the wider build pays for cache-resident
// ones (double accumulation is 2 lanes at SSE width). FMA contraction may change the last bit.
#include <algorithm>
#include <vector>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/batch_norm.h"

#define CORENN_INLINE inline __attribute__((always_inline))

namespace corenn::cpu {

namespace {

constexpr int64_t kRowChunk = 512;
constexpr int64_t kColBlock = 256;
constexpr int64_t kReduceGrain = 32768;  // elements per thread at least
constexpr int64_t kApplyGrain = 32768;

// -- loop bodies (compiled twice below) ------------------------------------------------------

// s += x - k, ss += (x - k)^2 over rows [r0, r1) of a w-channel slice (row stride `cols`).
CORENN_INLINE void stats_tile(const float* x, const float* k, int64_t r0, int64_t r1, int64_t w,
                              int64_t cols, double* s, double* ss) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* row = x + r * cols;
    for (int64_t j = 0; j < w; ++j) {
      const double d = static_cast<double>(row[j]) - static_cast<double>(k[j]);
      s[j] += d;
      ss[j] += d * d;
    }
  }
}

// s += dy, sx += dy * (x - mean) * inv_std over rows [r0, r1) of a w-channel slice.
CORENN_INLINE void grad_tile(const float* dy, const float* x, const float* m, const float* is,
                             int64_t r0, int64_t r1, int64_t w, int64_t cols, double* s, double* sx) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * cols;
    const float* gr = dy + r * cols;
    for (int64_t j = 0; j < w; ++j) {
      const float xhat = (xr[j] - m[j]) * is[j];
      s[j] += gr[j];
      sx[j] += static_cast<double>(gr[j] * xhat);
    }
  }
}

CORENN_INLINE void apply_rows(const float* x, float* y, int64_t lo, int64_t hi, int64_t cols,
                              const float* mean, const float* scale, const float* shift) {
  for (int64_t r = lo; r < hi; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    for (int64_t c = 0; c < cols; ++c) yr[c] = (xr[c] - mean[c]) * scale[c] + shift[c];
  }
}

CORENN_INLINE void input_grad_rows(const float* dy, const float* x, float* dx, int64_t lo, int64_t hi,
                                   int64_t cols, const float* mean, const float* inv_std,
                                   const float* scale, const float* mean_dy, const float* mean_dyxhat) {
  for (int64_t r = lo; r < hi; ++r) {
    const float* xr = x + r * cols;
    const float* gr = dy + r * cols;
    float* dr = dx + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const float xhat = (xr[c] - mean[c]) * inv_std[c];
      dr[c] = scale[c] * (gr[c] - mean_dy[c] - xhat * mean_dyxhat[c]);
    }
  }
}

// One pointer-table per build, so the passes below pick a variant once per call.
struct Loops {
  void (*stats)(const float*, const float*, int64_t, int64_t, int64_t, int64_t, double*, double*);
  void (*grad)(const float*, const float*, const float*, const float*, int64_t, int64_t, int64_t,
               int64_t, double*, double*);
  void (*apply)(const float*, float*, int64_t, int64_t, int64_t, const float*, const float*,
                const float*);
  void (*input_grad)(const float*, const float*, float*, int64_t, int64_t, int64_t, const float*,
                     const float*, const float*, const float*, const float*);
};

#define CORENN_BN_VARIANT(SUFFIX, ATTR)                                                            \
  ATTR void stats_##SUFFIX(const float* x, const float* k, int64_t r0, int64_t r1, int64_t w,      \
                           int64_t cols, double* s, double* ss) {                                   \
    stats_tile(x, k, r0, r1, w, cols, s, ss);                                                       \
  }                                                                                                 \
  ATTR void grad_##SUFFIX(const float* dy, const float* x, const float* m, const float* is,        \
                          int64_t r0, int64_t r1, int64_t w, int64_t cols, double* s, double* sx) { \
    grad_tile(dy, x, m, is, r0, r1, w, cols, s, sx);                                                \
  }                                                                                                 \
  ATTR void apply_##SUFFIX(const float* x, float* y, int64_t lo, int64_t hi, int64_t cols,         \
                           const float* mean, const float* scale, const float* shift) {             \
    apply_rows(x, y, lo, hi, cols, mean, scale, shift);                                             \
  }                                                                                                 \
  ATTR void input_grad_##SUFFIX(const float* dy, const float* x, float* dx, int64_t lo, int64_t hi, \
                                int64_t cols, const float* mean, const float* inv_std,             \
                                const float* scale, const float* mdy, const float* mdx) {           \
    input_grad_rows(dy, x, dx, lo, hi, cols, mean, inv_std, scale, mdy, mdx);                       \
  }

CORENN_BN_VARIANT(ref, )
constexpr Loops kRefLoops{stats_ref, grad_ref, apply_ref, input_grad_ref};
#if defined(CORENN_X86_64) && defined(__GNUC__)
CORENN_BN_VARIANT(avx2, __attribute__((target("avx2,fma"))))
constexpr Loops kAvx2Loops{stats_avx2, grad_avx2, apply_avx2, input_grad_avx2};
const Loops& loops() { return active_isa() >= Isa::avx2 ? kAvx2Loops : kRefLoops; }
#else
const Loops& loops() { return kRefLoops; }
#endif
#undef CORENN_BN_VARIANT

// -- passes ----------------------------------------------------------------------------------

// out0[c], out1[c] = column sums over all rows, where tile(r0, r1, c0, c1, acc0, acc1) adds rows
// [r0, r1) of channels [c0, c1) into acc0/acc1[c - c0]. Deterministic: see the header comment.
template <class Tile>
void reduce_columns2(int64_t rows, int64_t cols, double* out0, double* out1, const Tile& tile) {
  const int64_t row_chunks = std::max<int64_t>(1, (rows + kRowChunk - 1) / kRowChunk);
  const int64_t col_blocks = (cols + kColBlock - 1) / kColBlock;
  std::vector<double> part0(static_cast<size_t>(row_chunks * cols));
  std::vector<double> part1(static_cast<size_t>(row_chunks * cols));
  const int64_t tile_elems = std::max<int64_t>(1, std::min(rows, kRowChunk) * std::min(cols, kColBlock));
  parallel_for(0, row_chunks * col_blocks, std::max<int64_t>(1, kReduceGrain / tile_elems),
               [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t chunk = t / col_blocks, c0 = (t % col_blocks) * kColBlock;
      const int64_t c1 = std::min(cols, c0 + kColBlock);
      const int64_t r0 = chunk * kRowChunk, r1 = std::min(rows, r0 + kRowChunk);
      alignas(64) double acc0[kColBlock] = {}, acc1[kColBlock] = {};
      tile(r0, r1, c0, c1, acc0, acc1);
      std::copy(acc0, acc0 + (c1 - c0), part0.begin() + chunk * cols + c0);
      std::copy(acc1, acc1 + (c1 - c0), part1.begin() + chunk * cols + c0);
    }
  });
  for (int64_t c = 0; c < cols; ++c) {
    double s0 = 0.0, s1 = 0.0;
    for (int64_t chunk = 0; chunk < row_chunks; ++chunk) {
      s0 += part0[chunk * cols + c];
      s1 += part1[chunk * cols + c];
    }
    out0[c] = s0;
    out1[c] = s1;
  }
}

int64_t row_grain(int64_t cols) { return std::max<int64_t>(1, kApplyGrain / std::max<int64_t>(cols, 1)); }

}  // namespace

void batch_norm_stats(const float* x, int64_t rows, int64_t cols, double* mean, double* var) {
  const float* shift = x;  // the first row
  const auto stats = loops().stats;
  reduce_columns2(rows, cols, mean, var,
                  [=](int64_t r0, int64_t r1, int64_t c0, int64_t c1, double* s, double* ss) {
    stats(x + c0, shift + c0, r0, r1, c1 - c0, cols, s, ss);
  });
  for (int64_t c = 0; c < cols; ++c) {
    const double m = mean[c] / rows;
    var[c] = std::max(0.0, var[c] / rows - m * m);
    mean[c] = m + shift[c];
  }
}

void batch_norm_apply(const float* x, float* y, int64_t rows, int64_t cols, const float* mean,
                      const float* scale, const float* shift) {
  const auto apply = loops().apply;
  parallel_for(0, rows, row_grain(cols), [=](int64_t lo, int64_t hi) {
    apply(x, y, lo, hi, cols, mean, scale, shift);
  });
}

void batch_norm_grad_sums(const float* dy, const float* x, int64_t rows, int64_t cols,
                          const float* mean, const float* inv_std, double* sum_dy, double* sum_dyxhat) {
  const auto grad = loops().grad;
  reduce_columns2(rows, cols, sum_dy, sum_dyxhat,
                  [=](int64_t r0, int64_t r1, int64_t c0, int64_t c1, double* s, double* sx) {
    grad(dy + c0, x + c0, mean + c0, inv_std + c0, r0, r1, c1 - c0, cols, s, sx);
  });
}

void batch_norm_input_grad(const float* dy, const float* x, float* dx, int64_t rows, int64_t cols,
                           const float* mean, const float* inv_std, const float* scale,
                           const float* mean_dy, const float* mean_dyxhat) {
  const auto input_grad = loops().input_grad;
  parallel_for(0, rows, row_grain(cols), [=](int64_t lo, int64_t hi) {
    input_grad(dy, x, dx, lo, hi, cols, mean, inv_std, scale, mean_dy, mean_dyxhat);
  });
}

}  // namespace corenn::cpu
