// AVX2/FMA kernels for the activations that spend their time in exp / erf / log1p (sigmoid,
// tanh, gelu, swish, softplus, elu, selu, softmax, log_softmax), and relu / leaky_relu backward,
// whose NaN-keeping selects (activation.cpp) cost the baseline SSE2 loops three or four more
// instructions per 4 floats (and/andn/or per select) but a VBLENDVPS per 8 here. Compiled with
// -mavx2 -mfma;
// dispatched from activation.cpp, whose scalar functors are the reference these must match
// (tests hold every one within 1e-6 relative of a float64 oracle, softmax within 5e-6).
//
// exp8 / sigmoid8 / tanh8: cpu/vec_math_avx2.h (method and accuracy there; they keep NaN).
// NaN (contract in activation.cpp): MAXPS / MINPS return the second operand when either is NaN,
// so every max / min that may see x takes x second (a NaN lane then stays NaN), and compares
// that mask lanes out use unordered predicates where a NaN lane must stay in.
// normal_cdf_pdf8 (gelu): with z = |x|/sqrt2, erf(z) = z P(z^2) for z < 0.9 and
// erfc(z) = e^(-z^2) R(1 / (1 + z/2)) above, P (degree 5) and R (degree 8) being weighted
// least-squares fits to erf(z)/z and erfc(z) e^(z^2) made for corenn (relative error < 3e-8 in
// exact arithmetic, ~2e-7 after float rounding). x^2 is split exactly (fma) into hi + lo before
// exponentiating, since a rounded x^2 alone would cost ~x^2 * 6e-8 relative accuracy in e^(-x^2/2).
#include <immintrin.h>

#include <cmath>

#include "core/parallel.h"
#include "cpu/activation_avx2.h"
#include "cpu/vec_math_avx2.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx2 {

namespace {

// e^x - 1 for x <= 0: Taylor series to x^8 where |x| < 0.5 (e^x - 1 would cancel there; the
// truncation error is < 2e-8 relative), exp8(x) - 1 below.
inline __m256 expm1_neg8(__m256 x) {
  __m256 p = _mm256_set1_ps(1.0f / 40320.0f);
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.0f / 5040.0f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(0.5f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, x), x, x);
  const __m256 big = _mm256_sub_ps(exp8(x), _mm256_set1_ps(1.0f));
  return _mm256_blendv_ps(big, small, _mm256_cmp_ps(x, _mm256_set1_ps(-0.5f), _CMP_GT_OQ));
}

// softplus(x) = max(x, 0) + log1p(e^-|x|), with log1p(u) = 2 atanh(u / (2 + u)) for u in (0, 1]:
// s = u / (2 + u) <= 1/3 has no cancellation and the odd series to s^15 is exact to < 1e-9.
inline __m256 softplus8(__m256 x) {
  const __m256 u = exp8(_mm256_or_ps(x, _mm256_set1_ps(-0.0f)));  // e^-|x|
  const __m256 s = _mm256_div_ps(u, _mm256_add_ps(u, _mm256_set1_ps(2.0f)));
  const __m256 ss = _mm256_mul_ps(s, s);
  __m256 p = _mm256_set1_ps(1.0f / 15.0f);
  for (float k : {13.0f, 11.0f, 9.0f, 7.0f, 5.0f, 3.0f, 1.0f}) p = _mm256_fmadd_ps(p, ss, _mm256_set1_ps(1.0f / k));
  const __m256 log1p = _mm256_mul_ps(_mm256_add_ps(s, s), p);
  return _mm256_add_ps(_mm256_max_ps(x, _mm256_setzero_ps()), log1p);
}

template <size_t N>
inline __m256 horner8(__m256 x, const float (&c)[N]) {
  __m256 p = _mm256_set1_ps(c[0]);
  for (size_t k = 1; k < N; ++k) p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(c[k]));
  return p;
}

