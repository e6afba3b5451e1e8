// CPU kernels of the fused optimizer updates (SGD, Adam/AdamW, RMSprop, Adagrad, Adamax, Nadam,
// Lion, Adadelta).
//
// Math (Keras 3, keras/src/optimizers/*.py), per element of parameter p with gradient g:
//   g  = clip(g, -clipvalue, clipvalue) * scale_i     scale_i from the (per-variable or global) norm
//   p -= p * weight_decay * lr                         decoupled weight decay, before the update
//   then the optimizer's own rule (see ops/optimizer.h).
//
// Shapes: params[i], grads[i] and each state tensor [i] hold n_i floats (any shape, contiguous);
// the kernels only see flat arrays. Nothing here allocates per element or per step beyond a few
// small vectors of pointers.
//
// Structure of one call, which is why it is fast for many small tensors as well as a few big ones:
//   1. (clipnorm / global_clipnorm only) a deterministic per-tensor sum of squares: every tensor
//      is cut into fixed blocks of kNormBlock elements, blocks are summed in parallel in double,
//      then added per tensor in block order -- the result does not depend on the thread count.
//   2. one parallel pass over the concatenation of all tensors ([0, sum n_i)): each thread takes
//      one contiguous range of that index space, which may span many small tensors, so a model
//      with 50 bias vectors does not start 50 parallel regions. Each element is read once and
//      written once per array; the inner loops are branch-free (options are template flags,
//      disabled clipping is clip(+-inf) and scale 1) so the compiler vectorizes them.
//
// Variants: the loops are written once, force-inlined, and compiled twice -- baseline x86-64
// (SSE2, the portable path), under __attribute__((target("avx2,fma"))) and under an AVX-512
// target (512-bit vectors; the tails are whatever GCC emits for them); the three builds of each update are the cpu_ref,
// avx2 and avx512 slots of its stub (registered at the end of this file; CORENN_ISA=ref or
// _C.set_isa('ref') runs the portable one).
// sqrt and divide make Adam/RMSprop/Adagrad compute-bound at SSE width for cache-resident models,
// so the wider build is worth ~3x there. FMA contraction may change the last bit between the two.
#include <algorithm>
#include <cmath>
#include <limits>

#include "core/parallel.h"
#include "ops/optimizer.h"

