// The exp-heavy activations (sigmoid, tanh, gelu, swish, softplus, elu, selu, softmax,
// log_softmax) and relu / leaky_relu backward, written once over a vector-traits type V and
// instantiated by activation_avx2.cpp (every kernel here: the avx2 slots of
// activation_forward/backward_stub) and activation_avx512.cpp (sigmoid, tanh, swish forward and
// relu / leaky_relu backward; the other kinds run the avx2 kernels there). cpu/activation.cpp
// holds the scalar functors each of these must match (tests hold every one within 1e-6 relative
// of a float64 oracle, softmax within 5e-6); relu / leaky_relu backward are here because their
// NaN-keeping selects cost the baseline SSE2 loops three or four instructions per 4 floats
// (and / andn / or per select) but one blend per vector here.
//
// The last n % V::lanes elements of a span (or of a row) run through the same body under a lane
// mask (simd::for_each_block): masked loads fill zeros (or -inf where a max or a sum must not see
// the dead lanes), masked stores leave the rest of memory untouched; never a scalar loop.
// exp / sigmoid / tanh: simd/vec_math.h (method and accuracy there; they keep NaN).
// NaN (contract in activation.cpp): MAXPS / MINPS return the second operand when either is NaN,
// so every max / min that may see x takes x second (a NaN lane then stays NaN), and compares
// that mask lanes out use unordered predicates where a NaN lane must stay in.
// normal_cdf_pdf (gelu): with z = |x|/sqrt2, erf(z) = z P(z^2) for z < 0.9 and
// erfc(z) = e^(-z^2) R(1 / (1 + z/2)) above, P (degree 5) and R (degree 8) being weighted
// least-squares fits to erf(z)/z and erfc(z) e^(z^2) made for corenn (relative error < 3e-8 in
// exact arithmetic, ~2e-7 after float rounding). x^2 is split exactly (fma) into hi + lo before
// exponentiating, since a rounded x^2 alone would cost ~x^2 * 6e-8 relative accuracy in e^(-x^2/2).
#pragma once

#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "cpu/simd/loops.h"
#include "cpu/simd/vec_math.h"
#include "ops/activation.h"

namespace corenn::cpu::simd {

template <class V>
struct ActivationKernels {
  using reg = typename V::reg;

  // e^x - 1 for x <= 0: Taylor series to x^8 where |x| < 0.5 (e^x - 1 would cancel there; the
  // truncation error is < 2e-8 relative), exp(x) - 1 below.
  static reg expm1_neg(reg x) {
    reg p = V::set1(1.0f / 40320.0f);
    p = V::fmadd(p, x, V::set1(1.0f / 5040.0f));
    p = V::fmadd(p, x, V::set1(1.0f / 720.0f));
    p = V::fmadd(p, x, V::set1(1.0f / 120.0f));
    p = V::fmadd(p, x, V::set1(1.0f / 24.0f));
    p = V::fmadd(p, x, V::set1(1.0f / 6.0f));
    p = V::fmadd(p, x, V::set1(0.5f));
    const reg small = V::fmadd(V::mul(p, x), x, x);
    const reg big = V::sub(exp<V>(x), V::set1(1.0f));
    return V::select(V::template cmp<_CMP_GT_OQ>(x, V::set1(-0.5f)), small, big);
  }

  // softplus(x) = max(x, 0) + log1p(e^-|x|), with log1p(u) = 2 atanh(u / (2 + u)) for u in (0, 1]:
  // s = u / (2 + u) <= 1/3 has no cancellation and the odd series to s^15 is exact to < 1e-9.
  static reg softplus(reg x) {
    const reg u = exp<V>(V::or_(x, V::set1(-0.0f)));  // e^-|x|
    const reg s = V::div(u, V::add(u, V::set1(2.0f)));
    const reg ss = V::mul(s, s);
    reg p = V::set1(1.0f / 15.0f);
    for (float k : {13.0f, 11.0f, 9.0f, 7.0f, 5.0f, 3.0f, 1.0f}) p = V::fmadd(p, ss, V::set1(1.0f / k));
    const reg log1p = V::mul(V::add(s, s), p);
    return V::add(V::max(x, V::zero()), log1p);
  }

  template <size_t N>
  static reg horner(reg x, const float (&c)[N]) {
    reg p = V::set1(c[0]);
    for (size_t k = 1; k < N; ++k) p = V::fmadd(p, x, V::set1(c[k]));
    return p;
  }

