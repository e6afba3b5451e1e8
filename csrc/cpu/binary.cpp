// Binary elementwise kernels (CPU) with NumPy broadcasting; the math is in ops/binary.h.
//
// Shapes: a, b contiguous, broadcasting to y (contiguous). A broadcast plan (cpu/broadcast.h)
// coalesces the three: equal shapes become one flat run, a scalar or trailing-vector operand a
// row loop whose inner stride is 0 or 1. The inner loop is compiled for each (stride a, stride b)
// pattern and vectorises. y may be a or b itself (each element is read before it is written).
//
// Backward: a gradient of an operand that was not broadcast (it has y's element count) is written
// straight into da / db; otherwise the elementwise term is written into a y-sized temporary and
// summed over the broadcast axes by cpu::reduce (deterministic, double accumulation). add and
// subtract reduce dy itself (no temporary).
#include <cmath>
#include <vector>

#include "cpu/broadcast.h"
#include "ops/binary.h"
#include "ops/reduce.h"

namespace corenn::cpu {

namespace {

struct Add { static float f(float a, float b) { return a + b; } };
struct Sub { static float f(float a, float b) { return a - b; } };
struct Mul { static float f(float a, float b) { return a * b; } };
struct Div { static float f(float a, float b) { return a / b; } };
struct Max { static float f(float a, float b) { return (a != a || a >= b) ? a : b; } };
struct Min { static float f(float a, float b) { return (a != a || a <= b) ? a : b; } };
struct Pow { static float f(float a, float b) { return std::pow(a, b); } };

// d(a op b)/da and /db times dy (see ops/binary.h)
struct MulGrad {
  static float da(float g, float, float b) { return g * b; }
  static float db(float g, float a, float) { return g * a; }
};
struct DivGrad {
  static float da(float g, float, float b) { return g / b; }
  static float db(float g, float a, float b) { return -g * a / (b * b); }
};
struct MaxGrad {
  static bool a_wins(float a, float b) { return a != a || a >= b; }
  static float da(float g, float a, float b) { return g * (a_wins(a, b) ? 1.0f : 0.0f); }
  static float db(float g, float a, float b) { return g * (a_wins(a, b) ? 0.0f : 1.0f); }
};
struct MinGrad {
  static bool a_wins(float a, float b) { return a != a || a <= b; }
  static float da(float g, float a, float b) { return g * (a_wins(a, b) ? 1.0f : 0.0f); }
  static float db(float g, float a, float b) { return g * (a_wins(a, b) ? 0.0f : 1.0f); }
};
struct PowGrad {
  static float da(float g, float a, float b) { return g * (b == 0.0f ? 0.0f : b * std::pow(a, b - 1.0f)); }
  static float db(float g, float a, float b) {
    return g * ((a == 0.0f && b >= 0.0f) ? 0.0f : std::pow(a, b) * std::log(a));
  }
};

template <class Op>
void forward(const BroadcastPlan& p, const float* a, const float* b, float* y) {
  with_inner_strides(p.inner_stride(1), p.inner_stride(2), [&](auto sa, auto sb) {
    constexpr int SA = decltype(sa)::value, SB = decltype(sb)::value;
    parallel_broadcast(p, [&](const int64_t* off, int64_t j0, int64_t j1) {
      const float* pa = a + off[1];
      const float* pb = b + off[2];
      float* py = y + off[0];
      for (int64_t j = j0; j < j1; ++j) py[j] = Op::f(pa[j * SA], pb[j * SB]);
    });
  });
}

// out (y's shape) = G::da or G::db of (dy, a, b); operands of the plan: out, dy, a, b.
template <class G, bool WantA>
void grad_term(const BroadcastPlan& p, const float* dy, const float* a, const float* b,
               float* out) {
  with_inner_strides(p.inner_stride(2), p.inner_stride(3), [&](auto sa, auto sb) {
    constexpr int SA = decltype(sa)::value, SB = decltype(sb)::value;
    parallel_broadcast(p, [&](const int64_t* off, int64_t j0, int64_t j1) {
      float* o = out + off[0];
      const float* g = dy + off[1];
      const float* pa = a + off[2];
      const float* pb = b + off[3];
      for (int64_t j = j0; j < j1; ++j)
        o[j] = WantA ? G::da(g[j], pa[j * SA], pb[j * SB]) : G::db(g[j], pa[j * SA], pb[j * SB]);
    });
  });
}

int64_t numel_of(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (const int64_t d : s) n *= d;
  return n;
}

// Flags over y's dims: those along which an operand of `shape` was broadcast.
std::vector<bool> broadcast_axes(const std::vector<int64_t>& shape, const std::vector<int64_t>& y) {
  std::vector<bool> flags(y.size(), true);
  const size_t pad = y.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i) flags[pad + i] = shape[i] == 1;
  return flags;
}

// d (shape) = sum over the broadcast axes of the y-sized term, or the term itself.
template <class G, bool WantA>
void operand_grad(const BroadcastPlan& p, const float* dy, const float* a, const float* b,
                  const std::vector<int64_t>& shape, const std::vector<int64_t>& y_shape,
                  float* d) {
  if (numel_of(shape) == p.numel) return grad_term<G, WantA>(p, dy, a, b, d);
  std::vector<float> term(static_cast<size_t>(p.numel));
  grad_term<G, WantA>(p, dy, a, b, term.data());
  reduce(ReduceKind::sum, term.data(), y_shape, broadcast_axes(shape, y_shape), d);
}

// add / subtract: d = +-sum_broadcast(dy)
void pass_through(const float* dy, int64_t n, const std::vector<int64_t>& shape,
                  const std::vector<int64_t>& y_shape, float sign, float* d) {
  if (numel_of(shape) == n) {
    parallel_for(0, n, 32768, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) d[i] = sign * dy[i];
    });
    return;
  }
  reduce(ReduceKind::sum, dy, y_shape, broadcast_axes(shape, y_shape), d);
  if (sign != 1.0f)
    for (int64_t i = 0, m = numel_of(shape); i < m; ++i) d[i] = -d[i];
}