namespace corenn::cpu {

namespace {

constexpr int64_t kGrain = 1 << 14;       // elements per thread at least, for the update pass
constexpr int64_t kNormBlock = 1 << 15;   // fixed reduction block: keeps norms deterministic
constexpr int64_t kSerialNorm = 1 << 16;  // below this many elements the norm pass stays serial

// Every loop here is force-inlined into two runners, so one source compiles twice:
// for baseline x86-64 (SSE2) and, in the *_avx2 runners, for AVX2/FMA (8 floats per instruction).
#define CORENN_INLINE inline __attribute__((always_inline))

// One parameter and its companions as flat arrays.
struct Span {
  float* p;
  const float* g;
  float* s[3];  // optimizer state, nullptr where unused
  int64_t n;
  float scale;  // gradient multiplier from clipnorm / global_clipnorm (1 when off)
};

// What every element update does before the optimizer rule.
struct Prologue {
  float clipvalue;  // +inf when off
  float decay;      // weight_decay * lr (0 when off)
};

CORENN_INLINE float clip_grad(float g, const Prologue& pro, float scale) {
  return std::min(std::max(g, -pro.clipvalue), pro.clipvalue) * scale;
}

std::vector<Span> make_spans(const TensorList& params, const TensorList& grads,
                             std::initializer_list<const TensorList*> states) {
  std::vector<Span> spans(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    Span& s = spans[i];
    s.p = params[i].data<float>();
    s.g = grads[i].data<float>();
    int k = 0;
    for (const TensorList* st : states) s.s[k++] = st->empty() ? nullptr : (*st)[i].data<float>();
    for (; k < 3; ++k) s.s[k] = nullptr;
    s.n = params[i].numel();
    s.scale = 1.0f;
  }
  return spans;
}


// ---- reference pieces ----------------------------------------------------------------------

// Sum of squares of the clipped gradient over [lo, hi) in double; eight independent chains so
// the loop is not bound by add latency, in a fixed order so the sum is reproducible.
CORENN_INLINE double sum_squares(const float* g, int64_t lo, int64_t hi, float clipvalue) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = lo;
  for (; i + 8 <= hi; i += 8) {
    for (int j = 0; j < 8; ++j) {
      const double x = std::min(std::max(g[i + j], -clipvalue), clipvalue);
      acc[j] += x * x;
    }
  }
  for (; i < hi; ++i) {
    const double x = std::min(std::max(g[i], -clipvalue), clipvalue);
    acc[0] += x * x;
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

double sum_squares_ref(const float* g, int64_t lo, int64_t hi, float clipvalue) {
  return sum_squares(g, lo, hi, clipvalue);
}

#if defined(CORENN_X86_64) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) double sum_squares_avx2(const float* g, int64_t lo, int64_t hi,
                                                            float clipvalue) {
  return sum_squares(g, lo, hi, clipvalue);
}
// The same loop compiled for AVX-512 (16 floats per vector). The tail is left to GCC's vectorizer
// (not checked in the disassembly: it may be a masked epilogue or a scalar loop).
#define CORENN_AVX512_TARGET \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512")))
CORENN_AVX512_TARGET double sum_squares_avx512(const float* g, int64_t lo, int64_t hi,
                                               float clipvalue) {
  return sum_squares(g, lo, hi, clipvalue);
}
#define CORENN_HAVE_AVX2_PATH 1
#endif

// Which compiled build of the loops runs: the slot it is registered in.
enum class Build { ref, avx2, avx512 };

// The sum of squares of one build: the avx2 one only where it exists.
template <Build kBuild>
double sum_squares_of(const float* g, int64_t lo, int64_t hi, float clipvalue) {
#ifdef CORENN_HAVE_AVX2_PATH
  if constexpr (kBuild == Build::avx2) return sum_squares_avx2(g, lo, hi, clipvalue);
  if constexpr (kBuild == Build::avx512) return sum_squares_avx512(g, lo, hi, clipvalue);
#endif
  return sum_squares_ref(g, lo, hi, clipvalue);
}

// Fills Span::scale. Keras: g * c / max(||g||, c) per variable (clipnorm) or with the norm of all
// gradients together (global_clipnorm); a zero gradient keeps scale 1.
template <Build kBuild>
void compute_scales(std::vector<Span>& spans, const UpdateCommon& c, float clipvalue) {
  if (c.clipnorm <= 0 && c.global_clipnorm <= 0) return;
  struct Block {
    size_t span;
    int64_t lo, hi;
  };
  std::vector<Block> blocks;
  int64_t total = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    for (int64_t lo = 0; lo < spans[i].n; lo += kNormBlock)
      blocks.push_back({i, lo, std::min(spans[i].n, lo + kNormBlock)});
    total += spans[i].n;
  }
  std::vector<double> partial(blocks.size());
  const int64_t nb = static_cast<int64_t>(blocks.size());
  const auto sum = sum_squares_of<kBuild>;
  parallel_for(0, nb, total < kSerialNorm ? nb : 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b)
      partial[b] = sum(spans[blocks[b].span].g, blocks[b].lo, blocks[b].hi, clipvalue);
  });
  std::vector<double> sums(spans.size(), 0.0);
  for (size_t b = 0; b < blocks.size(); ++b) sums[blocks[b].span] += partial[b];
  if (c.clipnorm > 0) {
    const double cn = c.clipnorm;
    for (size_t i = 0; i < spans.size(); ++i)
      spans[i].scale = static_cast<float>(cn / std::max(std::sqrt(sums[i]), cn));
  }
  if (c.global_clipnorm > 0) {
    double all = 0;
    for (double s : sums) all += s;
    const double gs = c.global_clipnorm / std::max(std::sqrt(all), double(c.global_clipnorm));
    for (Span& s : spans) s.scale = static_cast<float>(s.scale * gs);
  }
}


// kernel(span, prologue, lo, hi) over the chunk [lo, hi) of the concatenated index space.
template <class Kernel>
CORENN_INLINE void run_chunk(const std::vector<Span>& spans, const std::vector<int64_t>& offsets,
                             const Prologue& pro, int64_t lo, int64_t hi, const Kernel& kernel) {
  // The last span starting at or before lo (empty spans share offsets with the next one).
  size_t i = std::upper_bound(offsets.begin(), offsets.end() - 1, lo) - offsets.begin() - 1;
  for (; lo < hi; ++i) {
    const int64_t end = std::min(hi, offsets[i + 1]);
    if (end > lo) kernel(spans[i], pro, lo - offsets[i], end - offsets[i]);
    lo = end;
  }
}

