// The avx512 slots of activation_forward_stub and activation_backward_stub: the kernels of
// cpu/simd/activation.h whose cost is exp per element (sigmoid, tanh, swish) and relu /
// leaky_relu backward, on 16 floats per step, the last n % 16 under a __mmask16. The other kinds
// (gelu, softplus, elu, selu, softmax, ...) run their AVX2 kernel (activation_avx2.cpp), the
// cheap forwards the reference loops. Compiled with -mavx512f/vl/bw/dq; activation.cpp holds the
// reference each must match, and the tests run them against tests/reference.py under
// CORENN_ISA=avx512 / set_isa('avx512').
#include <immintrin.h>

#include <cstdint>

#include "core/parallel.h"
#include "cpu/simd/activation.h"
#include "cpu/simd/f32_avx512.h"
#include "ops/activation.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx512 {

namespace {

using Kernels = simd::ActivationKernels<F32>;

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
    Kernels::forward_span(act, x + lo, y + lo, hi - lo);
  });
}

void backward(Activation act, const Tensor& xt, const Tensor& yt, const Tensor& dyt,
              const Tensor& dxt, float alpha) {
  const float* dy = dyt.data<float>();
  float* dx = dxt.data<float>();
  if (act == Activation::relu) {
    const float* y = yt.data<float>();
    return parallel_for(0, dyt.numel(), kCheapGrain, [&](int64_t lo, int64_t hi) {
      Kernels::relu_backward_span(y + lo, dy + lo, dx + lo, hi - lo);
    });
  }
  if (act == Activation::leaky_relu) {
    const float* x = xt.data<float>();
    return parallel_for(0, dyt.numel(), kCheapGrain, [&](int64_t lo, int64_t hi) {
      Kernels::leaky_relu_backward_span(x + lo, dy + lo, dx + lo, hi - lo, alpha);
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
