// Activation kernels (CPU), forward and backward.
//
//   linear      y = x                                  dx = dy
//   relu        y = max(x, 0)                          dx = dy * [y > 0]
//   leaky_relu  y = x > 0 ? x : alpha x                dx = dy * (x > 0 ? 1 : alpha)
//   relu6       y = min(max(x, 0), alpha)              dx = dy * [0 < y < alpha]  (alpha: the
//               ceiling, 6 for Keras' relu6; zero gradient at both kinks, as TensorFlow's)
//   elu         y = x > 0 ? x : alpha (e^x - 1)        dx = dy * (y > 0 ? 1 : y + alpha)
//   selu        y = s * elu_a(x), a = 1.67326324,      dx = dy * (y > 0 ? s : y + s a)
//                 s = 1.05070098 (Keras constants)
//   sigmoid     y = 1 / (1 + e^-x)                     dx = dy * y (1 - y)
//   tanh        y = tanh x                             dx = dy * (1 - y^2)
//   gelu        y = x Phi(x) = x/2 (1 + erf(x/sqrt2))  dx = dy * (Phi(x) + x phi(x))
//   swish       y = x sigmoid(x)                       dx = dy * (s + x s (1 - s)), s = sigmoid(x)
//   softplus    y = max(x,0) + log1p(e^-|x|)           dx = dy * sigmoid(x)
//   hard_sigmoid  y = relu6(x + 3) / 6                 dx = dy * [-3 < x < 3] / 6
//   hard_silu   y = x hard_sigmoid(x)                  dx = dy * (x <= -3 ? 0 : x >= 3 ? 1 : (2x + 3) / 6)
//   mish        y = x tanh(softplus(x))                dx = dy * (t + x sigmoid(x) (1 - t^2)), t = tanh(softplus(x))
//   softsign    y = x / (1 + |x|)                      dx = dy / (1 + |x|)^2
//   log_sigmoid y = min(x, 0) - log1p(e^-|x|)          dx = dy * sigmoid(-x)
//   hard_tanh   y = clip(x, -1, 1)                     dx = dy * [-1 <= x <= 1]  (TensorFlow's clip)
//   celu        y = x > 0 ? x : alpha expm1(x / alpha) dx = dy * (x > 0 ? 1 : e^(x / alpha))
//   exponential y = e^x                                dx = dy * y
//   tanh_shrink y = x - tanh x                         dx = dy * tanh(x)^2
//   soft_shrink y = x - alpha sign(x) if |x| > alpha, else 0    dx = dy * [|x| > alpha]
//   hard_shrink y = x if |x| > alpha, else 0           dx = dy * [|x| > alpha]   (alpha: the threshold)
//   squareplus  y = (x + sqrt(x^2 + alpha)) / 2        dx = dy * (1 + x / sqrt(x^2 + alpha)) / 2  (alpha: b)
//   sparse_plus y = x <= -1 ? 0 : x >= 1 ? x : (x + 1)^2 / 4      dx = dy * clip((x + 1) / 2, 0, 1)
//   (Keras 3's definitions; zero gradient at the kinks where TensorFlow's relu6 / where give it)
//   softmax     y_j = e^(x_j - m) / sum_k e^(x_k - m)  dx = y * (dy - sum_k dy_k y_k)
//   log_softmax y_j = x_j - m - log sum_k e^(x_k - m)  dx = dy - e^y * sum_k dy_k
// m is the row max (keeps every exponent <= 0). Backward uses y where that is cheaper, and where
// it lets a layer run the forward in place (relu, elu, selu, sigmoid, tanh, softmax).
//
// NaN and inf (the contract, as NumPy and PyTorch; tests/ops/test_nan_propagation.py):
//   f(NaN) = NaN for every kind; softmax / log_softmax of a row holding a NaN is NaN over the row
//   (its exp(x - m) sum is NaN), as is a row holding +inf (x - m = inf - inf), as NumPy's formula.
//   +-inf give the formulas' IEEE values: relu(inf) = inf, sigmoid(-inf) = 0, tanh(+-inf) = +-1,
//   elu(-inf) = -alpha; where a formula meets inf * 0 the result is NaN, as in NumPy and PyTorch:
//   gelu(-inf), swish(-inf), gelu'(+-inf), swish'(+-inf).
//   Backward is dy * f'(x) as a product: a NaN in dy gives NaN in dx everywhere, a dead relu unit
//   included (0 * NaN = NaN), and f'(NaN) = NaN. PyTorch's threshold_backward differs there: it
//   selects (x <= 0 ? 0 : dy), so it drops a NaN dy at a dead unit and passes dy through at a NaN
//   x. We multiply instead, so a NaN anywhere upstream can't vanish in a gradient that
//   TerminateOnNaN or a NaN check downstream would have caught. The relu family's selects are
//   written so the NaN falls into the multiplying branch (relu: dy * y, y = +-0 or NaN there),
//   which costs a multiply, not a compare; only leaky_relu's f'(NaN) costs one compare more.
//   Scalar relu is written `x < 0 ? 0 : x`: NaN fails the compare and passes through, and it is
//   exactly MAXPS(0, x), the NaN-keeping operand order, so GCC still emits one maxps.
//
// Shapes: x, y, dy, dx are (rows, cols), contiguous; only softmax / log_softmax care about rows.
// Variants: the elementwise loops are templates over a tiny functor per kind (inlined, no call per
// element) and run through parallel_for with a grain sized to the per-element cost, so small
// tensors stay on the calling thread. Exp/erf-heavy kinds (sigmoid, tanh, gelu, swish, softplus,
// elu and selu forward, softmax, log_softmax) and relu / leaky_relu backward go to
// activation_avx2.cpp (the avx2 slot of activation_forward/backward_stub); this file is the
// reference (cpu_ref slot) and the fallback for the kinds the vector kernels leave to it.
//
// The selects (`x > 0 ? x : a * x`) compile to blends, not branches, because every source is built
// with -fno-trapping-math (CMakeLists.txt says why).