template <class Kernel>
void run_chunk_ref(const std::vector<Span>& spans, const std::vector<int64_t>& offsets,
                   const Prologue& pro, int64_t lo, int64_t hi, const Kernel& kernel) {
  run_chunk(spans, offsets, pro, lo, hi, kernel);
}

#ifdef CORENN_HAVE_AVX2_PATH
template <class Kernel>
__attribute__((target("avx2,fma"))) void run_chunk_avx2(
    const std::vector<Span>& spans, const std::vector<int64_t>& offsets, const Prologue& pro,
    int64_t lo, int64_t hi, const Kernel& kernel) {
  run_chunk(spans, offsets, pro, lo, hi, kernel);
}

template <class Kernel>
CORENN_AVX512_TARGET void run_chunk_avx512(
    const std::vector<Span>& spans, const std::vector<int64_t>& offsets, const Prologue& pro,
    int64_t lo, int64_t hi, const Kernel& kernel) {
  run_chunk(spans, offsets, pro, lo, hi, kernel);
}
#endif

Prologue make_prologue(const UpdateCommon& c) {
  return {c.clipvalue > 0 ? c.clipvalue : std::numeric_limits<float>::infinity(),
          c.weight_decay * c.lr};
}

// Clipping scales, then one parallel pass over all elements of all spans.
template <Build kBuild, class Kernel>
void run(const TensorList& params, const TensorList& grads,
         std::initializer_list<const TensorList*> states, const UpdateCommon& c,
         const Kernel& kernel) {
  std::vector<Span> spans = make_spans(params, grads, states);
  const Prologue pro = make_prologue(c);
  compute_scales<kBuild>(spans, c, pro.clipvalue);
  std::vector<int64_t> offsets(spans.size() + 1, 0);
  for (size_t i = 0; i < spans.size(); ++i) offsets[i + 1] = offsets[i] + spans[i].n;
  parallel_for(0, offsets.back(), kGrain, [&](int64_t lo, int64_t hi) {
#ifdef CORENN_HAVE_AVX2_PATH
    if constexpr (kBuild == Build::avx2) return run_chunk_avx2(spans, offsets, pro, lo, hi, kernel);
    if constexpr (kBuild == Build::avx512)
      return run_chunk_avx512(spans, offsets, pro, lo, hi, kernel);
#endif
    run_chunk_ref(spans, offsets, pro, lo, hi, kernel);
  });
}

// ---- kernels: one per optimizer, options as template flags ---------------------------------

template <bool kMomentum, bool kNesterov>
CORENN_INLINE void sgd_range(const Span& s, const Prologue& pro, int64_t lo, int64_t hi, float lr,
                             float mu) {
  float* __restrict p = s.p;
  const float* __restrict g = s.g;
  float* __restrict m = s.s[0];
  const float scale = s.scale;
  for (int64_t i = lo; i < hi; ++i) {
    const float gi = clip_grad(g[i], pro, scale);
    float pi = p[i] - p[i] * pro.decay;
    if constexpr (kMomentum) {
      const float mi = mu * m[i] - lr * gi;
      m[i] = mi;
      pi += kNesterov ? mu * mi - lr * gi : mi;
    } else {
      pi -= lr * gi;
    }
    p[i] = pi;
  }
}

template <bool kAmsgrad>
CORENN_INLINE void adam_range(const Span& s, const Prologue& pro, int64_t lo, int64_t hi,
                              float alpha, float one_minus_b1, float one_minus_b2, float eps) {
  float* __restrict p = s.p;
  const float* __restrict g = s.g;
  float* __restrict m = s.s[0];
  float* __restrict v = s.s[1];
  float* __restrict vhat = s.s[2];
  const float scale = s.scale;
  for (int64_t i = lo; i < hi; ++i) {
    const float gi = clip_grad(g[i], pro, scale);
    const float pi = p[i] - p[i] * pro.decay;
    const float mi = m[i] + (gi - m[i]) * one_minus_b1;
    float vi = v[i] + (gi * gi - v[i]) * one_minus_b2;
    m[i] = mi;
    v[i] = vi;
    if constexpr (kAmsgrad) {
      vi = std::max(vhat[i], vi);
      vhat[i] = vi;
    }
    p[i] = pi - alpha * mi / (std::sqrt(vi) + eps);
  }
}

