// AVX-512 kernels for the activations whose cost is exp per element (sigmoid, tanh, swish) and for
// relu / leaky_relu backward: the avx512 slots of activation_forward_stub and
// activation_backward_stub. The other kinds (gelu, softplus, elu, selu, softmax, ...) run their
// AVX2 kernel (activation_avx2.cpp), the cheap forwards the reference loops.
//
// Compiled with -mavx512f/vl/bw/dq (the file name carries _avx512). 16 floats per vector; the
// last n % 16 go through the same code with a lane mask (masked load with zero fill, masked
// store), never a scalar loop and never touching memory past the span.
//
// exp16 / sigmoid16 / tanh16 and the tail helpers live in cpu/vec_math_avx512.h (shared with the
// RNN cells and the attention rows). activation.cpp holds the reference each of these must
// match; the tests run them against tests/reference.py under CORENN_ISA=avx512 / set_isa('avx512').
#include <immintrin.h>

#include <cstdint>

#include "core/parallel.h"
#include "cpu/vec_math_avx512.h"
#include "ops/activation.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx512 {

namespace {

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

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const ActivationForwardFn kActivationForward = forward;
extern const ActivationBackwardFn kActivationBackward = backward;

}  // namespace corenn::cpu::avx512
