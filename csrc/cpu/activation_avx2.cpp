// The avx2 slots of activation_forward_stub / activation_backward_stub: the kernels of
// cpu/simd/activation.h (the math, its accuracy and NaN behaviour are documented there) on 8
// floats per step, the last n % 8 of a span or row under vmaskmovps. Compiled with -mavx2 -mfma.
#include "core/parallel.h"
#include "cpu/simd/activation.h"
#include "cpu/simd/f32_avx2.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx2 {
using Kernels = simd::ActivationKernels<F32>;
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
        Kernels::elu_forward_span(x + lo, y + lo, hi - lo, selu ? kSeluAlpha : alpha,
                         selu ? kSeluScale : 1.0f);
      });
    }
    case Activation::softplus:
    case Activation::sigmoid:
    case Activation::tanh:
    case Activation::gelu:
    case Activation::swish:
      return parallel_for(0, n, kExpGrain, [&](int64_t lo, int64_t hi) {
        Kernels::forward_span(act, x + lo, y + lo, hi - lo);
      });
    case Activation::softmax:
    case Activation::log_softmax: {
      const bool log = act == Activation::log_softmax;
      return parallel_for(0, rows, row_grain(cols), [&](int64_t lo, int64_t hi) {
        Kernels::softmax_rows(x, y, lo, hi, cols, log);
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
        Kernels::relu_backward_span(y + lo, dy + lo, dx + lo, hi - lo);
      });
    case Activation::leaky_relu:
      return parallel_for(0, n, kCheapGrain, [&](int64_t lo, int64_t hi) {
        Kernels::leaky_relu_backward_span(x + lo, dy + lo, dx + lo, hi - lo, alpha);
      });
    case Activation::gelu:
    case Activation::softplus:
    case Activation::swish:
      return parallel_for(0, n, kExpGrain, [&](int64_t lo, int64_t hi) {
        Kernels::backward_span(act, x + lo, dy + lo, dx + lo, hi - lo);
      });
    case Activation::softmax:
    case Activation::log_softmax: {
      const bool log = act == Activation::log_softmax;
      return parallel_for(0, rows, row_grain(cols), [&](int64_t lo, int64_t hi) {
        if (log) return Kernels::log_softmax_backward_rows(y, dy, dx, lo, hi, cols);
        Kernels::softmax_backward_rows(y, dy, dx, lo, hi, cols);
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