template <bool kCentered, bool kMomentum>
CORENN_INLINE void rmsprop_range(const Span& s, const Prologue& pro, int64_t lo, int64_t hi,
                                 float lr, float rho, float mu, float eps) {
  float* __restrict p = s.p;
  const float* __restrict g = s.g;
  float* __restrict vel = s.s[0];
  float* __restrict mom = s.s[1];
  float* __restrict avg = s.s[2];
  const float scale = s.scale, one_minus_rho = 1.0f - rho;
  for (int64_t i = lo; i < hi; ++i) {
    const float gi = clip_grad(g[i], pro, scale);
    float pi = p[i] - p[i] * pro.decay;
    const float vi = rho * vel[i] + one_minus_rho * gi * gi;
    vel[i] = vi;
    float denom = vi;
    if constexpr (kCentered) {
      const float ai = rho * avg[i] + one_minus_rho * gi;
      avg[i] = ai;
      denom -= ai * ai;
    }
    const float inc = lr * gi / std::sqrt(denom + eps);
    if constexpr (kMomentum) {
      const float mi = mu * mom[i] + inc;
      mom[i] = mi;
      pi -= mi;
    } else {
      pi -= inc;
    }
    p[i] = pi;
  }
}

CORENN_INLINE void adagrad_range(const Span& s, const Prologue& pro, int64_t lo, int64_t hi,
                                 float lr, float eps) {
  float* __restrict p = s.p;
  const float* __restrict g = s.g;
  float* __restrict acc = s.s[0];
  const float scale = s.scale;
  for (int64_t i = lo; i < hi; ++i) {
    const float gi = clip_grad(g[i], pro, scale);
    const float pi = p[i] - p[i] * pro.decay;
    const float ai = acc[i] + gi * gi;
    acc[i] = ai;
    p[i] = pi - lr * gi / std::sqrt(ai + eps);
  }
}

CORENN_INLINE void adamax_range(const Span& s, const Prologue& pro, int64_t lo, int64_t hi,
                                float step_size, float one_minus_b1, float b2, float eps) {
  float* __restrict p = s.p;
  const float* __restrict g = s.g;
  float* __restrict m = s.s[0];
  float* __restrict u = s.s[1];
  const float scale = s.scale;
  for (int64_t i = lo; i < hi; ++i) {
    const float gi = clip_grad(g[i], pro, scale);
    const float pi = p[i] - p[i] * pro.decay;
    const float mi = m[i] + (gi - m[i]) * one_minus_b1;
    const float ui = std::max(b2 * u[i], std::fabs(gi));
    m[i] = mi;
    u[i] = ui;
    p[i] = pi - step_size * mi / (ui + eps);
  }
}

CORENN_INLINE void nadam_range(const Span& s, const Prologue& pro, int64_t lo, int64_t hi,
                               float lr, float one_minus_b1, float one_minus_b2, float eps,
                               float coef_m, float coef_g, float coef_v) {
  float* __restrict p = s.p;
  const float* __restrict g = s.g;
  float* __restrict m = s.s[0];
  float* __restrict v = s.s[1];
  const float scale = s.scale;
  for (int64_t i = lo; i < hi; ++i) {
    const float gi = clip_grad(g[i], pro, scale);
    const float pi = p[i] - p[i] * pro.decay;
    const float mi = m[i] + (gi - m[i]) * one_minus_b1;
    const float vi = v[i] + (gi * gi - v[i]) * one_minus_b2;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - lr * (coef_m * mi + coef_g * gi) / (std::sqrt(coef_v * vi) + eps);
  }
}

// sign(x) with sign(0) = 0 and sign(NaN) = NaN (x * 0), as keras.ops.sign
CORENN_INLINE float sign_of(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x * 0.0f); }

CORENN_INLINE void lion_range(const Span& s, const Prologue& pro, int64_t lo, int64_t hi, float lr,
                              float b1, float b2) {
  float* __restrict p = s.p;
  const float* __restrict g = s.g;
  float* __restrict m = s.s[0];
  const float scale = s.scale;
  for (int64_t i = lo; i < hi; ++i) {
    const float gi = clip_grad(g[i], pro, scale);
    const float pi = p[i] - p[i] * pro.decay;
    p[i] = pi - lr * sign_of(b1 * m[i] + (1.0f - b1) * gi);
    m[i] = b2 * m[i] + (1.0f - b2) * gi;
  }
}

CORENN_INLINE void adadelta_range(const Span& s, const Prologue& pro, int64_t lo, int64_t hi,
                                  float lr, float rho, float eps) {
  float* __restrict p = s.p;
  const float* __restrict g = s.g;
  float* __restrict ag = s.s[0];
  float* __restrict ad = s.s[1];
  const float scale = s.scale, one_minus_rho = 1.0f - rho;
  for (int64_t i = lo; i < hi; ++i) {
    const float gi = clip_grad(g[i], pro, scale);
    const float pi = p[i] - p[i] * pro.decay;
    const float agi = rho * ag[i] + one_minus_rho * gi * gi;
    const float di = gi * std::sqrt(ad[i] + eps) / std::sqrt(agi + eps);
    ag[i] = agi;
    ad[i] = rho * ad[i] + one_minus_rho * di * di;
    p[i] = pi - lr * di;
  }
}

