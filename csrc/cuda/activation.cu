// Activation kernels (CUDA), forward and backward; the same math as cpu/activation.cpp:
//
//   linear      y = x                                  dx = dy
//   relu        y = max(x, 0)                          dx = dy * [y > 0]
//   leaky_relu  y = x > 0 ? x : alpha x                dx = dy * (x > 0 ? 1 : alpha)
//   elu         y = x > 0 ? x : alpha (e^x - 1)        dx = dy * (y > 0 ? 1 : y + alpha)
//   selu        y = s * elu_a(x)                       dx = dy * (y > 0 ? s : y + s a)
//   sigmoid     y = 1 / (1 + e^-x)                     dx = dy * y (1 - y)
//   tanh        y = tanh x                             dx = dy * (1 - y^2)
//   gelu        y = x Phi(x)                           dx = dy * (Phi(x) + x phi(x))
//   swish       y = x sigmoid(x)                       dx = dy * (s + x s (1 - s))
//   softplus    y = max(x,0) + log1p(e^-|x|)           dx = dy * sigmoid(x)
//   relu6, hard_sigmoid, hard_silu, mish, softsign, log_sigmoid, hard_tanh, celu, exponential,
//   tanh_shrink, soft_shrink, hard_shrink, squareplus, sparse_plus: as cpu/activation.cpp
//   softmax     y_j = e^(x_j - m) / sum_k e^(x_k - m)  dx = y * (dy - sum_k dy_k y_k)
//   log_softmax y_j = x_j - m - log sum_k e^(x_k - m)  dx = dy - e^y * sum_k dy_k
//
// Shapes: (rows, cols) contiguous. Elementwise kinds: one grid-stride kernel per kind (a functor
// template, so no switch per element). softmax / log_softmax: one block per row, block-wide max
// and sum reductions (fine for cols up to a few thousand; very long rows would want a two-pass
// multi-block variant). y may alias x and dx may alias dy: every element is read before written.
#include "cuda/activation.h"
#include "cuda/common.cuh"

namespace corenn::cuda {

namespace {

constexpr float kSeluAlpha = 1.67326324f;
constexpr float kSeluScale = 1.05070098f;

__device__ inline float sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  const float e = expf(x);
  return e / (1.0f + e);
}

struct Linear {
  __device__ static float f(float x, float) { return x; }
  __device__ static float df(float, float, float dy, float) { return dy; }
};
// NaN and inf as the CPU kernels (contract in cpu/activation.cpp): f(NaN) = NaN, and backward is
// dy * f'(x) as a product, so a NaN dy at a dead relu unit and f'(NaN) give NaN. Not fmaxf for
// relu: fmaxf(NaN, 0) = 0.
struct Relu {
  __device__ static float f(float x, float) { return x < 0.0f ? 0.0f : x; }
  __device__ static float df(float, float y, float dy, float) { return y > 0.0f ? dy : dy * y; }
};
struct Relu6 {
  __device__ static float f(float x, float a) { return x < 0.0f ? 0.0f : (x > a ? a : x); }
  __device__ static float df(float, float y, float dy, float a) {
    return (y > 0.0f && y < a) ? dy : dy * (y - y);
  }
};
struct LeakyRelu {
  __device__ static float f(float x, float a) { return x > 0.0f ? x : a * x; }
  __device__ static float df(float x, float, float dy, float a) {
    return x > 0.0f ? dy : dy * (x <= 0.0f ? a : x);
  }
};
struct Elu {
  __device__ static float f(float x, float a) { return x > 0.0f ? x : a * expm1f(x); }
  __device__ static float df(float, float y, float dy, float a) { return y > 0.0f ? dy : dy * (y + a); }
};
struct Selu {
  __device__ static float f(float x, float) {
    return kSeluScale * (x > 0.0f ? x : kSeluAlpha * expm1f(x));
  }
  __device__ static float df(float, float y, float dy, float) {
    return y > 0.0f ? dy * kSeluScale : dy * (y + kSeluScale * kSeluAlpha);
  }
};
struct Sigmoid {
  __device__ static float f(float x, float) { return sigmoid(x); }
  __device__ static float df(float, float y, float dy, float) { return dy * y * (1.0f - y); }
};
struct Tanh {
  __device__ static float f(float x, float) { return tanhf(x); }
  __device__ static float df(float, float y, float dy, float) { return dy * (1.0f - y * y); }
};
struct Gelu {  // erfc in double, as on the CPU: keeps the negative tail accurate
  __device__ static double cdf(float x) { return 0.5 * erfc(-0.70710678118654752 * x); }
  __device__ static float f(float x, float) { return static_cast<float>(x * cdf(x)); }
  __device__ static float df(float x, float, float dy, float) {
    const double pdf = 0.39894228040143268 * exp(-0.5 * double(x) * x);
    return static_cast<float>(dy * (cdf(x) + x * pdf));
  }
};
struct Swish {
  __device__ static float f(float x, float) { return x * sigmoid(x); }
  __device__ static float df(float x, float, float dy, float) {
    const float s = sigmoid(x);
    return dy * (s + x * s * (1.0f - s));
  }
};
struct Softplus {
  __device__ static float f(float x, float) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }
  __device__ static float df(float x, float, float dy, float) { return dy * sigmoid(x); }
};

