// Reduction kernels (CPU): sum / mean / max / min over a set of axes, and their gradients.
//
// Shapes: x is contiguous with `shape`; `reduced` flags the reduced dims; y holds the kept dims
// in order (keepdims or not is the same memory). After dropping size-1 dims and merging adjacent
// dims of the same kind, a reduction is a chain of kept (K) and reduced (R) blocks. One pass
// reduces the LAST R block of a [K1, R, K2] view (K1 = everything before it, K2 = the kept dims
// after it):
//   y[k1, k2] = reduce_r x[k1, r, k2]
// and a chain with several R blocks takes one pass per block (through a temporary).
//   K2 == 1  each output is one contiguous run: chunks of the run in parallel.
//   K2 > 1   column sums over R rows of K2 floats (bias_grad's pattern): tiles of kRowChunk rows
//            by kColBlock columns in parallel, the inner loop across columns vectorises.
// Partials live on a fixed grid that does not depend on the thread count and are combined in
// grid order, so results are bit-identical for any number of threads. Sums accumulate in double.
// NaN propagates (as NumPy): a NaN in a slice makes its sum, mean, max and min NaN.
//
// Backward: see ops/reduce.h. dx is written through a broadcast plan (cpu/broadcast.h) with dy /
// y as the broadcast operands; max / min count the tied positions with a sum pass over the mask.
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/broadcast.h"
#include "ops/reduce.h"

namespace corenn::cpu {

namespace {

constexpr int64_t kRunChunk = 8192;  // floats of one contiguous run per work item (K2 == 1)
constexpr int64_t kRowChunk = 512;   // rows per tile (K2 > 1)
constexpr int64_t kColBlock = 256;   // columns per tile (K2 > 1)

struct SumAcc {
  using T = double;
  static T init() { return 0.0; }
  static T add(T acc, float v) { return acc + v; }
  static T merge(T acc, T v) { return acc + v; }
};
struct MaxAcc {
  using T = float;
  static T init() { return -std::numeric_limits<float>::infinity(); }
  static T add(T acc, float v) { return (v > acc || v != v) ? v : acc; }  // a NaN sticks
  static T merge(T acc, T v) { return add(acc, v); }
};
struct MinAcc {
  using T = float;
  static T init() { return std::numeric_limits<float>::infinity(); }
  static T add(T acc, float v) { return (v < acc || v != v) ? v : acc; }
  static T merge(T acc, T v) { return add(acc, v); }
};

// y[k1, k2] = reduce_r x[k1, r, k2]
template <class A>
void reduce_pass(const float* x, int64_t k1, int64_t r, int64_t k2, float* y) {
  using T = typename A::T;
  if (k2 == 1) {
    const int64_t chunks = std::max<int64_t>(1, (r + kRunChunk - 1) / kRunChunk);
    std::vector<T> partial(static_cast<size_t>(k1 * chunks));
    parallel_for(0, k1 * chunks, std::max<int64_t>(1, 32768 / std::min(r + 1, kRunChunk)),
                 [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        const float* run = x + (t / chunks) * r;
        const int64_t i0 = (t % chunks) * kRunChunk, i1 = std::min(r, i0 + kRunChunk);
        T acc[8];
        for (auto& a : acc) a = A::init();
        int64_t i = i0;
        for (; i + 8 <= i1; i += 8)
          for (int l = 0; l < 8; ++l) acc[l] = A::add(acc[l], run[i + l]);
        for (; i < i1; ++i) acc[0] = A::add(acc[0], run[i]);
        T s = acc[0];
        for (int l = 1; l < 8; ++l) s = A::merge(s, acc[l]);
        partial[t] = s;
      }
    });
    for (int64_t k = 0; k < k1; ++k) {
      T s = partial[k * chunks];
      for (int64_t c = 1; c < chunks; ++c) s = A::merge(s, partial[k * chunks + c]);
      y[k] = static_cast<float>(s);
    }
    return;
  }
  const int64_t chunks = std::max<int64_t>(1, (r + kRowChunk - 1) / kRowChunk);
  const int64_t blocks = (k2 + kColBlock - 1) / kColBlock;
  std::vector<T> partial(static_cast<size_t>(k1 * chunks * k2));
  const int64_t tile = std::max<int64_t>(1, std::min(r, kRowChunk) * std::min(k2, kColBlock));
  parallel_for(0, k1 * chunks * blocks, std::max<int64_t>(1, 32768 / tile),
               [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t b = t % blocks, c = (t / blocks) % chunks, k = t / (blocks * chunks);
      const int64_t j0 = b * kColBlock, n = std::min(k2, j0 + kColBlock) - j0;
      const int64_t i0 = c * kRowChunk, i1 = std::min(r, i0 + kRowChunk);
      T acc[kColBlock];
      for (int64_t j = 0; j < n; ++j) acc[j] = A::init();
      for (int64_t i = i0; i < i1; ++i) {
        const float* row = x + (k * r + i) * k2 + j0;
        for (int64_t j = 0; j < n; ++j) acc[j] = A::add(acc[j], row[j]);
      }
      std::copy(acc, acc + n, partial.begin() + (k * chunks + c) * k2 + j0);
    }
  });
  for (int64_t k = 0; k < k1; ++k)
    for (int64_t j = 0; j < k2; ++j) {
      T s = partial[(k * chunks) * k2 + j];
      for (int64_t c = 1; c < chunks; ++c) s = A::merge(s, partial[(k * chunks + c) * k2 + j]);
      y[k * k2 + j] = static_cast<float>(s);
    }
}