// ---- the updates, one per Build ------------------------------------------------------------

// The per-range kernel handed to run(): a lambda that must inline into both chunk runners.
#define KERNEL(...) \
  [&](const Span& s, const Prologue& p, int64_t lo, int64_t hi) __attribute__((always_inline)) { \
    __VA_ARGS__; \
  }

template <Build kBuild>
void sgd_update(const TensorList& params, const TensorList& grads, const TensorList& momentums,
                const UpdateCommon& common, float momentum, bool nesterov) {
  const float lr = common.lr, mu = momentum;
  auto go = [&](auto kernel) { run<kBuild>(params, grads, {&momentums}, common, kernel); };
  if (momentum == 0)
    go(KERNEL(sgd_range<false, false>(s, p, lo, hi, lr, mu)));
  else if (nesterov)
    go(KERNEL(sgd_range<true, true>(s, p, lo, hi, lr, mu)));
  else
    go(KERNEL(sgd_range<true, false>(s, p, lo, hi, lr, mu)));
}

template <Build kBuild>
void adam_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                 const TensorList& v, const TensorList& vhat, const UpdateCommon& common,
                 float beta_1, float beta_2, float epsilon, int64_t step, bool amsgrad) {
  // Bias corrections folded into one step size, in double: b^t underflows gracefully to 0.
  const double t = static_cast<double>(step + 1);
  const float alpha = static_cast<float>(common.lr * std::sqrt(1.0 - std::pow(double(beta_2), t)) /
                                         (1.0 - std::pow(double(beta_1), t)));
  const float omb1 = 1.0f - beta_1, omb2 = 1.0f - beta_2, eps = epsilon;
  auto go = [&](auto kernel) { run<kBuild>(params, grads, {&m, &v, &vhat}, common, kernel); };
  if (amsgrad)
    go(KERNEL(adam_range<true>(s, p, lo, hi, alpha, omb1, omb2, eps)));
  else
    go(KERNEL(adam_range<false>(s, p, lo, hi, alpha, omb1, omb2, eps)));
}

template <Build kBuild>
void rmsprop_update(const TensorList& params, const TensorList& grads, const TensorList& velocities,
                    const TensorList& momentums, const TensorList& average_grads,
                    const UpdateCommon& common, float rho, float momentum, float epsilon,
                    bool centered) {
  const float lr = common.lr, mu = momentum, eps = epsilon;
  auto go = [&](auto kernel) {
    run<kBuild>(params, grads, {&velocities, &momentums, &average_grads}, common, kernel);
  };
  const bool with_momentum = momentum > 0;
  if (centered && with_momentum)
    go(KERNEL(rmsprop_range<true, true>(s, p, lo, hi, lr, rho, mu, eps)));
  else if (centered)
    go(KERNEL(rmsprop_range<true, false>(s, p, lo, hi, lr, rho, mu, eps)));
  else if (with_momentum)
    go(KERNEL(rmsprop_range<false, true>(s, p, lo, hi, lr, rho, mu, eps)));
  else
    go(KERNEL(rmsprop_range<false, false>(s, p, lo, hi, lr, rho, mu, eps)));
}

template <Build kBuild>
void adagrad_update(const TensorList& params, const TensorList& grads,
                    const TensorList& accumulators, const UpdateCommon& common, float epsilon) {
  const float lr = common.lr, eps = epsilon;
  run<kBuild>(params, grads, {&accumulators}, common, KERNEL(adagrad_range(s, p, lo, hi, lr, eps)));
}

template <Build kBuild>
void adamax_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                   const TensorList& u, const UpdateCommon& common, float beta_1, float beta_2,
                   float epsilon, int64_t step) {
  // The bias correction of m folded into the step size, in double (b1^t underflows to 0).
  const float step_size = static_cast<float>(
      common.lr / (1.0 - std::pow(double(beta_1), static_cast<double>(step + 1))));
  const float omb1 = 1.0f - beta_1, b2 = beta_2, eps = epsilon;
  run<kBuild>(params, grads, {&m, &u}, common,
              KERNEL(adamax_range(s, p, lo, hi, step_size, omb1, b2, eps)));
}