#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "ops/activation.h"

namespace corenn::cpu {

namespace {


inline float sigmoid_ref(float x) {
  // Both branches only exponentiate a non-positive number: no overflow for large |x|.
  if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.0f + e);
}

inline float select(bool c, float a, float b) { return c ? a : b; }

// ---- reference functors: f(x) and dx from (x, y, dy) ------------------------------------------

struct Linear {
  static constexpr int64_t grain = kCheapGrain;
  static float f(float x, float) { return x; }
  static float df(float, float, float dy, float) { return dy; }
};
struct Relu {
  static constexpr int64_t grain = kCheapGrain;
  static float f(float x, float) { return x < 0.0f ? 0.0f : x; }
  // y <= 0 means y = +-0 (or NaN, which fails both compares): dy * y is the +-0 of a dead unit,
  // NaN for a NaN dy or a NaN y
  static float df(float, float y, float dy, float) { return y > 0.0f ? dy : dy * y; }
};
struct Relu6 {
  static constexpr int64_t grain = kCheapGrain;
  // NaN fails both compares and passes through
  static float f(float x, float a) { return x < 0.0f ? 0.0f : (x > a ? a : x); }
  // y - y is +-0, or NaN for a NaN y: the product keeps the NaN contract
  static float df(float, float y, float dy, float a) {
    return select(y > 0.0f && y < a, dy, dy * (y - y));
  }
};
struct LeakyRelu {
  static constexpr int64_t grain = kCheapGrain;
  static float f(float x, float a) { return select(x > 0.0f, x, a * x); }
  static float df(float x, float, float dy, float a) {
    return select(x > 0.0f, dy, dy * select(x <= 0.0f, a, x));  // x NaN: dy * NaN
  }
};
struct Elu {
  static constexpr int64_t grain = kExpGrain;
  static float f(float x, float a) { return x > 0.0f ? x : a * std::expm1(x); }
  static float df(float, float y, float dy, float a) { return select(y > 0.0f, dy, dy * (y + a)); }
};
struct Selu {
  static constexpr int64_t grain = kExpGrain;
  static float f(float x, float) {
    return kSeluScale * (x > 0.0f ? x : kSeluAlpha * std::expm1(x));
  }
  static float df(float, float y, float dy, float) {
    return select(y > 0.0f, dy * kSeluScale, dy * (y + kSeluScale * kSeluAlpha));
  }
};
struct Sigmoid {
  static constexpr int64_t grain = kExpGrain;
  static float f(float x, float) { return sigmoid_ref(x); }
  static float df(float, float y, float dy, float) { return dy * y * (1.0f - y); }
};
struct Tanh {
  static constexpr int64_t grain = kExpGrain;
  static float f(float x, float) { return std::tanh(x); }
  static float df(float, float y, float dy, float) { return dy * (1.0f - y * y); }
};
struct Gelu {  // double erfc: Phi(x) = erfc(-x/sqrt2)/2 keeps the negative tail accurate
  static constexpr int64_t grain = kExpGrain;
  static double cdf(float x) { return 0.5 * std::erfc(-0.70710678118654752 * x); }
  static float f(float x, float) { return static_cast<float>(x * cdf(x)); }
  static float df(float x, float, float dy, float) {
    const double pdf = 0.39894228040143268 * std::exp(-0.5 * double(x) * x);
    return static_cast<float>(dy * (cdf(x) + x * pdf));
  }
};
struct Swish {
  static constexpr int64_t grain = kExpGrain;
  static float f(float x, float) { return x * sigmoid_ref(x); }
  static float df(float x, float, float dy, float) {
    const float s = sigmoid_ref(x);
    return dy * (s + x * s * (1.0f - s));
  }
};
struct Softplus {
  static constexpr int64_t grain = kExpGrain;
  static float f(float x, float) { return std::max(x, 0.0f) + std::log1p(std::exp(-std::fabs(x))); }
  static float df(float x, float, float dy, float) { return dy * sigmoid_ref(x); }
};

// The Keras 3 additions. Where a branch's value is 0 it is written x * 0 or dy * (y - y) so a NaN
// still falls through to the result, as in the kinds above.
struct HardSigmoid {
  static constexpr int64_t grain = kCheapGrain;
  static float f(float x, float) { return x < -3.0f ? 0.0f : (x > 3.0f ? 1.0f : x / 6.0f + 0.5f); }
  static float df(float x, float y, float dy, float) {
    return select(x > -3.0f && x < 3.0f, dy * (1.0f / 6.0f), dy * (y - y));
  }
};
struct HardSilu {
  static constexpr int64_t grain = kCheapGrain;
  static float f(float x, float a) { return x * HardSigmoid::f(x, a); }
  static float df(float x, float, float dy, float) {
    return x <= -3.0f ? dy * 0.0f : (x >= 3.0f ? dy : dy * (2.0f * x + 3.0f) * (1.0f / 6.0f));
  }
};
struct Mish {
  static constexpr int64_t grain = kExpGrain;
  static float f(float x, float) { return x * std::tanh(Softplus::f(x, 0.0f)); }
  static float df(float x, float, float dy, float) {
    const float t = std::tanh(Softplus::f(x, 0.0f));
    return dy * (t + x * sigmoid_ref(x) * (1.0f - t * t));
  }
};
struct Softsign {
  static constexpr int64_t grain = kCheapGrain;
  static float f(float x, float) { return x / (1.0f + std::fabs(x)); }
  static float df(float x, float, float dy, float) {
    const float d = 1.0f + std::fabs(x);
    return dy / (d * d);
  }
};
struct LogSigmoid {
  static constexpr int64_t grain = kExpGrain;
  static float f(float x, float) { return std::min(x, 0.0f) - std::log1p(std::exp(-std::fabs(x))); }
  static float df(float x, float, float dy, float) { return dy * sigmoid_ref(-x); }
};
struct HardTanh {
  static constexpr int64_t grain = kCheapGrain;
  static float f(float x, float) { return x < -1.0f ? -1.0f : (x > 1.0f ? 1.0f : x); }
  static float df(float x, float y, float dy, float) {
    return select(x >= -1.0f && x <= 1.0f, dy, dy * (y - y));
  }
};
struct Celu {
  static constexpr int64_t grain = kExpGrain;
  static float f(float x, float a) { return x > 0.0f ? x : a * std::expm1(x / a); }
  static float df(float x, float, float dy, float a) {
    return select(x > 0.0f, dy, dy * std::exp(x / a));
  }
};
struct Exponential {
  static constexpr int64_t grain = kExpGrain;
  static float f(float x, float) { return std::exp(x); }
  static float df(float, float y, float dy, float) { return dy * y; }
};
struct TanhShrink {
  static constexpr int64_t grain = kExpGrain;
  static float f(float x, float) { return x - std::tanh(x); }
  static float df(float x, float, float dy, float) {
    const float t = std::tanh(x);
    return dy * t * t;
  }
};
struct SoftShrink {
  static constexpr int64_t grain = kCheapGrain;
  static float f(float x, float a) { return x > a ? x - a : (x < -a ? x + a : x * 0.0f); }
  static float df(float x, float, float dy, float a) {
    return select(x > a || x < -a, dy, dy * (x - x));
  }
};
struct HardShrink {
  static constexpr int64_t grain = kCheapGrain;
  static float f(float x, float a) { return std::fabs(x) > a ? x : x * 0.0f; }
  static float df(float x, float, float dy, float a) {
    return select(std::fabs(x) > a, dy, dy * (x - x));
  }
};
struct Squareplus {  // hypot keeps x^2 + b from overflowing; the x < 0 forms avoid cancellation
  static constexpr int64_t grain = kCheapGrain;
  static float f(float x, float b) {
    const float r = std::hypot(x, std::sqrt(b));
    return x >= 0.0f ? 0.5f * (x + r) : 0.5f * b / (r - x);
  }
  static float df(float x, float, float dy, float b) {
    const float r = std::hypot(x, std::sqrt(b));
    return x >= 0.0f ? dy * 0.5f * (r + x) / r : dy * 0.5f * b / (r * (r - x));
  }
};
struct SparsePlus {
  static constexpr int64_t grain = kCheapGrain;
  static float f(float x, float) {
    return x <= -1.0f ? 0.0f : (x >= 1.0f ? x : 0.25f * (x + 1.0f) * (x + 1.0f));
  }
  static float df(float x, float, float dy, float) {
    return x <= -1.0f ? dy * 0.0f : (x >= 1.0f ? dy : dy * 0.5f * (x + 1.0f));
  }
};

// The loops read alpha from a local: through a captured reference (or a closure member) every
// store to y might change it, which keeps the compiler from vectorising the loop and leaves a
// mispredicted branch per element for the select-like kinds.
template <class Op>
void map_forward(const float* x, float* y, int64_t n, float alpha) {
  parallel_for(0, n, Op::grain, [=](int64_t lo, int64_t hi) {
    const float a = alpha;
    const float* xs = x;
    float* ys = y;
    for (int64_t i = lo; i < hi; ++i) ys[i] = Op::f(xs[i], a);
  });
}

template <class Op>
void map_backward(const float* x, const float* y, const float* dy, float* dx, int64_t n,
                  float alpha) {
  parallel_for(0, n, Op::grain, [=](int64_t lo, int64_t hi) {
    const float a = alpha;
    const float *xs = x, *ys = y, *dys = dy;
    float* dxs = dx;
    for (int64_t i = lo; i < hi; ++i) dxs[i] = Op::df(xs[i], ys[i], dys[i], a);
  });
}

// ---- softmax over rows ------------------------------------------------------------------------


void softmax_rows_ref(const float* x, float* y, int64_t lo, int64_t hi, int64_t cols, bool log) {
  for (int64_t r = lo; r < hi; ++r) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float m = xr[0];
    for (int64_t j = 1; j < cols; ++j) m = std::max(m, xr[j]);
    float sum = 0.0f;
    if (log) {
      for (int64_t j = 0; j < cols; ++j) sum += std::exp(xr[j] - m);
      const float shift = m + std::log(sum);
      for (int64_t j = 0; j < cols; ++j) yr[j] = xr[j] - shift;
    } else {
      for (int64_t j = 0; j < cols; ++j) sum += (yr[j] = std::exp(xr[j] - m));
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j < cols; ++j) yr[j] *= inv;
    }
  }
}