  // Phi(x) (standard normal CDF) and phi(x) = e^(-x^2/2) / sqrt(2 pi).
  static void normal_cdf_pdf(reg x, reg& cdf, reg& pdf) {
    static constexpr float kErfSmall[] = {-6.123145288e-04f, 5.019101272e-03f, -2.678449540e-02f,
                                          1.128232783e-01f, -3.761254753e-01f, 1.128379161e+00f};
    static constexpr float kErfcLarge[] = {7.299095992e-02f, -1.591919971e-01f, -1.108962676e-02f,
                                           1.335268218e-01f, 1.446618525e-01f, 2.569223783e-01f,
                                           2.802806358e-01f, 2.822701589e-01f, -7.096698530e-06f};
    const reg half = V::set1(0.5f), one = V::set1(1.0f);
    const reg z = V::mul(V::andnot(V::set1(-0.0f), x), V::set1(0.70710678118654752f));
    const reg xx = V::mul(x, x);
    const reg xx_lo = V::fmsub(x, x, xx);
    const reg zz = V::mul(xx, half);  // z^2, up to the exact remainder xx_lo / 2
    reg e = V::mul(exp<V>(V::sub(V::zero(), zz)), V::fnmadd(xx_lo, half, one));
    e = V::zero_unless(V::template cmp<_CMP_LT_OQ>(zz, V::set1(87.0f)), e);  // underflow -> 0
    pdf = V::mul(e, V::set1(0.39894228040143268f));

    const reg half_erf = V::mul(half, V::mul(z, horner(zz, kErfSmall)));
    const reg t = V::div(one, V::fmadd(half, z, one));
    const reg half_erfc = V::mul(half, V::mul(e, horner(t, kErfcLarge)));
    const auto positive = V::template cmp<_CMP_GE_OQ>(x, V::zero());
    const reg small = V::select(positive, V::add(half, half_erf), V::sub(half, half_erf));
    const reg large = V::select(positive, V::sub(one, half_erfc), half_erfc);
    cdf = V::select(V::template cmp<_CMP_LT_OQ>(z, V::set1(0.9f)), small, large);
  }

  // f(x) for the kinds of forward_span; a template parameter, so each kind gets a loop of its own
  // (no switch per vector).
  template <Activation kAct>
  static reg apply(reg x) {
    if constexpr (kAct == Activation::sigmoid) {
      return sigmoid<V>(x);
    } else if constexpr (kAct == Activation::tanh) {
      return tanh<V>(x);
    } else if constexpr (kAct == Activation::softplus) {
      return softplus(x);
    } else if constexpr (kAct == Activation::gelu) {
      reg cdf, pdf;
      normal_cdf_pdf(x, cdf, pdf);
      return V::mul(x, cdf);
    } else {  // swish
      return V::mul(x, sigmoid<V>(x));
    }
  }

  template <Activation kAct>
  static void forward_span_of(const float* x, float* y, int64_t n) {
    for_each_block<V>(n, [&](const auto& b) { b.store(y, apply<kAct>(b.load(x))); });
  }

  // y[0:n] = f(x[0:n]) for act in {sigmoid, tanh, gelu, swish, softplus}.
  static void forward_span(Activation act, const float* x, float* y, int64_t n) {
    switch (act) {
      case Activation::sigmoid: return forward_span_of<Activation::sigmoid>(x, y, n);
      case Activation::tanh: return forward_span_of<Activation::tanh>(x, y, n);
      case Activation::softplus: return forward_span_of<Activation::softplus>(x, y, n);
      case Activation::gelu: return forward_span_of<Activation::gelu>(x, y, n);
      default: return forward_span_of<Activation::swish>(x, y, n);
    }
  }

  // y = x > 0 ? scale x : scale alpha (e^x - 1)   (elu: scale 1; selu: its two constants)
  static void elu_forward_span(const float* x, float* y, int64_t n, float alpha, float scale) {
    const reg s = V::set1(scale), sa = V::set1(scale * alpha);
    for_each_block<V>(n, [&](const auto& b) {
      const reg xv = b.load(x);
      const reg neg = V::mul(sa, expm1_neg(V::min(V::zero(), xv)));  // NaN stays
      const reg pos = V::mul(s, xv);
      b.store(y, V::select(V::template cmp<_CMP_GT_OQ>(xv, V::zero()), pos, neg));
    });
  }

  // dx = y > 0 ? dy : dy * y: where y <= 0 it is +-0 (or NaN), so the product is a signed zero
  // or NaN, and NaN in dy or y reaches dx (the contract in activation.cpp).
  static void relu_backward_span(const float* y, const float* dy, float* dx, int64_t n) {
    for_each_block<V>(n, [&](const auto& b) {
      const reg yv = b.load(y), g = b.load(dy);
      b.store(dx, V::select(V::template cmp<_CMP_GT_OQ>(yv, V::zero()), g, V::mul(g, yv)));
    });
  }