template <class G>
void backward(const BroadcastPlan& p, const float* a, const std::vector<int64_t>& a_shape,
              const float* b, const std::vector<int64_t>& b_shape, const float* dy,
              const std::vector<int64_t>& y_shape, float* da, float* db) {
  if (da) operand_grad<G, true>(p, dy, a, b, a_shape, y_shape, da);
  if (db) operand_grad<G, false>(p, dy, a, b, b_shape, y_shape, db);
}

}  // namespace

void binary_forward(BinaryKind kind, const float* a, const std::vector<int64_t>& a_shape,
                    const float* b, const std::vector<int64_t>& b_shape, float* y,
                    const std::vector<int64_t>& y_shape) {
  const BroadcastPlan p = make_broadcast_plan(y_shape, {y_shape, a_shape, b_shape});
  switch (kind) {
    case BinaryKind::add: return forward<Add>(p, a, b, y);
    case BinaryKind::subtract: return forward<Sub>(p, a, b, y);
    case BinaryKind::multiply: return forward<Mul>(p, a, b, y);
    case BinaryKind::divide: return forward<Div>(p, a, b, y);
    case BinaryKind::maximum: return forward<Max>(p, a, b, y);
    case BinaryKind::minimum: return forward<Min>(p, a, b, y);
    case BinaryKind::power: return forward<Pow>(p, a, b, y);
  }
}

void binary_backward(BinaryKind kind, const float* a, const std::vector<int64_t>& a_shape,
                     const float* b, const std::vector<int64_t>& b_shape, const float* dy,
                     const std::vector<int64_t>& y_shape, float* da, float* db) {
  if (kind == BinaryKind::add || kind == BinaryKind::subtract) {
    const int64_t n = numel_of(y_shape);
    if (da) pass_through(dy, n, a_shape, y_shape, 1.0f, da);
    if (db) pass_through(dy, n, b_shape, y_shape, kind == BinaryKind::add ? 1.0f : -1.0f, db);
    return;
  }
  const BroadcastPlan p = make_broadcast_plan(y_shape, {y_shape, y_shape, a_shape, b_shape});
  switch (kind) {
    case BinaryKind::multiply: return backward<MulGrad>(p, a, a_shape, b, b_shape, dy, y_shape, da, db);
    case BinaryKind::divide: return backward<DivGrad>(p, a, a_shape, b, b_shape, dy, y_shape, da, db);
    case BinaryKind::maximum: return backward<MaxGrad>(p, a, a_shape, b, b_shape, dy, y_shape, da, db);
    case BinaryKind::minimum: return backward<MinGrad>(p, a, a_shape, b, b_shape, dy, y_shape, da, db);
    case BinaryKind::power: return backward<PowGrad>(p, a, a_shape, b, b_shape, dy, y_shape, da, db);
    default: return;
  }
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(binary_forward_stub, Slot::cpu_ref, binary_forward);
CORENN_REGISTER_KERNEL(binary_backward_stub, Slot::cpu_ref, binary_backward);
}  // namespace corenn::cpu