// Phi(x) (standard normal CDF) and phi(x) = e^(-x^2/2) / sqrt(2 pi).
inline void normal_cdf_pdf8(__m256 x, __m256& cdf, __m256& pdf) {
  static constexpr float kErfSmall[] = {-6.123145288e-04f, 5.019101272e-03f, -2.678449540e-02f,
                                        1.128232783e-01f, -3.761254753e-01f, 1.128379161e+00f};
  static constexpr float kErfcLarge[] = {7.299095992e-02f, -1.591919971e-01f, -1.108962676e-02f,
                                         1.335268218e-01f, 1.446618525e-01f, 2.569223783e-01f,
                                         2.802806358e-01f, 2.822701589e-01f, -7.096698530e-06f};
  const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  const __m256 z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x),
                                 _mm256_set1_ps(0.70710678118654752f));
  const __m256 xx = _mm256_mul_ps(x, x);
  const __m256 xx_lo = _mm256_fmsub_ps(x, x, xx);
  const __m256 zz = _mm256_mul_ps(xx, half);  // z^2, up to the exact remainder xx_lo / 2
  __m256 e = _mm256_mul_ps(exp8(_mm256_sub_ps(_mm256_setzero_ps(), zz)),
                           _mm256_fnmadd_ps(xx_lo, half, one));
  e = _mm256_and_ps(e, _mm256_cmp_ps(zz, _mm256_set1_ps(87.0f), _CMP_LT_OQ));  // underflow -> 0
  pdf = _mm256_mul_ps(e, _mm256_set1_ps(0.39894228040143268f));

  const __m256 half_erf = _mm256_mul_ps(half, _mm256_mul_ps(z, horner8(zz, kErfSmall)));
  const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(half, z, one));
  const __m256 half_erfc = _mm256_mul_ps(half, _mm256_mul_ps(e, horner8(t, kErfcLarge)));
  const __m256 positive = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
  const __m256 small = _mm256_blendv_ps(_mm256_sub_ps(half, half_erf), _mm256_add_ps(half, half_erf), positive);
  const __m256 large = _mm256_blendv_ps(half_erfc, _mm256_sub_ps(one, half_erfc), positive);
  cdf = _mm256_blendv_ps(large, small, _mm256_cmp_ps(z, _mm256_set1_ps(0.9f), _CMP_LT_OQ));
}

inline __m256 apply8(Activation act, __m256 x) {
  switch (act) {
    case Activation::sigmoid: return sigmoid8(x);
    case Activation::tanh: return tanh8(x);
    case Activation::softplus: return softplus8(x);
    case Activation::gelu: {
      __m256 cdf, pdf;
      normal_cdf_pdf8(x, cdf, pdf);
      return _mm256_mul_ps(x, cdf);
    }
    default: return _mm256_mul_ps(x, sigmoid8(x));  // swish
  }
}

// The tail of a span goes through a zero-padded 8-lane buffer: one code path, same rounding.
template <class F>
inline void for_each8(int64_t n, const F& f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) f(i, 8);
  if (i < n) f(i, n - i);
}

inline __m256 load_partial(const float* p, int64_t k, float fill) {
  alignas(32) float buf[8];
  for (int j = 0; j < 8; ++j) buf[j] = j < k ? p[j] : fill;
  return _mm256_load_ps(buf);
}

inline void store_partial(float* p, __m256 v, int64_t k) {
  alignas(32) float buf[8];
  _mm256_store_ps(buf, v);
  for (int64_t j = 0; j < k; ++j) p[j] = buf[j];
}

