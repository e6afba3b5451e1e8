// AVX-512 kernels for the activations whose cost is exp per element (sigmoid, tanh, swish) and for
// relu / leaky_relu backward: the avx512 slots of activation_forward_stub and
// activation_backward_stub. The other kinds (gelu, softplus, elu, selu, softmax, ...) run their
// AVX2 kernel (activation_avx2.cpp), the cheap forwards the reference loops.
//
// Compiled with -mavx512f/vl/bw/dq (the file name carries _avx512). 16 floats per vector; the
// last n % 16 go through the same code with a lane mask (masked load with zero fill, masked
// store), never a scalar loop and never touching memory past the span.
//
// exp16 / sigmoid16 / tanh16 are exp8 / sigmoid8 / tanh8 of cpu/vec_math_avx2.h on 16 lanes:
// same reduction, same polynomials, same clamps, so the same accuracy (~2 ulp) and the same NaN
// behaviour (MAXPS / MINPS return their second operand when either is NaN, so x goes second and
// a NaN lane stays NaN). activation.cpp holds the reference each of these must match; the tests
// run them against tests/reference.py under CORENN_ISA=avx512 / set_isa('avx512').
#include <immintrin.h>

#include <cstdint>

#include "core/parallel.h"
#include "ops/activation.h"

namespace corenn::cpu::avx512 {

namespace {

inline __m512 exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_set1_ps(88.7f), _mm512_max_ps(_mm512_set1_ps(-87.3f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9750498402e-04f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3933204496e-03f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3335209884e-03f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1666470237e-02f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666666056e-01f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000000127e-01f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __m512i e =
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

inline __m512 sigmoid16(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

inline __m512 tanh16(__m512 x) {
  const __m512 sign = _mm512_set1_ps(-0.0f);
  const __m512 ax = _mm512_andnot_ps(sign, x);
  const __m512 one = _mm512_set1_ps(1.0f);
  // large |x|: 1 - 2 / (e^(2|x|) + 1), sign restored afterwards
  const __m512 e = exp16(_mm512_add_ps(ax, ax));
  __m512 big = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
  big = _mm512_or_ps(big, _mm512_and_ps(sign, x));
  // small |x|: x + x z P(z), z = x^2
  const __m512 z = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(-6.0913367111e-03f);
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(2.0992938210e-02f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-5.3849858306e-02f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(1.3332761289e-01f));
  p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-3.3333328832e-01f));
  const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
  const __mmask16 is_small = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ);
  return _mm512_mask_blend_ps(is_small, big, small);
}

// f(i, mask) for every 16-lane block of [0, n); the last block's mask covers the n % 16 tail.
template <class F>
inline void for_each16(int64_t n, const F& f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) f(i, static_cast<__mmask16>(0xFFFF));
  if (i < n) f(i, static_cast<__mmask16>((1u << (n - i)) - 1u));
}

inline __m512 load(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline void store(float* p, __m512 v, __mmask16 m) { _mm512_mask_storeu_ps(p, m, v); }

void forward_span(Activation act, const float* x, float* y, int64_t n) {
  switch (act) {
    case Activation::sigmoid:
      return for_each16(n, [&](int64_t i, __mmask16 m) { store(y + i, sigmoid16(load(x + i, m)), m); });
    case Activation::tanh:
      return for_each16(n, [&](int64_t i, __mmask16 m) { store(y + i, tanh16(load(x + i, m)), m); });
    default:  // swish
      return for_each16(n, [&](int64_t i, __mmask16 m) {
        const __m512 v = load(x + i, m);
        store(y + i, _mm512_mul_ps(v, sigmoid16(v)), m);
      });
  }
}

// dx = y > 0 ? dy : dy * y: where y <= 0 it is +-0 (or NaN), so the product is a signed zero or
// NaN, and NaN in dy or y reaches dx (the contract in activation.cpp).
void relu_backward_span(const float* y, const float* dy, float* dx, int64_t n) {
  for_each16(n, [&](int64_t i, __mmask16 m) {
    const __m512 yv = load(y + i, m), g = load(dy + i, m);
    const __mmask16 pos = _mm512_cmp_ps_mask(yv, _mm512_setzero_ps(), _CMP_GT_OQ);
    store(dx + i, _mm512_mask_blend_ps(pos, _mm512_mul_ps(g, yv), g), m);
  });
}

// dx = x > 0 ? dy : dy * (x <= 0 ? alpha : x)   (x NaN: dy * NaN)
void leaky_relu_backward_span(const float* x, const float* dy, float* dx, int64_t n, float alpha) {
  const __m512 a = _mm512_set1_ps(alpha);
  for_each16(n, [&](int64_t i, __mmask16 m) {
    const __m512 xv = load(x + i, m), g = load(dy + i, m);
    const __mmask16 pos = _mm512_cmp_ps_mask(xv, _mm512_setzero_ps(), _CMP_GT_OQ);
    const __mmask16 le = _mm512_cmp_ps_mask(xv, _mm512_setzero_ps(), _CMP_LE_OQ);
    const __m512 slope = _mm512_mask_blend_ps(le, xv, a);  // alpha, or x itself when NaN
    store(dx + i, _mm512_mask_blend_ps(pos, _mm512_mul_ps(g, slope), g), m);
  });
}

// The avx2 kernels these fall back to for the kinds this file leaves alone.
ActivationForwardFn avx2_forward() { return activation_forward_stub.at(Slot::avx2); }
ActivationBackwardFn avx2_backward() { return activation_backward_stub.at(Slot::avx2); }

void forward(Activation act, const Tensor& xt, const Tensor& yt, float alpha) {
  if (act != Activation::sigmoid && act != Activation::tanh && act != Activation::swish) {
    const ActivationForwardFn lower = avx2_forward();
    if (lower) return lower(act, xt, yt, alpha);
    return cpu::activation_forward(act, xt.data<float>(), yt.data<float>(), xt.rows(), xt.cols(),
                                   alpha);
  }
  const float* x = xt.data<float>();
  float* y = yt.data<float>();
  parallel_for(0, xt.numel(), kExpGrain, [&](int64_t lo, int64_t hi) {
    forward_span(act, x + lo, y + lo, hi - lo);
  });
}

void backward(Activation act, const Tensor& xt, const Tensor& yt, const Tensor& dyt,
              const Tensor& dxt, float alpha) {
  const float* dy = dyt.data<float>();
  float* dx = dxt.data<float>();
  if (act == Activation::relu) {
    const float* y = yt.data<float>();
    return parallel_for(0, dyt.numel(), kCheapGrain, [&](int64_t lo, int64_t hi) {
      relu_backward_span(y + lo, dy + lo, dx + lo, hi - lo);
    });
  }
  if (act == Activation::leaky_relu) {
    const float* x = xt.data<float>();
    return parallel_for(0, dyt.numel(), kCheapGrain, [&](int64_t lo, int64_t hi) {
      leaky_relu_backward_span(x + lo, dy + lo, dx + lo, hi - lo, alpha);
    });
  }
  const ActivationBackwardFn lower = avx2_backward();
  if (lower) return lower(act, xt, yt, dyt, dxt, alpha);
  cpu::activation_backward(act, xt.data<float>(), yt.data<float>(), dy, dx, dyt.rows(), dyt.cols(),
                           alpha);
}

}  // namespace

CORENN_REGISTER_KERNEL(activation_forward_stub, Slot::avx512, forward);
CORENN_REGISTER_KERNEL(activation_backward_stub, Slot::avx512, backward);

}  // namespace corenn::cpu::avx512