template <Build kBuild>
void nadam_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                  const TensorList& v, const UpdateCommon& common, float beta_1, float beta_2,
                  float epsilon, float coef_m, float coef_g, float coef_v) {
  const float lr = common.lr, omb1 = 1.0f - beta_1, omb2 = 1.0f - beta_2, eps = epsilon;
  run<kBuild>(params, grads, {&m, &v}, common,
              KERNEL(nadam_range(s, p, lo, hi, lr, omb1, omb2, eps, coef_m, coef_g, coef_v)));
}

template <Build kBuild>
void lion_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                 const UpdateCommon& common, float beta_1, float beta_2) {
  const float lr = common.lr, b1 = beta_1, b2 = beta_2;
  run<kBuild>(params, grads, {&m}, common, KERNEL(lion_range(s, p, lo, hi, lr, b1, b2)));
}

template <Build kBuild>
void adadelta_update(const TensorList& params, const TensorList& grads, const TensorList& acc_grad,
                     const TensorList& acc_delta, const UpdateCommon& common, float rho,
                     float epsilon) {
  const float lr = common.lr, r = rho, eps = epsilon;
  run<kBuild>(params, grads, {&acc_grad, &acc_delta}, common,
              KERNEL(adadelta_range(s, p, lo, hi, lr, r, eps)));
}

}  // namespace

CORENN_REGISTER_KERNEL(sgd_update_stub, Slot::cpu_ref, sgd_update<Build::ref>);
CORENN_REGISTER_KERNEL(adam_update_stub, Slot::cpu_ref, adam_update<Build::ref>);
CORENN_REGISTER_KERNEL(rmsprop_update_stub, Slot::cpu_ref, rmsprop_update<Build::ref>);
CORENN_REGISTER_KERNEL(adagrad_update_stub, Slot::cpu_ref, adagrad_update<Build::ref>);
CORENN_REGISTER_KERNEL(adamax_update_stub, Slot::cpu_ref, adamax_update<Build::ref>);
CORENN_REGISTER_KERNEL(nadam_update_stub, Slot::cpu_ref, nadam_update<Build::ref>);
CORENN_REGISTER_KERNEL(lion_update_stub, Slot::cpu_ref, lion_update<Build::ref>);
CORENN_REGISTER_KERNEL(adadelta_update_stub, Slot::cpu_ref, adadelta_update<Build::ref>);
#ifdef CORENN_HAVE_AVX2_PATH
CORENN_REGISTER_KERNEL(sgd_update_stub, Slot::avx2, sgd_update<Build::avx2>);
CORENN_REGISTER_KERNEL(adam_update_stub, Slot::avx2, adam_update<Build::avx2>);
CORENN_REGISTER_KERNEL(rmsprop_update_stub, Slot::avx2, rmsprop_update<Build::avx2>);
CORENN_REGISTER_KERNEL(adagrad_update_stub, Slot::avx2, adagrad_update<Build::avx2>);
CORENN_REGISTER_KERNEL(adamax_update_stub, Slot::avx2, adamax_update<Build::avx2>);
CORENN_REGISTER_KERNEL(nadam_update_stub, Slot::avx2, nadam_update<Build::avx2>);
CORENN_REGISTER_KERNEL(lion_update_stub, Slot::avx2, lion_update<Build::avx2>);
CORENN_REGISTER_KERNEL(adadelta_update_stub, Slot::avx2, adadelta_update<Build::avx2>);
CORENN_REGISTER_KERNEL(sgd_update_stub, Slot::avx512, sgd_update<Build::avx512>);
CORENN_REGISTER_KERNEL(adam_update_stub, Slot::avx512, adam_update<Build::avx512>);
CORENN_REGISTER_KERNEL(rmsprop_update_stub, Slot::avx512, rmsprop_update<Build::avx512>);
CORENN_REGISTER_KERNEL(adagrad_update_stub, Slot::avx512, adagrad_update<Build::avx512>);
CORENN_REGISTER_KERNEL(adamax_update_stub, Slot::avx512, adamax_update<Build::avx512>);
CORENN_REGISTER_KERNEL(nadam_update_stub, Slot::avx512, nadam_update<Build::avx512>);
CORENN_REGISTER_KERNEL(lion_update_stub, Slot::avx512, lion_update<Build::avx512>);
CORENN_REGISTER_KERNEL(adadelta_update_stub, Slot::avx512, adadelta_update<Build::avx512>);
#endif

}  // namespace corenn::cpu
