// Winograd F(2x2, 3x3) for stride-1, undilated 3x3 convolutions (AVX2 and AVX-512), and F(4x4, 3x3)
// (AVX-512): the forward pass (and, through the flipped-kernel form, the stride-1 data gradient)
// and the weight gradient. F(4x4, 3x3) is the same algorithm on 4x4 output tiles read from 6x6
// windows (36 positions; its matrices are in conv2d_winograd_avx512.cpp).
//
// Math (Lavin & Gray 2016), written for F(2x2, 3x3). A 2x2 output tile needs a 4x4 input tile d; with
//   B^T = | 1  0 -1  0 |   G = | 1    0    0  |   A^T = | 1  1  1  0 |
//         | 0  1  1  0 |       | 1/2  1/2  1/2|         | 0  1 -1 -1 |
//         | 0 -1  1  0 |       | 1/2 -1/2  1/2|
//         | 0  1  0 -1 |       | 0    0    1  |
//   forward   y_tile = A^T [ sum_ci (G g[ci,co] G^T) .* (B^T d[ci] B) ] A
//   weights   dw[ci,co] = G^T [ sum_tiles (B^T d[ci] B) .* (A dy_tile[co] A^T) ] G
// For each of the 16 positions (xi, nu) of the 4x4 transformed tile the sum over channels
// (forward) or over tiles (weights) is a GEMM, run on the GEMM engine's micro-kernel:
//   forward   M[xi nu] (tiles, Cout) = V[xi nu] (tiles, Cin) @ U[xi nu] (Cin, Cout)
//   weights   S[xi nu]^T (Cout, Cin) = Z[xi nu]^T (Cout, tiles) @ V[xi nu] (tiles, Cin)
// 16 GEMMs of K = Cin do the work of 36 multiplies per tile and channel pair with 16: 2.25x
// fewer flops than the implicit GEMM, less the transforms and the padding of odd outputs to
// whole tiles. The transforms run per block of tiles sized so that V, M (or Z, S) and U stay in
// L2, threads take contiguous tile ranges, and the weight gradient sums per-thread partials in
// thread order (reproducible for a thread count). Numerics: the transforms only add, subtract
// and halve, so the error stays at the level of the direct sum (checked in tests/ops).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/cpu_features.h"
#include "ops/conv2d.h"

namespace corenn::cpu {

// CORENN_WINOGRAD in the environment (read once): 0 turns the Winograd kernels off (for A/B timing
// against the implicit GEMM, or results that do not depend on this choice); 2 keeps them to
// F(2x2, 3x3) (A/B against F(4x4, 3x3)).
inline const char* winograd_setting() {
  static const std::string value = [] {
    const char* v = std::getenv("CORENN_WINOGRAD");
    return std::string(v ? v : "");
  }();
  return value.c_str();
}
inline bool winograd_enabled() { return std::string(winograd_setting()) != "0"; }

// Whether the Winograd kernels take this conv. Measured against the implicit GEMM on the 2-core
// AVX2 machine (2 threads, forward / data / weights ms): they win once both channel counts are
// >= 16 and the tile grid does not overshoot the output by much: 7x7 outputs (tiles cover 1.31x)
// 0.86 / 0.88 / 1.14 vs 1.34 / 1.36 / 2.55 at 64x7x7x64->64 'same', but 3x3 outputs (1.78x) and
// the data gradient of a 5x5 one (1.44x, nearly all border tiles) lose (conv3 of the CNN: data
// gradient 0.57 vs 0.32). Very wide layers would need U (16 Cin Cout floats) and the per-thread
// partials blocked for L2, which these kernels do not do: above 256 channels they stay on the
// implicit GEMM.
inline bool winograd_shape_ok(const Conv2dGeometry& g) {
  if (!winograd_enabled() || g.kh != 3 || g.kw != 3 || g.sh != 1 ||
      g.sw != 1 || g.dh != 1 || g.dw != 1 || g.cin < 16 || g.cout < 16 || g.cin > 256 ||
      g.cout > 256)
    return false;
  const int64_t tiled = ((g.oh + 1) / 2 * 2) * ((g.ow + 1) / 2 * 2);
  return 20 * tiled <= 27 * g.oh * g.ow;  // the 2x2 tiles cover at most 1.35x the output
}

// Whether F(4x4, 3x3) takes a conv that F(2x2, 3x3) would: where its 4x4 tiles cover the output
// about as tightly (at most 1.1x the 2x2 tiles' area: 28x28, 14x14 -> 16x16 tiles over 14x14
// for 1.31x vs 1.0x is refused). Its multiply stage does 36 / 16 = 2.25 multiplies per output
// against F(2x2)'s 4 and its transforms cost about the same per output, so where the tiles fit
// it is the faster of the two (bench/kernels/bench_conv, AVX-512: see the README's table).
inline bool winograd4_shape_ok(const Conv2dGeometry& g) {
  if (!winograd_shape_ok(g) || std::string(winograd_setting()) == "2") return false;
  const int64_t tiled2 = ((g.oh + 1) / 2 * 2) * ((g.ow + 1) / 2 * 2);
  const int64_t tiled4 = ((g.oh + 3) / 4 * 4) * ((g.ow + 3) / 4 * 4);
  return 10 * tiled4 <= 11 * tiled2;
}

// What the output transform does to each value v after the bias: relu (a forward with a fused
// activation); or, for a data gradient that is a relu output's last gradient part (fusion rule 5,
// conv2d_backward_data_relu_sum), v += add[i] and then relu's gradient from that output,
// v = relu_of[i] > 0 ? v : v * relu_of[i] (add and relu_of laid out as y; either may be null).
struct WinogradEpilogue {
  bool relu = false;
  const float* add = nullptr;
  const float* relu_of = nullptr;
};

#ifdef CORENN_X86_64  // the *_avx2 / *_avx512 files are compiled only on x86-64

// Internal linkage: this header is compiled into the AVX2 and the AVX-512 files, and an inline
// function left out of line would be one weak symbol the linker picks for both (ARCHITECTURE.md,
// the COMDAT rule); here each object keeps its own copy.
namespace {

// Tiles [t0, t0 + count) of a grid of m x m output tiles, tiles_per_row per tile row and
// per_image per image, numbered row-major image after image.
struct TileRange {
  int64_t per_image, tiles_per_row;
  int m;
  int64_t t0, count;
};

// Software prefetch of the next block of tiles' input and output (or dy) into L2, spread over the
// current block's depth loops. Why: in a training step a conv's input comes from DRAM (the layers
// since it was written streamed other tensors through the caches), and the transforms walk it as
// windows a few hundred bytes wide, which the hardware prefetcher does not run far enough ahead
// of. The depth loops of one block are FMA-bound for long enough to cover the next block's loads.
// Measured on the 2-core Zen 5 (AVX-512, F(4x4)), 64x28x28x32 -> 32 'same' with x not in cache,
// A/B in one process: forward 2.06 -> 1.41 ms, weight gradient 2.24 -> 1.50 ms; the residual CNN's
// fit epoch 7,228 -> 8,571 samples/s. A plain prefetch (T1) for the output too: the store's
// ownership request then finds the line in L2 (PREFETCHW is not on every x86-64 CPU).
class BlockPrefetch {
 public:
  explicit BlockPrefetch(const TileRange& tiles) : tiles_(tiles) {}