template <class A>
void reduce_blocks(const float* x, std::vector<int64_t> sizes, std::vector<bool> red, float* y) {
  // sizes/red: coalesced blocks, every size >= 2. Reduce the last R block, then recurse.
  int64_t last = -1;
  for (int64_t i = 0; i < static_cast<int64_t>(sizes.size()); ++i)
    if (red[i]) last = i;
  int64_t k1 = 1, k2 = 1;
  for (int64_t i = 0; i < last; ++i) k1 *= sizes[i];
  for (int64_t i = last + 1; i < static_cast<int64_t>(sizes.size()); ++i) k2 *= sizes[i];
  bool more = false;
  for (int64_t i = 0; i < last; ++i) more = more || red[i];
  if (!more) return reduce_pass<A>(x, k1, sizes[last], k2, y);
  std::vector<float> tmp(static_cast<size_t>(k1 * k2));
  reduce_pass<A>(x, k1, sizes[last], k2, tmp.data());
  // The reduced block is gone; the K2 dims after it merge into one kept block.
  sizes.resize(last);
  red.resize(last);
  if (k2 > 1) {
    if (!red.back()) sizes.back() *= k2;
    else sizes.push_back(k2), red.push_back(false);
  }
  reduce_blocks<A>(tmp.data(), sizes, red, y);
}

}  // namespace

void reduce(ReduceKind kind, const float* x, const std::vector<int64_t>& shape,
            const std::vector<bool>& reduced, float* y) {
  int64_t count = 1, numel = 1;
  std::vector<int64_t> sizes;
  std::vector<bool> red;
  for (size_t d = 0; d < shape.size(); ++d) {
    numel *= shape[d];
    if (reduced[d]) count *= shape[d];
    if (shape[d] == 1) continue;
    if (!sizes.empty() && red.back() == reduced[d]) sizes.back() *= shape[d];
    else sizes.push_back(shape[d]), red.push_back(reduced[d]);
  }
  const int64_t y_numel = count == 0 ? 0 : numel / count;  // count == 0: y may be non-empty
  bool any_reduced = false;
  for (const bool r : red) any_reduced = any_reduced || r;
  if (numel == 0) {  // an empty reduction: sum 0, mean NaN (0 / 0); max / min refused upstream
    int64_t n = 1;
    for (size_t d = 0; d < shape.size(); ++d) n *= reduced[d] ? 1 : shape[d];
    std::fill(y, y + n, kind == ReduceKind::mean ? std::numeric_limits<float>::quiet_NaN() : 0.0f);
    return;
  }
  if (!any_reduced) {  // only size-1 dims reduced: a copy
    std::copy(x, x + y_numel, y);
    return;
  }
  switch (kind) {
    case ReduceKind::sum: reduce_blocks<SumAcc>(x, sizes, red, y); break;
    case ReduceKind::mean: {
      reduce_blocks<SumAcc>(x, sizes, red, y);
      const float inv = static_cast<float>(1.0 / static_cast<double>(count));
      parallel_for(0, y_numel, 32768, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) y[i] *= inv;
      });
      break;
    }
    case ReduceKind::max: reduce_blocks<MaxAcc>(x, sizes, red, y); break;
    case ReduceKind::min: reduce_blocks<MinAcc>(x, sizes, red, y); break;
  }
}