  // dx = x > 0 ? dy : dy * (x <= 0 ? alpha : x)   (x NaN: dy * NaN)
  static void leaky_relu_backward_span(const float* x, const float* dy, float* dx, int64_t n,
                                       float alpha) {
    const reg a = V::set1(alpha);
    for_each_block<V>(n, [&](const auto& b) {
      const reg xv = b.load(x), g = b.load(dy);
      const reg slope = V::select(V::template cmp<_CMP_LE_OQ>(xv, V::zero()), a, xv);  // NaN: x
      b.store(dx, V::select(V::template cmp<_CMP_GT_OQ>(xv, V::zero()), g, V::mul(g, slope)));
    });
  }

  // f'(x) for the kinds of backward_span.
  template <Activation kAct>
  static reg derivative(reg x) {
    if constexpr (kAct == Activation::gelu) {
      reg cdf, pdf;
      normal_cdf_pdf(x, cdf, pdf);
      return V::fmadd(x, pdf, cdf);
    } else if constexpr (kAct == Activation::softplus) {
      return sigmoid<V>(x);
    } else {  // swish: s + x s (1 - s)
      const reg s = sigmoid<V>(x);
      return V::fmadd(V::mul(x, s), V::sub(V::set1(1.0f), s), s);
    }
  }

  template <Activation kAct>
  static void backward_span_of(const float* x, const float* dy, float* dx, int64_t n) {
    for_each_block<V>(n, [&](const auto& b) {
      b.store(dx, V::mul(b.load(dy), derivative<kAct>(b.load(x))));
    });
  }

  // dx = dy * f'(x) for act in {gelu, softplus, swish} (the kinds whose derivative needs x).
  static void backward_span(Activation act, const float* x, const float* dy, float* dx, int64_t n) {
    switch (act) {
      case Activation::gelu: return backward_span_of<Activation::gelu>(x, dy, dx, n);
      case Activation::softplus: return backward_span_of<Activation::softplus>(x, dy, dx, n);
      default: return backward_span_of<Activation::swish>(x, dy, dx, n);
    }
  }

  // Rows [lo, hi) of a (rows, cols) softmax / log_softmax over the last axis.
  static void softmax_rows(const float* x, float* y, int64_t lo, int64_t hi, int64_t cols, bool log) {
    const reg ninf = V::set1(-INFINITY);
    for (int64_t r = lo; r < hi; ++r) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      reg mv = ninf;
      for_each_block<V>(cols, [&](const auto& b) { mv = V::max(mv, b.load(xr, ninf)); });
      const reg m = V::set1(V::hmax(mv));
      reg sv = V::zero();
      for_each_block<V>(cols, [&](const auto& b) {
        // a tail's dead lanes read -inf: exp clamps them to ~1e-38, so mask them out of the sum
        // (NEQ_UQ: a NaN lane stays in, and makes the row NaN)
        const reg xv = b.load(xr, ninf);
        reg e = exp<V>(V::sub(xv, m));
        if constexpr (std::decay_t<decltype(b)>::tail) {
          e = V::zero_unless(V::template cmp<_CMP_NEQ_UQ>(xv, ninf), e);
        }
        sv = V::add(sv, e);
        if (!log) b.store(yr, e);
      });
      const float sum = V::hsum(sv);
      if (log) {
        const reg shift = V::add(m, V::set1(std::log(sum)));
        for_each_block<V>(cols, [&](const auto& b) { b.store(yr, V::sub(b.load(xr), shift)); });
      } else {
        const reg inv = V::set1(1.0f / sum);
        for_each_block<V>(cols, [&](const auto& b) { b.store(yr, V::mul(b.load(yr), inv)); });
      }
    }
  }

  // dx = y * (dy - sum(dy * y)) per row.
  static void softmax_backward_rows(const float* y, const float* dy, float* dx, int64_t lo,
                                    int64_t hi, int64_t cols) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* yr = y + r * cols;
      const float* gr = dy + r * cols;
      float* dr = dx + r * cols;
      reg sv = V::zero();
      for_each_block<V>(cols, [&](const auto& b) { sv = V::fmadd(b.load(gr), b.load(yr), sv); });
      const reg s = V::set1(V::hsum(sv));
      for_each_block<V>(cols, [&](const auto& b) {
        b.store(dr, V::mul(b.load(yr), V::sub(b.load(gr), s)));
      });
    }
  }

  // dx = dy - exp(y) * sum(dy) per row.
  static void log_softmax_backward_rows(const float* y, const float* dy, float* dx, int64_t lo,
                                        int64_t hi, int64_t cols) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* yr = y + r * cols;
      const float* gr = dy + r * cols;
      float* dr = dx + r * cols;
      reg sv = V::zero();
      for_each_block<V>(cols, [&](const auto& b) { sv = V::add(sv, b.load(gr)); });
      const reg s = V::set1(V::hsum(sv));
      for_each_block<V>(cols, [&](const auto& b) {
        b.store(dr, V::fnmadd(exp<V>(b.load(yr)), s, b.load(gr)));
      });
    }
  }
};

}  // namespace corenn::cpu::simd
