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

#ifdef CORENN_X86_64  // the *_avx2 / *_avx512 files are compiled only on x86-64
// y := act(conv(x, w) + bias) for a geometry with winograd_shape_ok; bias may be nullptr.
void winograd_forward_avx2(const Conv2dGeometry& g, const float* x, const float* w,
                           const float* bias, float* y, bool relu);

// dw := dL/dw (Keras layout), db := column sums of dy when not nullptr; winograd_shape_ok(g).
void winograd_backward_weights_avx2(const Conv2dGeometry& g, const float* x, const float* dy,
                                    float* dw, float* db);
// The same two on AVX-512 (conv2d_winograd_avx512.cpp): 16 channels per vector, masked tails,
// 12 x 32 depth loops.
void winograd_forward_avx512(const Conv2dGeometry& g, const float* x, const float* w,
                             const float* bias, float* y, bool relu);
void winograd_backward_weights_avx512(const Conv2dGeometry& g, const float* x, const float* dy,
                                      float* dw, float* db);
// F(4x4, 3x3) on AVX-512, for geometries with winograd4_shape_ok.
void winograd4_forward_avx512(const Conv2dGeometry& g, const float* x, const float* w,
                              const float* bias, float* y, bool relu);
void winograd4_backward_weights_avx512(const Conv2dGeometry& g, const float* x, const float* dy,
                                       float* dw, float* db);
#endif

}  // namespace corenn::cpu
