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
// Variants: each loop is written once, force-inlined, and compiled three times -- baseline x86-64
// (SSE2, the portable path), under target("avx2,fma") and under an AVX-512 target -- the
// cpu_ref / avx2 / avx512 slots of the "batch_norm.loops" stub, chosen per call. Large tensors
// are memory-bound either way; the wider builds pay for cache-resident
// ones (double accumulation is 2 lanes at SSE width). FMA contraction may change the last bit.
#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "core/check.h"
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

// y = relu((x - mean) * scale + shift + r), relu written as the activation kernels' (x < 0 ? 0 : x:
// a NaN passes through).
// With `sum` (cols floats) not null, the rows' outputs are also added into it, row by row.
CORENN_INLINE void apply_add_relu_rows(const float* x, const float* res, float* y, int64_t lo,
                                       int64_t hi, int64_t cols, const float* mean,
                                       const float* scale, const float* shift, float* sum) {
  for (int64_t r = lo; r < hi; ++r) {
    const float* xr = x + r * cols;
    const float* rr = res + r * cols;
    float* yr = y + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const float v = (xr[c] - mean[c]) * scale[c] + shift[c] + rr[c];
      yr[c] = v < 0.0f ? 0.0f : v;
    }
    if (sum)
      for (int64_t c = 0; c < cols; ++c) sum[c] += yr[c];
  }
}

// dr = dy * relu'(y) (y > 0 ? dy : dy * y, as the relu backward kernel: NaN kept), written over
// rows [r0, r1) of a w-channel slice, and s += dr, sx += dr * xhat.
// hw > 0: dy holds one row per hw rows (a pooled gradient), row r reads dy[r / hw] * (1 / hw).
// dy2 not null (hw == 0): y's gradient is dy + dy2, two consumers' parts summed here (fusion
// rule 5) instead of in a pass of their own.
CORENN_INLINE void relu_grad_tile(const float* dy, const float* dy2, const float* y, const float* x,
                                  float* dr, const float* m, const float* is, int64_t r0,
                                  int64_t r1, int64_t w, int64_t cols, double* s, double* sx,
                                  int64_t hw) {
  const float inv_hw = hw > 0 ? 1.0f / static_cast<float>(hw) : 1.0f;
  for (int64_t r = r0; r < r1; ++r) {
    const float* gr = hw > 0 ? dy + r / hw * cols : dy + r * cols;
    const float* g2 = dy2 ? dy2 + r * cols : nullptr;
    const float* yr = y + r * cols;
    const float* xr = x + r * cols;
    float* dd = dr + r * cols;
    for (int64_t j = 0; j < w; ++j) {
      const float gj = g2 ? gr[j] + g2[j] : gr[j] * inv_hw;
      const float g = yr[j] > 0.0f ? gj : gj * yr[j];
      dd[j] = g;
      s[j] += g;
      sx[j] += static_cast<double>(g * ((xr[j] - m[j]) * is[j]));
    }
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
  void (*apply_add_relu)(const float*, const float*, float*, int64_t, int64_t, int64_t,
                         const float*, const float*, const float*, float*);
  void (*relu_grad)(const float*, const float*, const float*, const float*, float*, const float*,
                    const float*, int64_t, int64_t, int64_t, int64_t, double*, double*, int64_t);
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
  }                                                                                                 \
  ATTR void apply_add_relu_##SUFFIX(const float* x, const float* r, float* y, int64_t lo,          \
                                    int64_t hi, int64_t cols, const float* mean,                   \
                                    const float* scale, const float* shift, float* sum) {          \
    apply_add_relu_rows(x, r, y, lo, hi, cols, mean, scale, shift, sum);                            \
  }                                                                                                 \
  ATTR void relu_grad_##SUFFIX(const float* dy, const float* dy2, const float* y, const float* x, \
                               float* dr, const float* m, const float* is, int64_t r0, int64_t r1, \
                               int64_t w, int64_t cols, double* s, double* sx, int64_t hw) {       \
    relu_grad_tile(dy, dy2, y, x, dr, m, is, r0, r1, w, cols, s, sx, hw);                           \
  }

CORENN_BN_VARIANT(ref, )
constexpr Loops kRefLoops{stats_ref, grad_ref, apply_ref, input_grad_ref,
                                apply_add_relu_ref, relu_grad_ref};
