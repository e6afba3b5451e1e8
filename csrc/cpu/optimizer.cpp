// CPU kernels of the fused optimizer updates (SGD, Adam/AdamW, RMSprop, Adagrad, Adamax, Nadam,
// Lion, Adadelta, Ftrl, Lamb, Adafactor).
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
//   Lamb and Adafactor scale each variable's step by norms of that variable (the trust ratio;
//   rms(p) and rms(u)): a first pass updates the state and sums those squares per variable over
//   the same fixed blocks (span_sums; Adafactor's factored variables per row and column block),
//   and the second pass applies the step with the variable's rate.
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

// Every loop here is force-inlined into the runners of the three builds (in_build, below).
#define CORENN_INLINE inline __attribute__((always_inline))

// One parameter and its companions as flat arrays.
struct Span {
  float* p;
  const float* g;
  float* s[3];  // optimizer state, nullptr where unused
  int64_t n;
  float scale;  // gradient multiplier from clipnorm / global_clipnorm (1 when off)
  float rate;   // per-variable step size of a second pass (Lamb's and Adafactor's)
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
    s.rate = 0.0f;
  }
  return spans;
}


// ---- the three builds ----------------------------------------------------------------------

#if defined(CORENN_X86_64) && defined(__GNUC__)
// The AVX-512 build: 16 floats per vector; its tails are whatever GCC emits for them (a masked
// epilogue or a scalar loop, not checked in the disassembly).
#define CORENN_AVX512_TARGET \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512")))
#define CORENN_HAVE_AVX2_PATH 1
#endif

// Which compiled build of the loops runs: the slot it is registered in.
enum class Build { ref, avx2, avx512 };

// body() compiled for one build. The body is a lambda marked always_inline (INLINE_BODY), so
// it and every CORENN_INLINE loop it calls are compiled into the runner of that build's target.
#define INLINE_BODY __attribute__((always_inline))

template <class Body>
auto body_ref(const Body& body) {
  return body();
}

#ifdef CORENN_HAVE_AVX2_PATH
template <class Body>
__attribute__((target("avx2,fma"))) auto body_avx2(const Body& body) {
  return body();
}

template <class Body>
CORENN_AVX512_TARGET auto body_avx512(const Body& body) {
  return body();
}
#endif

template <Build kBuild, class Body>
CORENN_INLINE auto in_build(const Body& body) {
#ifdef CORENN_HAVE_AVX2_PATH
  if constexpr (kBuild == Build::avx2) return body_avx2(body);
  if constexpr (kBuild == Build::avx512) return body_avx512(body);
#endif
  return body_ref(body);
}

// ---- per-variable sums ---------------------------------------------------------------------

// Two sums of one block of a span (what a block kernel returns).
struct Sums {
  double a = 0, b = 0;
};

// block(span, prologue, lo, hi) -> Sums over fixed blocks of kNormBlock elements of every span,
// in parallel, then added per span in block order: the result does not depend on the thread
// count. A block kernel may also update its block's state (each element is in one block).
template <Build kBuild, class Block>
std::vector<Sums> span_sums(const std::vector<Span>& spans, const Prologue& pro,
                            const Block& block) {
  struct Piece {
    size_t span;
    int64_t lo, hi;
  };
  std::vector<Piece> pieces;
  int64_t total = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    for (int64_t lo = 0; lo < spans[i].n; lo += kNormBlock)
      pieces.push_back({i, lo, std::min(spans[i].n, lo + kNormBlock)});
    total += spans[i].n;
  }
  std::vector<Sums> partial(pieces.size());
  const int64_t np = static_cast<int64_t>(pieces.size());
  parallel_for(0, np, total < kSerialNorm ? np : 1, [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k) {
      const Piece& piece = pieces[k];
      partial[k] = in_build<kBuild>([&]() INLINE_BODY {
        return block(spans[piece.span], pro, piece.lo, piece.hi);
      });
    }
  });
  std::vector<Sums> sums(spans.size());
  for (size_t k = 0; k < pieces.size(); ++k) {
    sums[pieces[k].span].a += partial[k].a;
    sums[pieces[k].span].b += partial[k].b;
  }
  return sums;
}

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