void reduce_backward(ReduceKind kind, const float* x, const float* y, const float* dy,
                     const std::vector<int64_t>& shape, const std::vector<bool>& reduced,
                     float* dx) {
  std::vector<int64_t> kshape(shape);  // keepdims shape of y / dy
  int64_t count = 1;
  for (size_t d = 0; d < shape.size(); ++d)
    if (reduced[d]) count *= shape[d], kshape[d] = 1;
  if (kind == ReduceKind::sum || kind == ReduceKind::mean) {
    const float scale = kind == ReduceKind::sum ? 1.0f : static_cast<float>(1.0 / count);
    const BroadcastPlan p = make_broadcast_plan(shape, {shape, kshape});
    with_inner_strides(1, p.inner_stride(1), [&](auto, auto sb) {
      constexpr int SB = decltype(sb)::value;
      parallel_broadcast(p, [&](const int64_t* off, int64_t j0, int64_t j1) {
        float* o = dx + off[0];
        const float* g = dy + off[1];
        for (int64_t j = j0; j < j1; ++j) o[j] = g[j * SB] * scale;
      });
    });
    return;
  }
  // max / min: mask of the extreme positions, their count per slice, then the split gradient.
  const BroadcastPlan pm = make_broadcast_plan(shape, {shape, shape, kshape});
  with_inner_strides(1, pm.inner_stride(2), [&](auto, auto sb) {
    constexpr int SB = decltype(sb)::value;
    parallel_broadcast(pm, [&](const int64_t* off, int64_t j0, int64_t j1) {
      float* o = dx + off[0];
      const float* xv = x + off[1];
      const float* yv = y + off[2];
      for (int64_t j = j0; j < j1; ++j) {
        const float a = xv[j], m = yv[j * SB];
        o[j] = (a == m || (a != a && m != m)) ? 1.0f : 0.0f;
      }
    });
  });
  int64_t y_numel = 1;
  for (const int64_t d : kshape) y_numel *= d;
  std::vector<float> ties(static_cast<size_t>(y_numel));
  reduce(ReduceKind::sum, dx, shape, reduced, ties.data());
  for (float& t : ties) t = t > 0.0f ? 1.0f / t : 0.0f;  // no match (an inconsistent y): 0
  const BroadcastPlan pg = make_broadcast_plan(shape, {shape, kshape, kshape});
  with_inner_strides(1, pg.inner_stride(1), [&](auto, auto sb) {
    constexpr int SB = decltype(sb)::value;
    parallel_broadcast(pg, [&](const int64_t* off, int64_t j0, int64_t j1) {
      float* o = dx + off[0];
      const float* g = dy + off[1];
      const float* w = ties.data() + off[2];
      for (int64_t j = j0; j < j1; ++j) o[j] = o[j] * g[j * SB] * w[j * SB];
    });
  });
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(reduce_forward_stub, Slot::cpu_ref, reduce);
CORENN_REGISTER_KERNEL(reduce_backward_stub, Slot::cpu_ref, reduce_backward);
}  // namespace corenn::cpu