inline __m256 load(const float* p, int64_t k, float fill = 0.0f) {
  return k == 8 ? _mm256_loadu_ps(p) : load_partial(p, k, fill);
}
inline void store(float* p, __m256 v, int64_t k) {
  if (k == 8) _mm256_storeu_ps(p, v);
  else store_partial(p, v, k);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace

void activation_forward_span(Activation act, const float* x, float* y, int64_t n) {
  for_each8(n, [&](int64_t i, int64_t k) { store(y + i, apply8(act, load(x + i, k)), k); });
}

void elu_forward_span(const float* x, float* y, int64_t n, float alpha, float scale) {
  const __m256 s = _mm256_set1_ps(scale), sa = _mm256_set1_ps(scale * alpha);
  const __m256 zero = _mm256_setzero_ps();
  for_each8(n, [&](int64_t i, int64_t k) {
    const __m256 xv = load(x + i, k);
    const __m256 neg = _mm256_mul_ps(sa, expm1_neg8(_mm256_min_ps(zero, xv)));  // NaN stays
    const __m256 pos = _mm256_mul_ps(s, xv);
    store(y + i, _mm256_blendv_ps(neg, pos, _mm256_cmp_ps(xv, zero, _CMP_GT_OQ)), k);
  });
}

void softmax_backward_rows(const float* y, const float* dy, float* dx, int64_t lo, int64_t hi,
                           int64_t cols) {
  for (int64_t r = lo; r < hi; ++r) {
    const float* yr = y + r * cols;
    const float* gr = dy + r * cols;
    float* dr = dx + r * cols;
    __m256 sv = _mm256_setzero_ps();
    for_each8(cols, [&](int64_t i, int64_t k) { sv = _mm256_fmadd_ps(load(gr + i, k), load(yr + i, k), sv); });
    const __m256 s = _mm256_set1_ps(hsum(sv));
    for_each8(cols, [&](int64_t i, int64_t k) {
      store(dr + i, _mm256_mul_ps(load(yr + i, k), _mm256_sub_ps(load(gr + i, k), s)), k);
    });
  }
}

void relu_backward_span(const float* y, const float* dy, float* dx, int64_t n) {
  const __m256 zero = _mm256_setzero_ps();
  for_each8(n, [&](int64_t i, int64_t k) {
    const __m256 yv = load(y + i, k), g = load(dy + i, k);
    const __m256 alive = _mm256_cmp_ps(yv, zero, _CMP_GT_OQ);
    store(dx + i, _mm256_blendv_ps(_mm256_mul_ps(g, yv), g, alive), k);
  });
}

void leaky_relu_backward_span(const float* x, const float* dy, float* dx, int64_t n, float alpha) {
  const __m256 zero = _mm256_setzero_ps(), a = _mm256_set1_ps(alpha);
  for_each8(n, [&](int64_t i, int64_t k) {
    const __m256 xv = load(x + i, k), g = load(dy + i, k);
    const __m256 slope = _mm256_blendv_ps(xv, a, _mm256_cmp_ps(xv, zero, _CMP_LE_OQ));  // NaN: x
    const __m256 neg = _mm256_mul_ps(g, slope);
    store(dx + i, _mm256_blendv_ps(neg, g, _mm256_cmp_ps(xv, zero, _CMP_GT_OQ)), k);
  });
}

void activation_backward_span(Activation act, const float* x, const float* dy, float* dx, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  for_each8(n, [&](int64_t i, int64_t k) {
    const __m256 xv = load(x + i, k);
    __m256 d;  // f'(x)
    if (act == Activation::gelu) {
      __m256 cdf, pdf;
      normal_cdf_pdf8(xv, cdf, pdf);
      d = _mm256_fmadd_ps(xv, pdf, cdf);
    } else if (act == Activation::softplus) {
      d = sigmoid8(xv);
    } else {  // swish: s + x s (1 - s)
      const __m256 s = sigmoid8(xv);
      d = _mm256_fmadd_ps(_mm256_mul_ps(xv, s), _mm256_sub_ps(one, s), s);
    }
    store(dx + i, _mm256_mul_ps(load(dy + i, k), d), k);
  });
}

void softmax_rows(const float* x, float* y, int64_t lo, int64_t hi, int64_t cols, bool log) {
  for (int64_t r = lo; r < hi; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    __m256 mv = _mm256_set1_ps(-INFINITY);
    for_each8(cols, [&](int64_t i, int64_t k) { mv = _mm256_max_ps(mv, load(xr + i, k, -INFINITY)); });
    const __m256 m = _mm256_set1_ps(hmax(mv));
    __m256 sv = _mm256_setzero_ps();
    for_each8(cols, [&](int64_t i, int64_t k) {
      // padded lanes load -inf: exp8 clamps them to ~1e-38, so mask them out of the sum (NEQ_UQ:
      // a NaN lane stays in, and makes the row NaN)
      __m256 e = exp8(_mm256_sub_ps(load(xr + i, k, -INFINITY), m));
      if (k < 8) e = _mm256_and_ps(e, _mm256_cmp_ps(load(xr + i, k, -INFINITY), _mm256_set1_ps(-INFINITY), _CMP_NEQ_UQ));
      sv = _mm256_add_ps(sv, e);
      if (!log) store(yr + i, e, k);
    });
    const float sum = hsum(sv);
    if (log) {
      const __m256 shift = _mm256_add_ps(m, _mm256_set1_ps(std::log(sum)));
      for_each8(cols, [&](int64_t i, int64_t k) { store(yr + i, _mm256_sub_ps(load(xr + i, k), shift), k); });
    } else {
      const __m256 inv = _mm256_set1_ps(1.0f / sum);
      for_each8(cols, [&](int64_t i, int64_t k) { store(yr + i, _mm256_mul_ps(load(yr + i, k), inv), k); });
    }
  }
}

void log_softmax_backward_rows(const float* y, const float* dy, float* dx, int64_t lo, int64_t hi,
                               int64_t cols) {
  for (int64_t r = lo; r < hi; ++r) {
    const float* yr = y + r * cols;
    const float* gr = dy + r * cols;
    float* dr = dx + r * cols;
    __m256 sv = _mm256_setzero_ps();
    for_each8(cols, [&](int64_t i, int64_t k) { sv = _mm256_add_ps(sv, load(gr + i, k)); });
    const __m256 s = _mm256_set1_ps(hsum(sv));
    for_each8(cols, [&](int64_t i, int64_t k) {
      store(dr + i, _mm256_fnmadd_ps(exp8(load(yr + i, k)), s, load(gr + i, k)), k);
    });
  }
}

}  // namespace corenn::cpu::avx2