CORENN_DEFINE_DISPATCH(const Loops*, loops_stub, "batch_norm.loops");
CORENN_REGISTER_KERNEL(loops_stub, Slot::cpu_ref, &kRefLoops);
// The same loops compiled for AVX2 + FMA (a target attribute: this file is baseline x86-64).
#if defined(CORENN_X86_64) && defined(__GNUC__)
CORENN_BN_VARIANT(avx2, __attribute__((target("avx2,fma"))))
constexpr Loops kAvx2Loops{stats_avx2, grad_avx2, apply_avx2, input_grad_avx2,
                                apply_add_relu_avx2, relu_grad_avx2};
CORENN_REGISTER_KERNEL(loops_stub, Slot::avx2, &kAvx2Loops);
// And for AVX-512 (512-bit vectors; the tails are left to GCC's vectorizer).
CORENN_BN_VARIANT(avx512, __attribute__((target(
    "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512"))))
constexpr Loops kAvx512Loops{stats_avx512, grad_avx512, apply_avx512, input_grad_avx512,
                                apply_add_relu_avx512, relu_grad_avx512};
CORENN_REGISTER_KERNEL(loops_stub, Slot::avx512, &kAvx512Loops);
#endif
#undef CORENN_BN_VARIANT
const Loops& loops() { return *loops_stub.cpu(); }

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

void batch_norm_apply_add_relu(const float* x, const float* r, float* y, int64_t rows, int64_t cols,
                               const float* mean, const float* scale, const float* shift,
                               float* pooled, int64_t images) {
  const auto apply = loops().apply_add_relu;
  if (!pooled) {
    parallel_for(0, rows, row_grain(cols), [=](int64_t lo, int64_t hi) {
      apply(x, r, y, lo, hi, cols, mean, scale, shift, nullptr);
    });
    return;
  }
  // Whole images per task: image n's sum is its rows in order, whatever the thread count.
  const int64_t hw = rows / images;
  parallel_for(0, images, std::max<int64_t>(1, row_grain(cols) / std::max<int64_t>(hw, 1)),
               [=](int64_t lo, int64_t hi) {
    const float inv_hw = 1.0f / static_cast<float>(hw);
    for (int64_t n = lo; n < hi; ++n) {
      float* sum = pooled + n * cols;
      std::fill(sum, sum + cols, 0.0f);
      apply(x, r, y, n * hw, (n + 1) * hw, cols, mean, scale, shift, sum);
      for (int64_t c = 0; c < cols; ++c) sum[c] *= inv_hw;
    }
  });
}