  // The rows of an NHWC tensor (height rows per image, row_floats floats per row) that the tiles
  // read: windows of `span` rows starting `pad` rows above each tile row.
  void add(const float* base, int64_t height, int64_t row_floats, int64_t pad, int span) {
    if (!base || tiles_.count <= 0 || count_ == kMaxRanges) return;
    const int64_t first = tiles_.t0, last = tiles_.t0 + tiles_.count - 1;
    const auto tile_row = [&](int64_t t) { return t % tiles_.per_image / tiles_.tiles_per_row; };
    const int64_t lo = first / tiles_.per_image * height + std::max<int64_t>(tile_row(first) * tiles_.m - pad, 0);
    const int64_t hi = last / tiles_.per_image * height +
                       std::min<int64_t>(tile_row(last) * tiles_.m - pad + span, height);
    if (hi > lo)
      ranges_[count_++] = {reinterpret_cast<const char*>(base + lo * row_floats),
                           reinterpret_cast<const char*>(base + hi * row_floats)};
  }

  // Issues 1 / steps_left of the cache lines not yet prefetched.
  void step(int steps_left) {
    for (int i = 0; i < count_; ++i) {
      Range& r = ranges_[i];
      const int64_t lines = (r.end - r.next + 63) / 64;
      const int64_t share = (lines + steps_left - 1) / std::max(steps_left, 1);
      for (int64_t k = 0; k < share; ++k, r.next += 64) __builtin_prefetch(r.next, 0, 2);  // T1
    }
  }

 private:
  struct Range {
    const char* next;
    const char* end;
  };
  static constexpr int kMaxRanges = 4;  // x, y and the epilogue's add and relu_of
  TileRange tiles_;
  Range ranges_[kMaxRanges];
  int count_ = 0;
};

}  // namespace

// y := act(conv(x, w) + bias) for a geometry with winograd_shape_ok; bias may be nullptr.
void winograd_forward_avx2(const Conv2dGeometry& g, const float* x, const float* w,
                           const float* bias, float* y, const WinogradEpilogue& ep);
// The same in two halves: U = G w G^T (winograd_kernel_floats_avx2(g) floats, the layout the
// multiply stage reads), then the forward from U. winograd_forward_avx2 runs both on every call;
// at inference conv2d.cpp keeps U on the weight (core/kept_derived.h) and runs only the second.
int64_t winograd_kernel_floats_avx2(const Conv2dGeometry& g);
void winograd_transform_kernel_avx2(const Conv2dGeometry& g, const float* w, float* u);
void winograd_forward_transformed_avx2(const Conv2dGeometry& g, const float* x, const float* u,
                                       const float* bias, float* y, const WinogradEpilogue& ep);

// dw := dL/dw (Keras layout), db := column sums of dy when not nullptr; winograd_shape_ok(g).
void winograd_backward_weights_avx2(const Conv2dGeometry& g, const float* x, const float* dy,
                                    float* dw, float* db);
// The same two on AVX-512 (conv2d_winograd_avx512.cpp): 16 channels per vector, masked tails,
// 12 x 32 depth loops.
void winograd_forward_avx512(const Conv2dGeometry& g, const float* x, const float* w,
                             const float* bias, float* y, const WinogradEpilogue& ep);
void winograd_backward_weights_avx512(const Conv2dGeometry& g, const float* x, const float* dy,
                                      float* dw, float* db);
// F(4x4, 3x3) on AVX-512, for geometries with winograd4_shape_ok.
void winograd4_forward_avx512(const Conv2dGeometry& g, const float* x, const float* w,
                              const float* bias, float* y, const WinogradEpilogue& ep);
void winograd4_backward_weights_avx512(const Conv2dGeometry& g, const float* x, const float* dy,
                                       float* dw, float* db);
#endif

}  // namespace corenn::cpu