// Fills Span::scale. Keras: g * c / max(||g||, c) per variable (clipnorm) or with the norm of all
// gradients together (global_clipnorm); a zero gradient keeps scale 1.
template <Build kBuild>
void compute_scales(std::vector<Span>& spans, const UpdateCommon& c, const Prologue& pro) {
  if (c.clipnorm <= 0 && c.global_clipnorm <= 0) return;
  const std::vector<Sums> sums = span_sums<kBuild>(
      spans, pro, [](const Span& s, const Prologue& p, int64_t lo, int64_t hi) INLINE_BODY {
        return Sums{sum_squares(s.g, lo, hi, p.clipvalue), 0.0};
      });
  if (c.clipnorm > 0) {
    const double cn = c.clipnorm;
    for (size_t i = 0; i < spans.size(); ++i)
      spans[i].scale = static_cast<float>(cn / std::max(std::sqrt(sums[i].a), cn));
  }
  if (c.global_clipnorm > 0) {
    double all = 0;
    for (const Sums& s : sums) all += s.a;
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

Prologue make_prologue(const UpdateCommon& c) {
  return {c.clipvalue > 0 ? c.clipvalue : std::numeric_limits<float>::infinity(),
          c.weight_decay * c.lr};
}

// The spans of one call with their clipping scales.
template <Build kBuild>
std::vector<Span> prepare(const TensorList& params, const TensorList& grads,
                          std::initializer_list<const TensorList*> states, const UpdateCommon& c,
                          const Prologue& pro) {
  std::vector<Span> spans = make_spans(params, grads, states);
  compute_scales<kBuild>(spans, c, pro);
  return spans;
}

// One parallel pass of kernel over all elements of all spans.
template <Build kBuild, class Kernel>
void sweep(const std::vector<Span>& spans, const Prologue& pro, const Kernel& kernel) {
  std::vector<int64_t> offsets(spans.size() + 1, 0);
  for (size_t i = 0; i < spans.size(); ++i) offsets[i + 1] = offsets[i] + spans[i].n;
  parallel_for(0, offsets.back(), kGrain, [&](int64_t lo, int64_t hi) {
    in_build<kBuild>([&]() INLINE_BODY { run_chunk(spans, offsets, pro, lo, hi, kernel); });
  });
}

// Clipping scales, then one parallel pass over all elements of all spans.
template <Build kBuild, class Kernel>
void run(const TensorList& params, const TensorList& grads,
         std::initializer_list<const TensorList*> states, const UpdateCommon& c,
         const Kernel& kernel) {
  const Prologue pro = make_prologue(c);
  sweep<kBuild>(prepare<kBuild>(params, grads, states, c, pro), pro, kernel);
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

// Keras' Ftrl; kSqrt: learning_rate_power = -0.5, where x^0.5 is a sqrt (std::pow does not
// vectorize). quad_l2 = 2 (l2 + beta / (2 lr)), shrink = 2 l2_shrinkage.
template <bool kSqrt>
CORENN_INLINE void ftrl_range(const Span& s, const Prologue& pro, int64_t lo, int64_t hi, float lr,
                              float power, float l1, float quad_l2, float shrink) {
  float* __restrict p = s.p;
  const float* __restrict g = s.g;
  float* __restrict acc = s.s[0];
  float* __restrict lin = s.s[1];
  const float scale = s.scale;
  for (int64_t i = lo; i < hi; ++i) {
    const float gi = clip_grad(g[i], pro, scale);
    const float pi = p[i] - p[i] * pro.decay;
    const float ai = acc[i], ni = ai + gi * gi;
    const float pow_n = kSqrt ? std::sqrt(ni) : std::pow(ni, power);
    const float pow_a = kSqrt ? std::sqrt(ai) : std::pow(ai, power);
    const float li = lin[i] + (gi + shrink * pi) - (pow_n - pow_a) / lr * pi;
    acc[i] = ni;
    lin[i] = li;
    p[i] = (std::min(std::max(li, -l1), l1) - li) / (pow_n / lr + quad_l2);
  }
}

// Lamb's first pass: the moments, and the sums of squares of the (decayed) weights (a) and of
// the update direction u (b) for the trust ratio. bc1, bc2: the bias corrections 1 - b^t.
CORENN_INLINE Sums lamb_moments(const Span& s, const Prologue& pro, int64_t lo, int64_t hi,
                                float one_minus_b1, float one_minus_b2, float bc1, float bc2,
                                float eps) {
  const float* __restrict p = s.p;
  const float* __restrict g = s.g;
  float* __restrict m = s.s[0];
  float* __restrict v = s.s[1];
  const float scale = s.scale;
  Sums sums;
  for (int64_t i = lo; i < hi; ++i) {
    const float gi = clip_grad(g[i], pro, scale);
    const float pi = p[i] - p[i] * pro.decay;
    const float mi = m[i] + (gi - m[i]) * one_minus_b1;
    const float vi = v[i] + (gi * gi - v[i]) * one_minus_b2;
    m[i] = mi;
    v[i] = vi;
    const float ui = mi / bc1 / (std::sqrt(vi / bc2) + eps);
    sums.a += double(pi) * pi;
    sums.b += double(ui) * ui;
  }
  return sums;
}

// Lamb's second pass: p -= rate u with the span's rate = trust ratio * lr.
CORENN_INLINE void lamb_apply(const Span& s, const Prologue& pro, int64_t lo, int64_t hi, float bc1,
                              float bc2, float eps) {
  float* __restrict p = s.p;
  const float* __restrict m = s.s[0];
  const float* __restrict v = s.s[1];
  const float rate = s.rate;
  for (int64_t i = lo; i < hi; ++i) {
    const float pi = p[i] - p[i] * pro.decay;
    p[i] = pi - rate * (m[i] / bc1 / (std::sqrt(v[i] / bc2) + eps));
  }
}

// Adafactor's step constants: b = beta_2 of this step, eps1 = epsilon_1.
struct AdafactorStep {
  float b, one_minus_b, eps1;
};

// Adafactor, unfactored variables, first pass: v = b v + (1 - b)(g^2 + eps1); the sums of
// squares of the (decayed) weights (a) and of u = g / sqrt(v) (b).
CORENN_INLINE Sums adafactor_velocity(const Span& s, const Prologue& pro, int64_t lo, int64_t hi,
                                      const AdafactorStep& st) {
  const float* __restrict p = s.p;
  const float* __restrict g = s.g;
  float* __restrict v = s.s[2];
  const float scale = s.scale;
  Sums sums;
  for (int64_t i = lo; i < hi; ++i) {
    const float gi = clip_grad(g[i], pro, scale);
    const float pi = p[i] - p[i] * pro.decay;
    const float vi = st.b * v[i] + st.one_minus_b * (gi * gi + st.eps1);
    v[i] = vi;
    const float ui = gi / std::sqrt(vi);
    sums.a += double(pi) * pi;
    sums.b += double(ui) * ui;
  }
  return sums;
}

// Adafactor, unfactored variables, second pass: p -= rate g / sqrt(v).
CORENN_INLINE void adafactor_apply(const Span& s, const Prologue& pro, int64_t lo, int64_t hi) {
  float* __restrict p = s.p;
  const float* __restrict g = s.g;
  const float* __restrict v = s.s[2];
  const float scale = s.scale, rate = s.rate;
  for (int64_t i = lo; i < hi; ++i) {
    const float gi = clip_grad(g[i], pro, scale);
    p[i] = p[i] - p[i] * pro.decay - rate * (gi / std::sqrt(v[i]));
  }
}

// Adafactor's factored rows: one row of C elements of a (..., R, C) variable.
// Sum over the row of g^2 + eps1.
CORENN_INLINE double adafactor_row_sum(const float* __restrict g, int64_t C, const Prologue& pro,
                                       float scale, float eps1) {
  double sum = 0;
  for (int64_t j = 0; j < C; ++j) {
    const float gj = clip_grad(g[j], pro, scale);
    sum += gj * gj + eps1;
  }
  return sum;
}

// Adds g^2 + eps1 of columns [j0, j1) of the R rows of one matrix into col_sum[0, j1 - j0).
CORENN_INLINE void adafactor_col_sums(const float* __restrict g, int64_t R, int64_t C, int64_t j0,
                                      int64_t j1, const Prologue& pro, float scale, float eps1,
                                      double* __restrict col_sum) {
  for (int64_t i = 0; i < R; ++i) {
    const float* __restrict row = g + i * C;
    for (int64_t j = j0; j < j1; ++j) {
      const float gj = clip_grad(row[j], pro, scale);
      col_sum[j - j0] += gj * gj + eps1;
    }
  }
}

// The sums of squares of one row's (decayed) weights (a) and of u = g / sqrt(row_rel col) (b),
// row_rel = row / mean_R(row) of this row.
CORENN_INLINE Sums adafactor_row_sums(const float* __restrict p, const float* __restrict g,
                                      const float* __restrict col, float row_rel, int64_t C,
                                      const Prologue& pro, float scale) {
  Sums sums;
  for (int64_t j = 0; j < C; ++j) {
    const float gj = clip_grad(g[j], pro, scale);
    const float pj = p[j] - p[j] * pro.decay;
    const float uj = gj / std::sqrt(row_rel * col[j]);
    sums.a += double(pj) * pj;
    sums.b += double(uj) * uj;
  }
  return sums;
}

CORENN_INLINE void adafactor_row_apply(float* __restrict p, const float* __restrict g,
                                       const float* __restrict col, float row_rel, int64_t C,
                                       const Prologue& pro, float scale, float rate) {
  for (int64_t j = 0; j < C; ++j) {
    const float gj = clip_grad(g[j], pro, scale);
    p[j] = p[j] - p[j] * pro.decay - rate * (gj / std::sqrt(row_rel * col[j]));
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

template <Build kBuild>
void ftrl_update(const TensorList& params, const TensorList& grads, const TensorList& accumulators,
                 const TensorList& linears, const UpdateCommon& common, float learning_rate_power,
                 float l1, float l2, float l2_shrinkage, float beta) {
  const float lr = common.lr, power = -learning_rate_power, shrink = 2.0f * l2_shrinkage;
  const float quad_l2 = static_cast<float>(2.0 * (double(l2) + double(beta) / (2.0 * lr)));
  auto go = [&](auto kernel) { run<kBuild>(params, grads, {&accumulators, &linears}, common, kernel); };
  if (learning_rate_power == -0.5f)
    go(KERNEL(ftrl_range<true>(s, p, lo, hi, lr, power, l1, quad_l2, shrink)));
  else
    go(KERNEL(ftrl_range<false>(s, p, lo, hi, lr, power, l1, quad_l2, shrink)));
}

template <Build kBuild>
void lamb_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                 const TensorList& v, const UpdateCommon& common, float beta_1, float beta_2,
                 float epsilon, int64_t step) {
  const double t = static_cast<double>(step + 1);
  const float bc1 = static_cast<float>(1.0 - std::pow(double(beta_1), t));
  const float bc2 = static_cast<float>(1.0 - std::pow(double(beta_2), t));
  const float omb1 = 1.0f - beta_1, omb2 = 1.0f - beta_2, eps = epsilon;
  const Prologue pro = make_prologue(common);
  std::vector<Span> spans = prepare<kBuild>(params, grads, {&m, &v}, common, pro);
  const std::vector<Sums> norms = span_sums<kBuild>(
      spans, pro, [&](const Span& s, const Prologue& p, int64_t lo, int64_t hi) INLINE_BODY {
        return lamb_moments(s, p, lo, hi, omb1, omb2, bc1, bc2, eps);
      });
  for (size_t i = 0; i < spans.size(); ++i) {
    const double w_norm = std::sqrt(norms[i].a), u_norm = std::sqrt(norms[i].b);
    const double ratio = w_norm > 0 && u_norm > 0 ? w_norm / u_norm : 1.0;
    spans[i].rate = static_cast<float>(ratio * common.lr);
  }
  sweep<kBuild>(spans, pro, KERNEL(lamb_apply(s, p, lo, hi, bc1, bc2, eps)));
}

constexpr int64_t kColBlock = 256;  // columns one task of Adafactor's column means sums

// body(k) for the rows k in [0, rows) of C elements each, in parallel.
template <Build kBuild, class Row>
void for_rows(int64_t rows, int64_t C, const Row& row) {
  parallel_for(0, rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(C, 1)),
               [&](int64_t lo, int64_t hi) {
                 in_build<kBuild>([&]() INLINE_BODY {
                   for (int64_t k = lo; k < hi; ++k) row(k);
                 });
               });
}

// Adafactor's step size of one variable from its sums of squares of weights (a) and of u (b).
struct AdafactorRate {
  double rho, epsilon_2, clip_threshold;
  float operator()(const Sums& sums, int64_t n) const {
    const double rms_w = std::sqrt(sums.a / n), rms_u = std::sqrt(sums.b / n);
    return static_cast<float>(std::max(epsilon_2, rms_w) * rho /
                              std::max(1.0, rms_u / clip_threshold));
  }
};

// One variable of rank >= 2, seen as B matrices of R x C: row and column means, then the update.
// Every sum has a fixed order (per row, per column block, then rows in order).
template <Build kBuild>
void adafactor_factored(const Span& s, const std::vector<int64_t>& shape, const Prologue& pro,
                        const AdafactorStep& st, const AdafactorRate& rate_of) {
  const int64_t C = shape.back(), R = shape[shape.size() - 2], B = s.n / (R * C), rows = B * R;
  float* r = s.s[0];
  float* c = s.s[1];
  const float scale = s.scale;
  for_rows<kBuild>(rows, C, [&](int64_t k) INLINE_BODY {
    const double mean = adafactor_row_sum(s.g + k * C, C, pro, scale, st.eps1) / double(C);
    r[k] = st.b * r[k] + st.one_minus_b * static_cast<float>(mean);
  });
  const int64_t col_blocks = (C + kColBlock - 1) / kColBlock;
  parallel_for(0, B * col_blocks, std::max<int64_t>(1, kGrain / (R * kColBlock)),
               [&](int64_t lo, int64_t hi) {
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t b = task / col_blocks, j0 = (task % col_blocks) * kColBlock;
      const int64_t j1 = std::min(C, j0 + kColBlock);
      double col_sum[kColBlock] = {};
      in_build<kBuild>([&]() INLINE_BODY {
        adafactor_col_sums(s.g + b * R * C, R, C, j0, j1, pro, scale, st.eps1, col_sum);
      });
      float* cb = c + b * C;
      for (int64_t j = j0; j < j1; ++j)
        cb[j] = st.b * cb[j] + st.one_minus_b * static_cast<float>(col_sum[j - j0] / double(R));
    }
  });
  std::vector<float> row_rel(rows);  // row / mean_R(row), as Keras divides
  for (int64_t b = 0; b < B; ++b) {
    double sum = 0;
    for (int64_t i = 0; i < R; ++i) sum += r[b * R + i];
    const float mean = static_cast<float>(sum / double(R));
    for (int64_t i = 0; i < R; ++i) row_rel[b * R + i] = r[b * R + i] / mean;
  }
  std::vector<Sums> row_sums(rows);
  for_rows<kBuild>(rows, C, [&](int64_t k) INLINE_BODY {
    row_sums[k] = adafactor_row_sums(s.p + k * C, s.g + k * C, c + (k / R) * C, row_rel[k], C,
                                     pro, scale);
  });
  Sums total;
  for (const Sums& rs : row_sums) {
    total.a += rs.a;
    total.b += rs.b;
  }
  const float rate = rate_of(total, s.n);
  for_rows<kBuild>(rows, C, [&](int64_t k) INLINE_BODY {
    adafactor_row_apply(s.p + k * C, s.g + k * C, c + (k / R) * C, row_rel[k], C, pro, scale,
                        rate);
  });
}

template <Build kBuild>
void adafactor_update(const TensorList& params, const TensorList& grads, const TensorList& rows,
                      const TensorList& cols, const TensorList& velocities,
                      const UpdateCommon& common, float beta_2_decay, float epsilon_1,
                      float epsilon_2, float clip_threshold, int64_t step) {
  const double t = static_cast<double>(step + 1), decayed = std::pow(t, double(beta_2_decay));
  const AdafactorStep st{static_cast<float>(1.0 - decayed), static_cast<float>(decayed), epsilon_1};
  const AdafactorRate rate_of{std::min(double(common.lr), 1.0 / std::sqrt(t)), epsilon_2,
                              clip_threshold};
  const Prologue pro = make_prologue(common);
  const std::vector<Span> spans =
      prepare<kBuild>(params, grads, {&rows, &cols, &velocities}, common, pro);
  std::vector<Span> whole;  // the unfactored variables, updated together
  for (size_t i = 0; i < spans.size(); ++i) {
    if (spans[i].n == 0) continue;
    if (params[i].dim() >= 2)
      adafactor_factored<kBuild>(spans[i], params[i].shape(), pro, st, rate_of);
    else
      whole.push_back(spans[i]);
  }
  const std::vector<Sums> sums = span_sums<kBuild>(
      whole, pro, [&](const Span& s, const Prologue& p, int64_t lo, int64_t hi) INLINE_BODY {
        return adafactor_velocity(s, p, lo, hi, st);
      });
  for (size_t i = 0; i < whole.size(); ++i) whole[i].rate = rate_of(sums[i], whole[i].n);
  sweep<kBuild>(whole, pro, KERNEL(adafactor_apply(s, p, lo, hi)));
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
CORENN_REGISTER_KERNEL(ftrl_update_stub, Slot::cpu_ref, ftrl_update<Build::ref>);
CORENN_REGISTER_KERNEL(lamb_update_stub, Slot::cpu_ref, lamb_update<Build::ref>);
CORENN_REGISTER_KERNEL(adafactor_update_stub, Slot::cpu_ref, adafactor_update<Build::ref>);
#ifdef CORENN_HAVE_AVX2_PATH
CORENN_REGISTER_KERNEL(sgd_update_stub, Slot::avx2, sgd_update<Build::avx2>);
CORENN_REGISTER_KERNEL(adam_update_stub, Slot::avx2, adam_update<Build::avx2>);
CORENN_REGISTER_KERNEL(rmsprop_update_stub, Slot::avx2, rmsprop_update<Build::avx2>);
CORENN_REGISTER_KERNEL(adagrad_update_stub, Slot::avx2, adagrad_update<Build::avx2>);
CORENN_REGISTER_KERNEL(adamax_update_stub, Slot::avx2, adamax_update<Build::avx2>);
CORENN_REGISTER_KERNEL(nadam_update_stub, Slot::avx2, nadam_update<Build::avx2>);
CORENN_REGISTER_KERNEL(lion_update_stub, Slot::avx2, lion_update<Build::avx2>);
CORENN_REGISTER_KERNEL(adadelta_update_stub, Slot::avx2, adadelta_update<Build::avx2>);
CORENN_REGISTER_KERNEL(ftrl_update_stub, Slot::avx2, ftrl_update<Build::avx2>);
CORENN_REGISTER_KERNEL(lamb_update_stub, Slot::avx2, lamb_update<Build::avx2>);
CORENN_REGISTER_KERNEL(adafactor_update_stub, Slot::avx2, adafactor_update<Build::avx2>);
CORENN_REGISTER_KERNEL(sgd_update_stub, Slot::avx512, sgd_update<Build::avx512>);
CORENN_REGISTER_KERNEL(adam_update_stub, Slot::avx512, adam_update<Build::avx512>);
CORENN_REGISTER_KERNEL(rmsprop_update_stub, Slot::avx512, rmsprop_update<Build::avx512>);
CORENN_REGISTER_KERNEL(adagrad_update_stub, Slot::avx512, adagrad_update<Build::avx512>);
CORENN_REGISTER_KERNEL(adamax_update_stub, Slot::avx512, adamax_update<Build::avx512>);
CORENN_REGISTER_KERNEL(nadam_update_stub, Slot::avx512, nadam_update<Build::avx512>);
CORENN_REGISTER_KERNEL(lion_update_stub, Slot::avx512, lion_update<Build::avx512>);
CORENN_REGISTER_KERNEL(adadelta_update_stub, Slot::avx512, adadelta_update<Build::avx512>);
CORENN_REGISTER_KERNEL(ftrl_update_stub, Slot::avx512, ftrl_update<Build::avx512>);
CORENN_REGISTER_KERNEL(lamb_update_stub, Slot::avx512, lamb_update<Build::avx512>);
CORENN_REGISTER_KERNEL(adafactor_update_stub, Slot::avx512, adafactor_update<Build::avx512>);
#endif

}  // namespace corenn::cpu