struct HardSigmoid {
  __device__ static float f(float x, float) { return x < -3.0f ? 0.0f : (x > 3.0f ? 1.0f : x / 6.0f + 0.5f); }
  __device__ static float df(float x, float y, float dy, float) {
    return (x > -3.0f && x < 3.0f) ? dy * (1.0f / 6.0f) : dy * (y - y);
  }
};
struct HardSilu {
  __device__ static float f(float x, float a) { return x * HardSigmoid::f(x, a); }
  __device__ static float df(float x, float, float dy, float) {
    return x <= -3.0f ? dy * 0.0f : (x >= 3.0f ? dy : dy * (2.0f * x + 3.0f) * (1.0f / 6.0f));
  }
};
struct Mish {
  __device__ static float f(float x, float) { return x * tanhf(Softplus::f(x, 0.0f)); }
  __device__ static float df(float x, float, float dy, float) {
    const float t = tanhf(Softplus::f(x, 0.0f));
    return dy * (t + x * sigmoid(x) * (1.0f - t * t));
  }
};
struct Softsign {
  __device__ static float f(float x, float) { return x / (1.0f + fabsf(x)); }
  __device__ static float df(float x, float, float dy, float) {
    const float d = 1.0f + fabsf(x);
    return dy / (d * d);
  }
};
struct LogSigmoid {
  __device__ static float f(float x, float) { return fminf(x, 0.0f) - log1pf(expf(-fabsf(x))); }
  __device__ static float df(float x, float, float dy, float) { return dy * sigmoid(-x); }
};
struct HardTanh {
  __device__ static float f(float x, float) { return x < -1.0f ? -1.0f : (x > 1.0f ? 1.0f : x); }
  __device__ static float df(float x, float y, float dy, float) {
    return (x >= -1.0f && x <= 1.0f) ? dy : dy * (y - y);
  }
};
struct Celu {
  __device__ static float f(float x, float a) { return x > 0.0f ? x : a * expm1f(x / a); }
  __device__ static float df(float x, float, float dy, float a) { return x > 0.0f ? dy : dy * expf(x / a); }
};
struct Exponential {
  __device__ static float f(float x, float) { return expf(x); }
  __device__ static float df(float, float y, float dy, float) { return dy * y; }
};
struct TanhShrink {
  __device__ static float f(float x, float) { return x - tanhf(x); }
  __device__ static float df(float x, float, float dy, float) {
    const float t = tanhf(x);
    return dy * t * t;
  }
};
struct SoftShrink {
  __device__ static float f(float x, float a) { return x > a ? x - a : (x < -a ? x + a : x * 0.0f); }
  __device__ static float df(float x, float, float dy, float a) { return (x > a || x < -a) ? dy : dy * (x - x); }
};
struct HardShrink {
  __device__ static float f(float x, float a) { return fabsf(x) > a ? x : x * 0.0f; }
  __device__ static float df(float x, float, float dy, float a) { return fabsf(x) > a ? dy : dy * (x - x); }
};
struct Squareplus {
  __device__ static float f(float x, float b) {
    const float r = hypotf(x, sqrtf(b));
    return x >= 0.0f ? 0.5f * (x + r) : 0.5f * b / (r - x);
  }
  __device__ static float df(float x, float, float dy, float b) {
    const float r = hypotf(x, sqrtf(b));
    return x >= 0.0f ? dy * 0.5f * (r + x) / r : dy * 0.5f * b / (r * (r - x));
  }
};
struct SparsePlus {
  __device__ static float f(float x, float) {
    return x <= -1.0f ? 0.0f : (x >= 1.0f ? x : 0.25f * (x + 1.0f) * (x + 1.0f));
  }
  __device__ static float df(float x, float, float dy, float) {
    return x <= -1.0f ? dy * 0.0f : (x >= 1.0f ? dy : dy * 0.5f * (x + 1.0f));
  }
};