// ---- entries: the avx2 slots of activation_forward_stub / activation_backward_stub ----------------
// The kinds above run here; the cheap ones whose SSE2 loops are already memory-bound (linear,
// relu / leaky_relu forward, elu / selu / sigmoid / tanh backward) run the reference kernel.

namespace corenn::cpu::avx2 {

namespace {

void forward(Activation act, const Tensor& xt, const Tensor& yt, float alpha) {
  const float* x = xt.data<float>();
  float* y = yt.data<float>();
  const int64_t rows = xt.rows(), cols = xt.cols(), n = rows * cols;
  switch (act) {
    case Activation::elu:
    case Activation::selu: {
      const bool selu = act == Activation::selu;
      return parallel_for(0, n, kExpGrain, [&](int64_t lo, int64_t hi) {
        elu_forward_span(x + lo, y + lo, hi - lo, selu ? kSeluAlpha : alpha,
                         selu ? kSeluScale : 1.0f);
      });
    }
    case Activation::softplus:
    case Activation::sigmoid:
    case Activation::tanh:
    case Activation::gelu:
    case Activation::swish:
      return parallel_for(0, n, kExpGrain, [&](int64_t lo, int64_t hi) {
        activation_forward_span(act, x + lo, y + lo, hi - lo);
      });
    case Activation::softmax:
    case Activation::log_softmax: {
      const bool log = act == Activation::log_softmax;
      return parallel_for(0, rows, row_grain(cols), [&](int64_t lo, int64_t hi) {
        softmax_rows(x, y, lo, hi, cols, log);
      });
    }
    default: return cpu::activation_forward(act, x, y, rows, cols, alpha);
  }
}

void backward(Activation act, const Tensor& xt, const Tensor& yt, const Tensor& dyt,
              const Tensor& dxt, float alpha) {
  const float* x = xt.data<float>();
  const float* y = yt.data<float>();
  const float* dy = dyt.data<float>();
  float* dx = dxt.data<float>();
  const int64_t rows = dyt.rows(), cols = dyt.cols(), n = rows * cols;
  switch (act) {
    case Activation::relu:
      return parallel_for(0, n, kCheapGrain, [&](int64_t lo, int64_t hi) {
        relu_backward_span(y + lo, dy + lo, dx + lo, hi - lo);
      });
    case Activation::leaky_relu:
      return parallel_for(0, n, kCheapGrain, [&](int64_t lo, int64_t hi) {
        leaky_relu_backward_span(x + lo, dy + lo, dx + lo, hi - lo, alpha);
      });
    case Activation::gelu:
    case Activation::softplus:
    case Activation::swish:
      return parallel_for(0, n, kExpGrain, [&](int64_t lo, int64_t hi) {
        activation_backward_span(act, x + lo, dy + lo, dx + lo, hi - lo);
      });
    case Activation::softmax:
    case Activation::log_softmax: {
      const bool log = act == Activation::log_softmax;
      return parallel_for(0, rows, row_grain(cols), [&](int64_t lo, int64_t hi) {
        if (log) return log_softmax_backward_rows(y, dy, dx, lo, hi, cols);
        softmax_backward_rows(y, dy, dx, lo, hi, cols);
      });
    }
    default: return cpu::activation_backward(act, x, y, dy, dx, rows, cols, alpha);
  }
}

}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const ActivationForwardFn kActivationForward = forward;
extern const ActivationBackwardFn kActivationBackward = backward;

}  // namespace corenn::cpu::avx2