void softmax_backward_rows_ref(const float* y, const float* dy, float* dx, int64_t lo, int64_t hi,
                               int64_t cols, bool log) {
  for (int64_t r = lo; r < hi; ++r) {
    const float* yr = y + r * cols;
    const float* gr = dy + r * cols;
    float* dr = dx + r * cols;
    float s = 0.0f;
    if (log) {
      for (int64_t j = 0; j < cols; ++j) s += gr[j];
      for (int64_t j = 0; j < cols; ++j) dr[j] = gr[j] - std::exp(yr[j]) * s;
    } else {
      for (int64_t j = 0; j < cols; ++j) s += gr[j] * yr[j];
      for (int64_t j = 0; j < cols; ++j) dr[j] = yr[j] * (gr[j] - s);
    }
  }
}


}  // namespace

// ---- entry ------------------------------------------------------------------------------------

void activation_forward(Activation act, const float* x, float* y, int64_t rows, int64_t cols,
                        float alpha) {
  const int64_t n = rows * cols;
  switch (act) {
    case Activation::linear:
      if (x != y) map_forward<Linear>(x, y, n, alpha);
      return;
    case Activation::relu: return map_forward<Relu>(x, y, n, alpha);
    case Activation::relu6: return map_forward<Relu6>(x, y, n, alpha);
    case Activation::leaky_relu: return map_forward<LeakyRelu>(x, y, n, alpha);
    case Activation::elu:
    case Activation::selu:
      if (act == Activation::elu) return map_forward<Elu>(x, y, n, alpha);
      return map_forward<Selu>(x, y, n, alpha);
    case Activation::softplus:
    case Activation::sigmoid:
    case Activation::tanh:
    case Activation::gelu:
    case Activation::swish:
      if (act == Activation::sigmoid) return map_forward<Sigmoid>(x, y, n, alpha);
      if (act == Activation::tanh) return map_forward<Tanh>(x, y, n, alpha);
      if (act == Activation::gelu) return map_forward<Gelu>(x, y, n, alpha);
      if (act == Activation::softplus) return map_forward<Softplus>(x, y, n, alpha);
      return map_forward<Swish>(x, y, n, alpha);
    case Activation::hard_sigmoid: return map_forward<HardSigmoid>(x, y, n, alpha);
    case Activation::hard_silu: return map_forward<HardSilu>(x, y, n, alpha);
    case Activation::mish: return map_forward<Mish>(x, y, n, alpha);
    case Activation::softsign: return map_forward<Softsign>(x, y, n, alpha);
    case Activation::log_sigmoid: return map_forward<LogSigmoid>(x, y, n, alpha);
    case Activation::hard_tanh: return map_forward<HardTanh>(x, y, n, alpha);
    case Activation::celu: return map_forward<Celu>(x, y, n, alpha);
    case Activation::exponential: return map_forward<Exponential>(x, y, n, alpha);
    case Activation::tanh_shrink: return map_forward<TanhShrink>(x, y, n, alpha);
    case Activation::soft_shrink: return map_forward<SoftShrink>(x, y, n, alpha);
    case Activation::hard_shrink: return map_forward<HardShrink>(x, y, n, alpha);
    case Activation::squareplus: return map_forward<Squareplus>(x, y, n, alpha);
    case Activation::sparse_plus: return map_forward<SparsePlus>(x, y, n, alpha);
    case Activation::softmax:
    case Activation::log_softmax: {
      const bool log = act == Activation::log_softmax;
      return parallel_for(0, rows, row_grain(cols), [&](int64_t lo, int64_t hi) {
        softmax_rows_ref(x, y, lo, hi, cols, log);
      });
    }
  }
}