void batch_norm_relu_grad_sums(const float* dy, const float* dy2, const float* y, const float* x,
                               float* dr, int64_t rows, int64_t cols, const float* mean,
                               const float* inv_std, double* sum_dr, double* sum_drxhat,
                               int64_t hw) {
  const auto grad = loops().relu_grad;
  reduce_columns2(rows, cols, sum_dr, sum_drxhat,
                  [=](int64_t r0, int64_t r1, int64_t c0, int64_t c1, double* s, double* sx) {
    grad(dy + c0, dy2 ? dy2 + c0 : nullptr, y + c0, x + c0, dr + c0, mean + c0, inv_std + c0, r0,
         r1, c1 - c0, cols, s, sx, hw);
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

// ---- the cpu_ref kernels of the batch_norm stubs (per-channel scalars in double around the passes)

namespace corenn::cpu {
namespace {

const float* ptr(const std::optional<Tensor>& t) { return t ? t->data<float>() : nullptr; }

// scale = gamma * inv_std, shift = beta (missing gamma = 1, missing beta = 0).
void affine(int64_t cols, const float* gamma, const float* beta, const float* inv_std,
            std::vector<float>& scale, std::vector<float>& shift) {
  scale.resize(cols);
  shift.resize(cols);
  for (int64_t c = 0; c < cols; ++c) {
    scale[c] = (gamma ? gamma[c] : 1.0f) * inv_std[c];
    shift[c] = beta ? beta[c] : 0.0f;
  }
}

// Training mode around the normalizing pass `apply(mean, scale, shift)`: the batch statistics of
// x into mean / inv_std, then the pass, then the moving statistics (after the pass: its output may
// be x, whose statistics are taken by then).
template <class Apply>
void train_around(const Tensor& x, const std::optional<Tensor>& gamma,
                  const std::optional<Tensor>& beta, const Tensor& mean, const Tensor& inv_std,
                  const std::optional<Tensor>& moving_mean, const std::optional<Tensor>& moving_var,
                  double momentum, double epsilon, const Apply& apply) {
  const int64_t rows = x.rows(), cols = x.cols();
  std::vector<double> m(cols), v(cols);
  batch_norm_stats(x.data<float>(), rows, cols, m.data(), v.data());
  float* mean_p = mean.data<float>();
  float* inv_p = inv_std.data<float>();
  for (int64_t c = 0; c < cols; ++c) {
    mean_p[c] = static_cast<float>(m[c]);
    inv_p[c] = static_cast<float>(1.0 / std::sqrt(v[c] + epsilon));
  }
  std::vector<float> scale, shift;
  affine(cols, ptr(gamma), ptr(beta), inv_p, scale, shift);
  apply(mean_p, scale.data(), shift.data());
  if (moving_mean) {
    float* mm = moving_mean->data<float>();
    float* mv = moving_var->data<float>();
    const float keep = static_cast<float>(momentum), take = static_cast<float>(1.0 - momentum);
    for (int64_t c = 0; c < cols; ++c) {
      mm[c] = mm[c] * keep + static_cast<float>(m[c]) * take;
      mv[c] = mv[c] * keep + static_cast<float>(v[c]) * take;
    }
  }
}

void forward_train(const Tensor& x, const std::optional<Tensor>& gamma,
                   const std::optional<Tensor>& beta, const Tensor& y, const Tensor& mean,
                   const Tensor& inv_std, const std::optional<Tensor>& moving_mean,
                   const std::optional<Tensor>& moving_var, double momentum, double epsilon) {
  train_around(x, gamma, beta, mean, inv_std, moving_mean, moving_var, momentum, epsilon,
               [&](const float* mean_p, const float* scale, const float* shift) {
                 batch_norm_apply(x.data<float>(), y.data<float>(), x.rows(), x.cols(), mean_p,
                                  scale, shift);
               });
}

void forward_add_relu(const Tensor& x, const std::optional<Tensor>& gamma,
                      const std::optional<Tensor>& beta, const Tensor& r, const Tensor& y,
                      const Tensor& mean, const Tensor& inv_std,
                      const std::optional<Tensor>& moving_mean,
                      const std::optional<Tensor>& moving_var, double momentum, double epsilon,
                      const std::optional<Tensor>& pooled) {
  train_around(x, gamma, beta, mean, inv_std, moving_mean, moving_var, momentum, epsilon,
               [&](const float* mean_p, const float* scale, const float* shift) {
                 batch_norm_apply_add_relu(x.data<float>(), r.data<float>(), y.data<float>(),
                                           x.rows(), x.cols(), mean_p, scale, shift,
                                           pooled ? pooled->data<float>() : nullptr,
                                           pooled ? pooled->size(0) : 0);
               });
}

void forward_infer(const Tensor& x, const std::optional<Tensor>& gamma,
                   const std::optional<Tensor>& beta, const Tensor& moving_mean,
                   const Tensor& moving_var, const Tensor& y, double epsilon) {
  const char* op = "batch_norm_forward_infer";
  const int64_t cols = x.cols();
  const float* mv = moving_var.data<float>();
  std::vector<float> inv(cols);
  for (int64_t c = 0; c < cols; ++c) {
    CORENN_CHECK(mv[c] + epsilon > 0.0, op, ": moving_var[", c, "] + epsilon must be > 0, got ",
                 mv[c] + epsilon);
    inv[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(mv[c]) + epsilon));
  }
  std::vector<float> scale, shift;
  affine(cols, ptr(gamma), ptr(beta), inv.data(), scale, shift);
  batch_norm_apply(x.data<float>(), y.data<float>(), x.rows(), cols, moving_mean.data<float>(),
                        scale.data(), shift.data());
}

// dx, dgamma, dbeta from the column sums of dy and dy * xhat (training: with the mean terms).
void finish_backward(const Tensor& dy, const Tensor& x, const std::optional<Tensor>& gamma,
                     const Tensor& mean, const Tensor& inv_std, const std::optional<Tensor>& dx,
                     const std::optional<Tensor>& dgamma, const std::optional<Tensor>& dbeta,
                     bool training, const std::vector<double>& sum_dy,
                     const std::vector<double>& sum_dyxhat) {
  const int64_t rows = x.rows(), cols = x.cols();
  if (dx) {
    const float* g = ptr(gamma);
    const float* inv = inv_std.data<float>();
    std::vector<float> scale(cols), mean_dy(cols, 0.0f), mean_dyxhat(cols, 0.0f);
    for (int64_t c = 0; c < cols; ++c) {
      scale[c] = (g ? g[c] : 1.0f) * inv[c];
      if (training) {
        mean_dy[c] = static_cast<float>(sum_dy[c] / rows);
        mean_dyxhat[c] = static_cast<float>(sum_dyxhat[c] / rows);
      }
    }
    batch_norm_input_grad(dy.data<float>(), x.data<float>(), dx->data<float>(), rows, cols,
                               mean.data<float>(), inv, scale.data(), mean_dy.data(),
                               mean_dyxhat.data());
  }
  // written last: dgamma / dbeta may not alias dy or x, but nothing above reads them
  for (int64_t c = 0; c < cols; ++c) {
    if (dgamma) dgamma->data<float>()[c] = static_cast<float>(sum_dyxhat[c]);
    if (dbeta) dbeta->data<float>()[c] = static_cast<float>(sum_dy[c]);
  }
}

void backward(const Tensor& dy, const Tensor& x, const std::optional<Tensor>& gamma,
              const Tensor& mean, const Tensor& inv_std, const std::optional<Tensor>& dx,
              const std::optional<Tensor>& dgamma, const std::optional<Tensor>& dbeta,
              bool training) {
  const int64_t rows = x.rows(), cols = x.cols();
  const bool need_sums = dgamma || dbeta || (dx && training);
  std::vector<double> sum_dy(cols, 0.0), sum_dyxhat(cols, 0.0);
  if (need_sums) {
    batch_norm_grad_sums(dy.data<float>(), x.data<float>(), rows, cols, mean.data<float>(),
                              inv_std.data<float>(), sum_dy.data(), sum_dyxhat.data());
  }
  finish_backward(dy, x, gamma, mean, inv_std, dx, dgamma, dbeta, training, sum_dy, sum_dyxhat);
}

void backward_add_relu(const Tensor& dy, const std::optional<Tensor>& dy2, const Tensor& x,
                       const Tensor& y, const std::optional<Tensor>& gamma, const Tensor& mean,
                       const Tensor& inv_std, const Tensor& dr, const std::optional<Tensor>& dx,
                       const std::optional<Tensor>& dgamma, const std::optional<Tensor>& dbeta) {
  const int64_t cols = x.cols();
  std::vector<double> sum_dr(cols, 0.0), sum_drxhat(cols, 0.0);
  // dy of y's shape, or (N, C): the gradient of y's per-image mean
  const int64_t hw = dy.numel() == x.numel() ? 0 : x.rows() / dy.size(0);
  batch_norm_relu_grad_sums(dy.data<float>(), dy2 ? dy2->data<float>() : nullptr, y.data<float>(),
                            x.data<float>(), dr.data<float>(),
                            x.rows(), cols, mean.data<float>(), inv_std.data<float>(),
                            sum_dr.data(), sum_drxhat.data(), hw);
  finish_backward(dr, x, gamma, mean, inv_std, dx, dgamma, dbeta, true, sum_dr, sum_drxhat);
}
}  // namespace

CORENN_REGISTER_KERNEL(batch_norm_forward_train_stub, Slot::cpu_ref, forward_train);
CORENN_REGISTER_KERNEL(batch_norm_forward_infer_stub, Slot::cpu_ref, forward_infer);
CORENN_REGISTER_KERNEL(batch_norm_backward_stub, Slot::cpu_ref, backward);
CORENN_REGISTER_KERNEL(batch_norm_add_relu_forward_stub, Slot::cpu_ref, forward_add_relu);
CORENN_REGISTER_KERNEL(batch_norm_add_relu_backward_stub, Slot::cpu_ref, backward_add_relu);

}  // namespace corenn::cpu