template <class Op>
__global__ void map_forward(const float* x, float* y, int64_t n, float alpha) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = Op::f(x[i], alpha);
}

template <class Op>
__global__ void map_backward(const float* x, const float* y, const float* dy, float* dx, int64_t n,
                             float alpha) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = Op::df(x[i], y[i], dy[i], alpha);
}

// One block per row.
template <bool kLog>
__global__ void softmax_forward_rows(const float* x, float* y, int64_t cols) {
  const float* xr = x + blockIdx.x * cols;
  float* yr = y + blockIdx.x * cols;
  float m = -INFINITY;  // fmaxf drops a NaN here, but exp(NaN - m) makes the row's sum NaN
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, xr[j]);
  m = block_reduce(m, MaxOp{}, -INFINITY);
  float sum = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) sum += expf(xr[j] - m);
  sum = block_reduce(sum, SumOp{}, 0.0f);
  if (kLog) {
    const float shift = m + logf(sum);
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = xr[j] - shift;
  } else {
    const float inv = 1.0f / sum;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = expf(xr[j] - m) * inv;
  }
}

template <bool kLog>
__global__ void softmax_backward_rows(const float* y, const float* dy, float* dx, int64_t cols) {
  const int64_t off = blockIdx.x * cols;
  float dot = 0.0f;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
    dot += kLog ? dy[off + j] : dy[off + j] * y[off + j];
  dot = block_reduce(dot, SumOp{}, 0.0f);
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const float yj = y[off + j], gj = dy[off + j];
    dx[off + j] = kLog ? gj - expf(yj) * dot : yj * (gj - dot);
  }
}

int row_threads(int64_t cols) { return cols >= 1024 ? 512 : cols >= 256 ? 256 : 128; }

template <class Op>
void launch_forward(const Tensor& x, const Tensor& y, float alpha) {
  map_forward<Op><<<blocks_for(x.numel()), kThreads, 0, stream_of(x)>>>(
      x.data<float>(), y.data<float>(), x.numel(), alpha);
}

template <class Op>
void launch_backward(const Tensor& x, const Tensor& y, const Tensor& dy, const Tensor& dx,
                     float alpha) {
  map_backward<Op><<<blocks_for(dy.numel()), kThreads, 0, stream_of(dy)>>>(
      x.data<float>(), y.data<float>(), dy.data<float>(), dx.data<float>(), dy.numel(), alpha);
}

}  // namespace

void activation_forward(Activation act, const Tensor& x, const Tensor& y, float alpha) {
  DeviceGuard guard(x);
  switch (act) {
    case Activation::linear: launch_forward<Linear>(x, y, alpha); break;
    case Activation::relu: launch_forward<Relu>(x, y, alpha); break;
    case Activation::relu6: launch_forward<Relu6>(x, y, alpha); break;
    case Activation::leaky_relu: launch_forward<LeakyRelu>(x, y, alpha); break;
    case Activation::elu: launch_forward<Elu>(x, y, alpha); break;
    case Activation::selu: launch_forward<Selu>(x, y, alpha); break;
    case Activation::sigmoid: launch_forward<Sigmoid>(x, y, alpha); break;
    case Activation::tanh: launch_forward<Tanh>(x, y, alpha); break;
    case Activation::gelu: launch_forward<Gelu>(x, y, alpha); break;
    case Activation::swish: launch_forward<Swish>(x, y, alpha); break;
    case Activation::softplus: launch_forward<Softplus>(x, y, alpha); break;
    case Activation::hard_sigmoid: launch_forward<HardSigmoid>(x, y, alpha); break;
    case Activation::hard_silu: launch_forward<HardSilu>(x, y, alpha); break;
    case Activation::mish: launch_forward<Mish>(x, y, alpha); break;
    case Activation::softsign: launch_forward<Softsign>(x, y, alpha); break;
    case Activation::log_sigmoid: launch_forward<LogSigmoid>(x, y, alpha); break;
    case Activation::hard_tanh: launch_forward<HardTanh>(x, y, alpha); break;
    case Activation::celu: launch_forward<Celu>(x, y, alpha); break;
    case Activation::exponential: launch_forward<Exponential>(x, y, alpha); break;
    case Activation::tanh_shrink: launch_forward<TanhShrink>(x, y, alpha); break;
    case Activation::soft_shrink: launch_forward<SoftShrink>(x, y, alpha); break;
    case Activation::hard_shrink: launch_forward<HardShrink>(x, y, alpha); break;
    case Activation::squareplus: launch_forward<Squareplus>(x, y, alpha); break;
    case Activation::sparse_plus: launch_forward<SparsePlus>(x, y, alpha); break;
    case Activation::softmax:
    case Activation::log_softmax: {
      CORENN_CHECK(x.rows() <= 0x7fffffff, "softmax: too many rows for one CUDA grid");
      const unsigned rows = static_cast<unsigned>(x.rows());
      const int t = row_threads(x.cols());
      if (act == Activation::softmax)
        softmax_forward_rows<false><<<rows, t, 0, stream_of(x)>>>(x.data<float>(), y.data<float>(), x.cols());
      else
        softmax_forward_rows<true><<<rows, t, 0, stream_of(x)>>>(x.data<float>(), y.data<float>(), x.cols());
      break;
    }
  }
  check_launch("activation_forward");
}