void activation_backward(Activation act, const float* x, const float* y, const float* dy,
                         float* dx, int64_t rows, int64_t cols, float alpha) {
  const int64_t n = rows * cols;
  switch (act) {
    case Activation::linear:
      if (dy != dx) map_backward<Linear>(x, y, dy, dx, n, alpha);
      return;
    case Activation::relu:
      return map_backward<Relu>(x, y, dy, dx, n, alpha);
    case Activation::relu6:
      return map_backward<Relu6>(x, y, dy, dx, n, alpha);
    case Activation::leaky_relu:
      return map_backward<LeakyRelu>(x, y, dy, dx, n, alpha);
    case Activation::elu: return map_backward<Elu>(x, y, dy, dx, n, alpha);
    case Activation::selu: return map_backward<Selu>(x, y, dy, dx, n, alpha);
    case Activation::sigmoid: return map_backward<Sigmoid>(x, y, dy, dx, n, alpha);
    case Activation::tanh: return map_backward<Tanh>(x, y, dy, dx, n, alpha);
    case Activation::gelu:
    case Activation::softplus:
    case Activation::swish:
      if (act == Activation::gelu) return map_backward<Gelu>(x, y, dy, dx, n, alpha);
      if (act == Activation::softplus) return map_backward<Softplus>(x, y, dy, dx, n, alpha);
      return map_backward<Swish>(x, y, dy, dx, n, alpha);
    case Activation::hard_sigmoid: return map_backward<HardSigmoid>(x, y, dy, dx, n, alpha);
    case Activation::hard_silu: return map_backward<HardSilu>(x, y, dy, dx, n, alpha);
    case Activation::mish: return map_backward<Mish>(x, y, dy, dx, n, alpha);
    case Activation::softsign: return map_backward<Softsign>(x, y, dy, dx, n, alpha);
    case Activation::log_sigmoid: return map_backward<LogSigmoid>(x, y, dy, dx, n, alpha);
    case Activation::hard_tanh: return map_backward<HardTanh>(x, y, dy, dx, n, alpha);
    case Activation::celu: return map_backward<Celu>(x, y, dy, dx, n, alpha);
    case Activation::exponential: return map_backward<Exponential>(x, y, dy, dx, n, alpha);
    case Activation::tanh_shrink: return map_backward<TanhShrink>(x, y, dy, dx, n, alpha);
    case Activation::soft_shrink: return map_backward<SoftShrink>(x, y, dy, dx, n, alpha);
    case Activation::hard_shrink: return map_backward<HardShrink>(x, y, dy, dx, n, alpha);
    case Activation::squareplus: return map_backward<Squareplus>(x, y, dy, dx, n, alpha);
    case Activation::sparse_plus: return map_backward<SparsePlus>(x, y, dy, dx, n, alpha);
    case Activation::softmax:
    case Activation::log_softmax: {
      const bool log = act == Activation::log_softmax;
      return parallel_for(0, rows, row_grain(cols), [&](int64_t lo, int64_t hi) {
        softmax_backward_rows_ref(y, dy, dx, lo, hi, cols, log);
      });
    }
  }
}

namespace {
void forward_ref(Activation act, const Tensor& x, const Tensor& y, float alpha) {
  activation_forward(act, x.data<float>(), y.data<float>(), x.rows(), x.cols(), alpha);
}
void backward_ref(Activation act, const Tensor& x, const Tensor& y, const Tensor& dy,
                  const Tensor& dx, float alpha) {
  activation_backward(act, x.data<float>(), y.data<float>(), dy.data<float>(), dx.data<float>(),
                      dy.rows(), dy.cols(), alpha);
}
}  // namespace

CORENN_REGISTER_KERNEL(activation_forward_stub, Slot::cpu_ref, forward_ref);
CORENN_REGISTER_KERNEL(activation_backward_stub, Slot::cpu_ref, backward_ref);

}  // namespace corenn::cpu
