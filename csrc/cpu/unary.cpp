// Unary elementwise kernels (CPU); the math is in ops/unary.h.
//
// x, y, dy, dx are flat runs of n floats (shapes do not matter elementwise). Parallel over blocks
// of kGrain elements; each kind is its own plain loop (the cheap ones vectorise; exp / log / sin /
// cos call libm). Each element is read before it is written, so y may be x and dx may be dy.
#include <cmath>

#include "core/parallel.h"
#include "ops/unary.h"

namespace corenn::cpu {

namespace {

constexpr int64_t kGrain = 16384;

template <class F>
void each(int64_t n, const F& f) {
  parallel_for(0, n, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) f(i);
  });
}

float sign(float v) { return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : v); }  // sign(NaN) = NaN

}  // namespace

void unary_forward(UnaryKind kind, const float* x, float* y, int64_t n) {
  switch (kind) {
    case UnaryKind::exp: return each(n, [&](int64_t i) { y[i] = std::exp(x[i]); });
    case UnaryKind::log: return each(n, [&](int64_t i) { y[i] = std::log(x[i]); });
    case UnaryKind::sqrt: return each(n, [&](int64_t i) { y[i] = std::sqrt(x[i]); });
    case UnaryKind::square: return each(n, [&](int64_t i) { y[i] = x[i] * x[i]; });
    case UnaryKind::abs: return each(n, [&](int64_t i) { y[i] = std::fabs(x[i]); });
    case UnaryKind::negative: return each(n, [&](int64_t i) { y[i] = -x[i]; });
    case UnaryKind::reciprocal: return each(n, [&](int64_t i) { y[i] = 1.0f / x[i]; });
    case UnaryKind::sin: return each(n, [&](int64_t i) { y[i] = std::sin(x[i]); });
    case UnaryKind::cos: return each(n, [&](int64_t i) { y[i] = std::cos(x[i]); });
  }
}

void unary_backward(UnaryKind kind, const float* x, const float* y, const float* dy, float* dx,
                    int64_t n) {
  switch (kind) {
    case UnaryKind::exp: return each(n, [&](int64_t i) { dx[i] = dy[i] * y[i]; });
    case UnaryKind::log: return each(n, [&](int64_t i) { dx[i] = dy[i] / x[i]; });
    case UnaryKind::sqrt: return each(n, [&](int64_t i) { dx[i] = dy[i] * 0.5f / y[i]; });
    case UnaryKind::square: return each(n, [&](int64_t i) { dx[i] = dy[i] * 2.0f * x[i]; });
    case UnaryKind::abs: return each(n, [&](int64_t i) { dx[i] = dy[i] * sign(x[i]); });
    case UnaryKind::negative: return each(n, [&](int64_t i) { dx[i] = -dy[i]; });
    case UnaryKind::reciprocal: return each(n, [&](int64_t i) { dx[i] = -dy[i] * y[i] * y[i]; });
    case UnaryKind::sin: return each(n, [&](int64_t i) { dx[i] = dy[i] * std::cos(x[i]); });
    case UnaryKind::cos: return each(n, [&](int64_t i) { dx[i] = -dy[i] * std::sin(x[i]); });
  }
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(unary_forward_stub, Slot::cpu_ref, unary_forward);
CORENN_REGISTER_KERNEL(unary_backward_stub, Slot::cpu_ref, unary_backward);
}  // namespace corenn::cpu