void activation_backward(Activation act, const Tensor& x, const Tensor& y, const Tensor& dy,
                         const Tensor& dx, float alpha) {
  DeviceGuard guard(dy);
  switch (act) {
    case Activation::linear: launch_backward<Linear>(x, y, dy, dx, alpha); break;
    case Activation::relu: launch_backward<Relu>(x, y, dy, dx, alpha); break;
    case Activation::relu6: launch_backward<Relu6>(x, y, dy, dx, alpha); break;
    case Activation::leaky_relu: launch_backward<LeakyRelu>(x, y, dy, dx, alpha); break;
    case Activation::elu: launch_backward<Elu>(x, y, dy, dx, alpha); break;
    case Activation::selu: launch_backward<Selu>(x, y, dy, dx, alpha); break;
    case Activation::sigmoid: launch_backward<Sigmoid>(x, y, dy, dx, alpha); break;
    case Activation::tanh: launch_backward<Tanh>(x, y, dy, dx, alpha); break;
    case Activation::gelu: launch_backward<Gelu>(x, y, dy, dx, alpha); break;
    case Activation::swish: launch_backward<Swish>(x, y, dy, dx, alpha); break;
    case Activation::softplus: launch_backward<Softplus>(x, y, dy, dx, alpha); break;
    case Activation::hard_sigmoid: launch_backward<HardSigmoid>(x, y, dy, dx, alpha); break;
    case Activation::hard_silu: launch_backward<HardSilu>(x, y, dy, dx, alpha); break;
    case Activation::mish: launch_backward<Mish>(x, y, dy, dx, alpha); break;
    case Activation::softsign: launch_backward<Softsign>(x, y, dy, dx, alpha); break;
    case Activation::log_sigmoid: launch_backward<LogSigmoid>(x, y, dy, dx, alpha); break;
    case Activation::hard_tanh: launch_backward<HardTanh>(x, y, dy, dx, alpha); break;
    case Activation::celu: launch_backward<Celu>(x, y, dy, dx, alpha); break;
    case Activation::exponential: launch_backward<Exponential>(x, y, dy, dx, alpha); break;
    case Activation::tanh_shrink: launch_backward<TanhShrink>(x, y, dy, dx, alpha); break;
    case Activation::soft_shrink: launch_backward<SoftShrink>(x, y, dy, dx, alpha); break;
    case Activation::hard_shrink: launch_backward<HardShrink>(x, y, dy, dx, alpha); break;
    case Activation::squareplus: launch_backward<Squareplus>(x, y, dy, dx, alpha); break;
    case Activation::sparse_plus: launch_backward<SparsePlus>(x, y, dy, dx, alpha); break;
    case Activation::softmax:
    case Activation::log_softmax: {
      const unsigned rows = static_cast<unsigned>(dy.rows());
      const int t = row_threads(dy.cols());
      if (act == Activation::softmax)
        softmax_backward_rows<false><<<rows, t, 0, stream_of(dy)>>>(y.data<float>(), dy.data<float>(), dx.data<float>(), dy.cols());
      else
        softmax_backward_rows<true><<<rows, t, 0, stream_of(dy)>>>(y.data<float>(), dy.data<float>(), dx.data<float>(), dy.cols());
      break;
    }
  }
  check_launch("activation_backward");
}

}  // namespace corenn::cuda

namespace corenn {
CORENN_REGISTER_KERNEL(activation_forward_stub, Slot::cuda, cuda::activation_forward);
CORENN_REGISTER_KERNEL(activation_backward_stub, Slot::cuda, cuda::activation_backward);
}  // namespace corenn
