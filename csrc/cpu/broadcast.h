// Broadcast iteration shared by the tensor-math kernels (binary, reduce backward).
//
// Operand 0 is the full-shaped output (contiguous, shape `out`); operands 1.. are contiguous
// tensors whose shapes broadcast to `out` by NumPy's rule (right-aligned, size 1 or absent ->
// repeated). A plan describes all of them with per-dimension element strides (0 on a broadcast
// dimension), after coalescing:
//   - dimensions of size 1 in `out` are dropped (they index nothing);
//   - adjacent dimensions d, d+1 merge when every operand has stride[d] == stride[d+1] * dim[d+1]
//     (both contiguous, or both broadcast), so (N, C) + (N, C) is one dimension of N*C and
//     (N, C) + (C,) is N rows of C with b's row stride 0.
// The last (inner) dimension then has stride 0 or 1 for every operand: kernels template their
// inner loop on those, a plain loop the compiler vectorises.
//
// parallel_broadcast hands f(offsets, j0, j1) row pieces: offsets[o] is operand o's element
// offset of the row start, [j0, j1) a range of the inner dimension. Long rows are cut into column
// blocks so one big row (equal shapes, a scalar operand) still spreads over threads; short rows
// are walked with an odometer (no division per row).
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/parallel.h"

namespace corenn::cpu {

constexpr int kMaxBroadcastOperands = 4;
// Coalesced dims all have size >= 2 and a tensor holds at most 2^48 bytes, so rank <= 48.
constexpr int kMaxBroadcastRank = 64;

struct BroadcastPlan {
  int nops = 0;
  std::vector<int64_t> dims;                              // coalesced output dims, rank >= 1
  std::vector<int64_t> strides[kMaxBroadcastOperands];    // per operand, per coalesced dim
  int64_t numel = 0;
  int64_t inner() const { return dims.back(); }
  int64_t inner_stride(int op) const { return strides[op].back(); }
};

// `shapes` are the operands' shapes (shapes[0] == out), each broadcastable to out (checked by
// the op entry).
inline BroadcastPlan make_broadcast_plan(const std::vector<int64_t>& out,
                                         const std::vector<std::vector<int64_t>>& shapes) {
  BroadcastPlan p;
  p.nops = static_cast<int>(shapes.size());
  const int64_t rank = static_cast<int64_t>(out.size());
  std::vector<std::vector<int64_t>> full(shapes.size());  // strides before coalescing
  for (size_t o = 0; o < shapes.size(); ++o) {
    const auto& s = shapes[o];
    const int64_t pad = rank - static_cast<int64_t>(s.size());
    full[o].assign(rank, 0);
    int64_t stride = 1;
    for (int64_t d = rank - 1; d >= 0; --d) {
      const int64_t sd = d >= pad ? s[d - pad] : 1;
      full[o][d] = (sd == 1) ? 0 : stride;
      stride *= sd;
    }
  }
  p.numel = 1;
  for (int64_t d = 0; d < rank; ++d) {
    p.numel *= out[d];
    if (out[d] == 1) continue;
    bool merge = !p.dims.empty();
    for (int o = 0; o < p.nops && merge; ++o)
      merge = p.strides[o].back() == full[o][d] * out[d];
    if (merge) {
      p.dims.back() *= out[d];
      for (int o = 0; o < p.nops; ++o) p.strides[o].back() = full[o][d];
    } else {
      p.dims.push_back(out[d]);
      for (int o = 0; o < p.nops; ++o) p.strides[o].push_back(full[o][d]);
    }
  }
  if (p.dims.empty()) {  // every dim is 1: one element
    p.dims.push_back(1);
    for (int o = 0; o < p.nops; ++o) p.strides[o].push_back(1);
  }
  return p;
}

namespace detail {
constexpr int64_t kBroadcastBlock = 16384;  // floats per work item

// Offsets of row `row` (an index over every dim but the inner one).
inline void row_offsets(const BroadcastPlan& p, int64_t row, int64_t* off, int64_t* idx) {
  for (int o = 0; o < p.nops; ++o) off[o] = 0;
  for (int64_t d = static_cast<int64_t>(p.dims.size()) - 2; d >= 0; --d) {
    idx[d] = row % p.dims[d];
    row /= p.dims[d];
    for (int o = 0; o < p.nops; ++o) off[o] += idx[d] * p.strides[o][d];
  }
}
}  // namespace detail

template <class F>
void parallel_broadcast(const BroadcastPlan& p, const F& f) {
  if (p.numel == 0) return;
  const int64_t inner = p.inner(), rows = p.numel / inner;
  const int64_t outer_rank = static_cast<int64_t>(p.dims.size()) - 1;
  if (inner >= detail::kBroadcastBlock) {
    const int64_t blocks = (inner + detail::kBroadcastBlock - 1) / detail::kBroadcastBlock;
    parallel_for(0, rows * blocks, 1, [&](int64_t lo, int64_t hi) {
      int64_t idx[kMaxBroadcastRank], off[kMaxBroadcastOperands];
      for (int64_t t = lo; t < hi; ++t) {
        detail::row_offsets(p, t / blocks, off, idx);
        const int64_t j0 = (t % blocks) * detail::kBroadcastBlock;
        f(static_cast<const int64_t*>(off), j0, std::min(inner, j0 + detail::kBroadcastBlock));
      }
    });
    return;
  }
  parallel_for(0, rows, std::max<int64_t>(1, detail::kBroadcastBlock / inner),
               [&](int64_t lo, int64_t hi) {
    int64_t idx[kMaxBroadcastRank], off[kMaxBroadcastOperands];
    detail::row_offsets(p, lo, off, idx);
    for (int64_t row = lo; row < hi; ++row) {
      f(static_cast<const int64_t*>(off), int64_t{0}, inner);
      for (int64_t d = outer_rank - 1; d >= 0; --d) {  // odometer step to the next row
        for (int o = 0; o < p.nops; ++o) off[o] += p.strides[o][d];
        if (++idx[d] < p.dims[d]) break;
        for (int o = 0; o < p.nops; ++o) off[o] -= p.strides[o][d] * p.dims[d];
        idx[d] = 0;
      }
    }
  });
}

// Calls f(std::integral_constant<int, SA>, std::integral_constant<int, SB>) with SA, SB the
// inner strides (0 or 1) of two operands, so the kernel's inner loop is compiled per pattern.
template <class F>
void with_inner_strides(int64_t sa, int64_t sb, const F& f) {
  using one = std::integral_constant<int, 1>;
  using zero = std::integral_constant<int, 0>;
  if (sa && sb) f(one{}, one{});
  else if (sa) f(one{}, zero{});
  else if (sb) f(zero{}, one{});
  else f(zero{}, zero{});
}

}  // namespace corenn::cpu
