// Winograd F(2x2, 3x3) and F(4x4, 3x3) conv2d kernels (AVX-512): the same algorithm, tiles and
// buffers as conv2d_winograd_avx2.cpp (whose header comment explains them; the math and the
// choice of when they run are in conv2d_winograd.h), 16 channels per vector, written once for
// both tile sizes: a tile of M x M outputs reads an (M + 2) x (M + 2) input window, and every
// transform is a product with one of the constant matrices of Tile<M> (B^T, G, A^T), unrolled at
// compile time (zero coefficients vanish, +-1 become adds and subtracts). Compiled with
// -mavx512f/vl/bw/dq; part of the avx512 conv2d.kernels set (conv2d_avx512.cpp).
//
// What differs from the AVX2 file:
//   - channels are padded to multiples of 16 (one zmm), and the channel tail of every load and
//     store is a masked access (opmask), never a scalar loop;
//   - the depth loops are 12 tiles x 32 channels (two 16-channel panels; one panel when the
//     padded channel count is an odd number of 16s): 24 zmm accumulators, the shape of the
//     12 x 32 GEMM kernel (gemm_ukr_avx512_f32_12x32.cpp), written as intrinsics here so that
//     they read V / Z where the transforms left them, as the AVX2 depth loops do;
//   - tile blocks are multiples of 12 tiles.
#include "cpu/conv2d_winograd.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/aligned_buffer.h"
#include "core/parallel.h"

namespace corenn::cpu {

namespace {

constexpr int kLanes = 16;      // floats per zmm: the channel padding and the panel width
constexpr int kRows = 12;       // tiles (forward) or output channels (weights) per depth loop

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Grow-only 64-byte aligned scratch per thread; slots keep the users of one call apart.
float* scratch(int slot, int64_t n) {
  thread_local AlignedBuffer buffers[4];
  return buffers[slot].get(static_cast<size_t>(n));
}

// `n` zeros in this thread's own buffer: what a border tile reads for cells outside the image.
const float* zero_row(int64_t n) {
  thread_local AlignedBuffer row;
  float* z = row.get(static_cast<size_t>(n));
  std::memset(z, 0, sizeof(float) * n);
  return z;
}

// Lanes [0, count) set (count clamped to [0, 16]).
inline __mmask16 lanes(int64_t count) {
  return count >= kLanes ? __mmask16(0xFFFF)
                         : count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1);
}

// The output covered by tiles of m x m pixels: th x tw per image, in row-major order.
struct TileGrid {
  int64_t th, tw, per_image, total;
  TileGrid(const Conv2dGeometry& g, int m)
      : th((g.oh + m - 1) / m), tw((g.ow + m - 1) / m), per_image(th * tw), total(g.n * th * tw) {}
};

// Tiles per block: V, the GEMM output (M or Z) and the shared operand (U or this thread's S)
// together in about 384 KB of L2 (as the AVX2 kernels; Zen 4 and Skylake-X have 1 MB or more);
// a multiple of 12 so the depth loops' rows stay inside the block.
int64_t block_tiles(int64_t floats_per_tile, int64_t shared_floats) {
  const int64_t budget = (int64_t{384} << 10) / 4 - shared_floats;
  return std::clamp<int64_t>(budget / floats_per_tile / kRows * kRows, 2 * kRows, 8 * kRows);
}

int tile_parts(int64_t total) {
  return static_cast<int>(std::clamp<int64_t>(total / 24, 1, get_num_threads()));
}

// ---- the transform matrices ---------------------------------------------------------------
//
// Tile<M>: F(M x M, 3x3) with alpha = M + 2 points. For an alpha x alpha input window d, a 3x3
// kernel g and an M x M output tile (see conv2d_winograd.h):
//   y = AT [ (G g G^T) .* (BT d BT^T) ] AT^T,   dg = G^T [ sum (AT^T dy AT) .* (BT d BT^T) ] G
// F(2x2, 3x3) interpolates at 0, 1, -1 and infinity; F(4x4, 3x3) at 0, +-1, +-2 and infinity
// (Lavin & Gray 2016): 36 multiplies per 16 outputs instead of 16 per 4, with larger
// coefficients (up to 8 in AT), so the rounding error grows a few times (still ~1e-6 relative;
// tests/kernels/test_conv2d.py checks both against the float64 reference on inputs of size 10).
template <int M>
struct Tile;

template <>
struct Tile<2> {
  static constexpr int kAlpha = 4;
  static constexpr float BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  static constexpr float G[4][3] = {{1, 0, 0}, {0.5f, 0.5f, 0.5f}, {0.5f, -0.5f, 0.5f}, {0, 0, 1}};
  static constexpr float AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
};

template <>
struct Tile<4> {
  static constexpr int kAlpha = 6;
  static constexpr float BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0},
                                     {0, 4, -4, -1, 1, 0}, {0, -2, -1, 2, 1, 0},
                                     {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static constexpr float G[6][3] = {{1.0f / 4, 0, 0},
                                    {-1.0f / 6, -1.0f / 6, -1.0f / 6},
                                    {-1.0f / 6, 1.0f / 6, -1.0f / 6},
                                    {1.0f / 24, 1.0f / 12, 1.0f / 6},
                                    {1.0f / 24, -1.0f / 12, 1.0f / 6},
                                    {0, 0, 1}};
  static constexpr float AT[4][6] = {
      {1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
};

// out[i * os] = sum_j c(i, j) * in[j * is] for i < R, j < C, with c(i, j) = mat[i][j], or
// mat[j][i] when TRANSPOSED. Inlined and unrolled where mat is one of the constant matrices above,
// so each coefficient is known at compile time: zeros drop out, +-1 are adds / subtracts, others
// one FMA.
template <int R, int C, bool TRANSPOSED, int MR, int MC>
__attribute__((always_inline)) inline void combine(const float (&mat)[MR][MC], const __m512* in,
                                                   int is, __m512* out, int os) {
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
    __m512 acc = _mm512_setzero_ps();
    bool first = true;
#pragma GCC unroll 8
    for (int j = 0; j < C; ++j) {
      const float c = TRANSPOSED ? mat[j][i] : mat[i][j];
      if (c == 0.0f) continue;
      const __m512 v = in[j * is];
      if (first) {
        acc = c == 1.0f ? v : c == -1.0f ? _mm512_sub_ps(_mm512_setzero_ps(), v)
                                          : _mm512_mul_ps(_mm512_set1_ps(c), v);
        first = false;
      } else {
        acc = c == 1.0f ? _mm512_add_ps(acc, v)
                        : c == -1.0f ? _mm512_sub_ps(acc, v)
                                     : _mm512_fmadd_ps(_mm512_set1_ps(c), v, acc);
      }
    }
    out[i * os] = acc;
  }
}

// out (R x R) = L in L^T for in (C x C), both row-major, L = mat (R x C) or mat^T (TRANSPOSED).
template <int R, int C, bool TRANSPOSED, int MR, int MC>
__attribute__((always_inline)) inline void two_sided(const float (&mat)[MR][MC], const __m512* in,
                                                     __m512* out) {
  __m512 t[R * C];
#pragma GCC unroll 8
  for (int j = 0; j < C; ++j) combine<R, C, TRANSPOSED>(mat, in + j, C, t + j, C);  // columns
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) combine<R, C, TRANSPOSED>(mat, t + i * C, 1, out + i * R, 1);  // rows
}

// ---- transforms (16 channels per vector) -------------------------------------------------------

// Where transform_input puts V: position p, tile t, channel c at
//   dst + p * pos_stride + t * tile_stride + c / 16 * panel_stride + c % 16
// (row-major per position: tile_stride = Cin16, panel_stride = 16; 16-channel B panels:
// tile_stride = 16, panel_stride = block * 16). All strides are multiples of 16 floats: the
// stores are aligned.
struct VLayout {
  float* dst;
  int64_t pos_stride, tile_stride, panel_stride;
};

// V = BT d BT^T of tiles [t0, t0 + nt), channel vectors c = 0, 16, .., cpad - 16 (lanes at or past
// Cin are zero: masked loads). Tile t reads the alpha x alpha window at (M ty - pt, M tx - pl).
template <int M>
void transform_input(const Conv2dGeometry& g, const TileGrid& tg, const float* x, int64_t t0,
                     int64_t nt, int64_t cpad, const VLayout out) {
  constexpr int kA = Tile<M>::kAlpha, kP = kA * kA;
  const float* zeros = zero_row(cpad);
  int64_t interior_off[kP];
  for (int k = 0; k < kP; ++k) interior_off[k] = ((k / kA) * g.w + (k % kA)) * g.cin;
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tile = t0 + t, n = tile / tg.per_image, r = tile % tg.per_image;
    const int64_t iy0 = r / tg.tw * M - g.pt, ix0 = r % tg.tw * M - g.pl;
    const float* img = x + n * g.h * g.w * g.cin;
    float* dst = out.dst + t * out.tile_stride;
    const float* src[kP];
    if (iy0 >= 0 && ix0 >= 0 && iy0 + kA <= g.h && ix0 + kA <= g.w) {
      const float* base = img + (iy0 * g.w + ix0) * g.cin;
      for (int k = 0; k < kP; ++k) src[k] = base + interior_off[k];
    } else {  // border tile: cells outside the image read a row of zeros
      for (int k = 0; k < kP; ++k) {
        const int64_t iy = iy0 + k / kA, ix = ix0 + k % kA;
        src[k] = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? img + (iy * g.w + ix) * g.cin : zeros;
      }
    }
    __m512 d[kP], v[kP];
    for (int64_t c = 0; c < cpad; c += kLanes) {
      if (c + kLanes <= g.cin) {
        for (int k = 0; k < kP; ++k) d[k] = _mm512_loadu_ps(src[k] + c);
      } else {
        const __mmask16 mask = lanes(g.cin - c);
        for (int k = 0; k < kP; ++k) d[k] = _mm512_maskz_loadu_ps(mask, src[k] + c);
      }
      two_sided<kA, kA, false>(Tile<M>::BT, d, v);
      float* o = dst + c / kLanes * out.panel_stride;
      for (int k = 0; k < kP; ++k) _mm512_store_ps(o + k * out.pos_stride, v[k]);
    }
  }
}

// U[p] = G g G^T for every (ci, co), as 16-column B panels: U + ((p * Cout16 / 16 + co / 16)
// * Cin16 + ci) * 16 + co % 16; rows ci >= Cin and columns co >= Cout are zero.
template <int M>
void transform_kernel(const Conv2dGeometry& g, const float* w, int64_t cin16, int64_t cout16,
                      float* u) {
  constexpr int kA = Tile<M>::kAlpha, kP = kA * kA;
  std::memset(u, 0, sizeof(float) * kP * cin16 * cout16);
  parallel_for(0, g.cin, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t ci = lo; ci < hi; ++ci)
      for (int64_t co = 0; co < g.cout; co += kLanes) {
        const __mmask16 mask = lanes(g.cout - co);
        __m512 k[9], o[kP];
        for (int tap = 0; tap < 9; ++tap)
          k[tap] = _mm512_maskz_loadu_ps(mask, w + (tap * g.cin + ci) * g.cout + co);
        two_sided<kA, 3, false>(Tile<M>::G, k, o);
        // masked-off lanes loaded as zeros, so the whole vector is stored
        for (int p = 0; p < kP; ++p)
          _mm512_store_ps(u + ((p * cout16 / kLanes + co / kLanes) * cin16 + ci) * kLanes, o[p]);
      }
  });
}

// y for tiles [t0, t0 + nt) from M (position p of tile t at m + (p * block + t) * cout16):
// AT m AT^T, + bias, relu, stored where the tile's pixels fall inside y.
template <int M>
void transform_output(const Conv2dGeometry& g, const TileGrid& tg, const float* m, int64_t block,
                      int64_t cout16, const float* bias, const WinogradEpilogue& ep, int64_t t0,
                      int64_t nt, float* y) {
  constexpr int kA = Tile<M>::kAlpha, kP = kA * kA;
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tile = t0 + t, n = tile / tg.per_image, r = tile % tg.per_image;
    const int64_t oy0 = r / tg.tw * M, ox0 = r % tg.tw * M;
    const int rows = static_cast<int>(std::min<int64_t>(M, g.oh - oy0));
    const int cols = static_cast<int>(std::min<int64_t>(M, g.ow - ox0));
    const int64_t at = ((n * g.oh + oy0) * g.ow + ox0) * g.cout;
    float* out = y + at;
    const float* mt = m + t * cout16;
    for (int64_t co = 0; co < g.cout; co += kLanes) {
      __m512 v[kP], o[M * M];
      for (int p = 0; p < kP; ++p) v[p] = _mm512_load_ps(mt + p * block * cout16 + co);
      two_sided<M, kA, false>(Tile<M>::AT, v, o);
      const __mmask16 mask = lanes(g.cout - co);
      const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + co) : zero;
      for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j) {
          const int64_t off = (i * g.ow + j) * g.cout + co;
          __m512 val = _mm512_add_ps(o[i * M + j], b);
          if (ep.add) val = _mm512_add_ps(val, _mm512_maskz_loadu_ps(mask, ep.add + at + off));
          if (ep.relu_of) {  // as sum_n_relu_grad: y > 0 ? v : v * y (a NaN y gives NaN)
            const __m512 yv = _mm512_maskz_loadu_ps(mask, ep.relu_of + at + off);
            val = _mm512_mask_mul_ps(val, _mm512_cmp_ps_mask(yv, zero, _CMP_NGT_UQ), val, yv);
          }
          if (ep.relu) val = _mm512_max_ps(zero, val);  // zero first: MAXPS keeps a NaN val
          _mm512_mask_storeu_ps(out + off, mask, val);
        }
    }
  }
}

// Z = AT^T e AT (e the M x M dy tile, zeros past the output's edge; z alpha x alpha) for tiles
// [t0, t0 + nt), channel vectors up to cout16, into z + (p * block + t) * cout16 + co; the dy
// values also go into the bias sums db16 (Cout16).
template <int M>
void transform_dy(const Conv2dGeometry& g, const TileGrid& tg, const float* dy, int64_t t0,
                  int64_t nt, int64_t block, int64_t cout16, float* z, float* db16) {
  constexpr int kA = Tile<M>::kAlpha, kP = kA * kA;
  const float* zeros = zero_row(cout16);
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tile = t0 + t, n = tile / tg.per_image, r = tile % tg.per_image;
    const int64_t oy0 = r / tg.tw * M, ox0 = r % tg.tw * M;
    const float* src[M * M];
    for (int k = 0; k < M * M; ++k) {
      const int64_t oy = oy0 + k / M, ox = ox0 + k % M;
      src[k] = oy < g.oh && ox < g.ow ? dy + ((n * g.oh + oy) * g.ow + ox) * g.cout : zeros;
    }
    for (int64_t co = 0; co < cout16; co += kLanes) {
      const __mmask16 mask = lanes(g.cout - co);
      __m512 e[M * M], zt[kP];
      __m512 sum = _mm512_load_ps(db16 + co);
      for (int k = 0; k < M * M; ++k) {
        e[k] = _mm512_maskz_loadu_ps(mask, src[k] + co);
        sum = _mm512_add_ps(sum, e[k]);
      }
      _mm512_store_ps(db16 + co, sum);
      two_sided<kA, M, true>(Tile<M>::AT, e, zt);
      for (int p = 0; p < kP; ++p) _mm512_store_ps(z + (p * block + t) * cout16 + co, zt[p]);
    }
  }
}

// dw[ky, kx, ci, co] = (G^T S[., co, ci] G)[ky, kx]; s holds S^T per position: s + (p * Cout + co)
// * cin16 + ci. 16 input channels at a time (masked at the Cin tail), scattered into dw's
// (ci, co) layout with a stride of Cout.
template <int M>
void transform_weight_grad(const Conv2dGeometry& g, const float* s, int64_t cin16, float* dw) {
  constexpr int kA = Tile<M>::kAlpha, kP = kA * kA;
  const __m512i stride = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
      _mm512_set1_epi32(static_cast<int>(g.cout)));
  for (int64_t co = 0; co < g.cout; ++co)
    for (int64_t ci = 0; ci < g.cin; ci += kLanes) {
      const __mmask16 mask = lanes(g.cin - ci);
      __m512 v[kP], r[9];
      for (int p = 0; p < kP; ++p) v[p] = _mm512_loadu_ps(s + (p * g.cout + co) * cin16 + ci);
      two_sided<3, kA, true>(Tile<M>::G, v, r);
      for (int tap = 0; tap < 9; ++tap)
        _mm512_mask_i32scatter_ps(dw + (tap * g.cin + ci) * g.cout + co, mask, stride, r[tap], 4);
    }
}

// ---- the depth loops ---------------------------------------------------------------------------

// C[0:m, 0:16 NV] := (or += when ADD) A (12 x kc) @ B (kc x 16 NV), rows r >= m computed but not
// stored. A(r, p) is a[p * lda + r] (COLS: Z^T read in place) or a[r * lda + p] (V's rows); B is
// NV 16-column panels, row p of panel v at b + v * b_next + p * 16 (64-byte aligned).
template <int NV, bool COLS, bool ADD>
__attribute__((always_inline)) inline void depth_tile(int64_t kc, const float* a, int64_t lda,
                                                      const float* b, int64_t b_next, float* c,
                                                      int64_t ldc, int m) {
  __m512 acc[kRows][NV];
#pragma GCC unroll 12
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    __m512 bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + v * b_next + p * kLanes);
    const float* ap = COLS ? a + p * lda : a + p;
#pragma GCC unroll 12
    for (int r = 0; r < kRows; ++r) {
      const __m512 ar = _mm512_set1_ps(COLS ? ap[r] : ap[r * lda]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < kRows; ++r) {
    if (r >= m) break;
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      float* cr = c + r * ldc + v * kLanes;
      _mm512_storeu_ps(cr, ADD ? _mm512_add_ps(_mm512_loadu_ps(cr), acc[r][v]) : acc[r][v]);
    }
  }
}

}  // namespace

namespace {

template <int M>
void forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y,
             const WinogradEpilogue& ep) {
  constexpr int kA = Tile<M>::kAlpha, kP = kA * kA;
  const TileGrid tg(g, M);
  const int64_t cin16 = round_up(g.cin, kLanes), cout16 = round_up(g.cout, kLanes);
  float* u = scratch(0, kP * cin16 * cout16);
  transform_kernel<M>(g, w, cin16, cout16, u);
  const int64_t block = block_tiles(kP * (cin16 + cout16), kP * cin16 * cout16);
  const int parts = tile_parts(tg.total);
  const int64_t u_panel = cin16 * kLanes;  // floats between U's 16-column panels
  parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t part = lo; part < hi; ++part) {
      // block is a multiple of 12: the depth loop's 12 rows stay inside v past the last tile.
      float* v = scratch(1, kP * block * cin16);
      float* m = scratch(2, kP * block * cout16);
      const int64_t t_hi = tg.total * (part + 1) / parts;
      for (int64_t t0 = tg.total * part / parts; t0 < t_hi; t0 += block) {
        const int64_t nt = std::min(block, t_hi - t0);
        transform_input<M>(g, tg, x, t0, nt, cin16, VLayout{v, block * cin16, cin16, kLanes});
        // the next block's x and y, a share per position (conv2d_winograd.h: BlockPrefetch)
        BlockPrefetch next(TileRange{tg.per_image, tg.tw, M, t0 + nt, std::min(block, t_hi - t0 - nt)});
        next.add(x, g.h, g.w * g.cin, g.pt, kA);
        next.add(y, g.oh, g.ow * g.cout, 0, M);
        next.add(ep.add, g.oh, g.ow * g.cout, 0, M);
        next.add(ep.relu_of, g.oh, g.ow * g.cout, 0, M);
        for (int p = 0; p < kP; ++p) {
          next.step(kP - p);
          const float* vp = v + p * block * cin16;
          const float* up = u + p * cout16 * cin16;
          float* mp = m + p * block * cout16;
          int64_t j = 0;
          for (; j + 2 * kLanes <= cout16; j += 2 * kLanes)
            for (int64_t i = 0; i < nt; i += kRows)
              depth_tile<2, false, false>(cin16, vp + i * cin16, cin16, up + j * cin16, u_panel,
                                          mp + i * cout16 + j, cout16,
                                          static_cast<int>(std::min<int64_t>(kRows, nt - i)));
          if (j < cout16)
            for (int64_t i = 0; i < nt; i += kRows)
              depth_tile<1, false, false>(cin16, vp + i * cin16, cin16, up + j * cin16, u_panel,
                                          mp + i * cout16 + j, cout16,
                                          static_cast<int>(std::min<int64_t>(kRows, nt - i)));
        }
        transform_output<M>(g, tg, m, block, cout16, bias, ep, t0, nt, y);
      }
    }
  });
}

template <int M>
void backward_weights(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                      float* db) {
  constexpr int kA = Tile<M>::kAlpha, kP = kA * kA;
  const TileGrid tg(g, M);
  const int64_t cin16 = round_up(g.cin, kLanes), cout16 = round_up(g.cout, kLanes);
  const int64_t s_len = kP * g.cout * cin16;  // one thread's S^T
  const int64_t stride = round_up(s_len, kLanes) + cout16;  // ... and its bias sums (aligned)
  const int64_t block = block_tiles(kP * (cin16 + cout16), s_len);
  const int parts = tile_parts(tg.total);
  float* partial = scratch(0, parts * stride);
  std::memset(partial, 0, sizeof(float) * parts * stride);
  parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t part = lo; part < hi; ++part) {
      float* s = partial + part * stride;
      float* v = scratch(1, kP * block * cin16);
      // The depth loop reads 12 output channels per step: up to 11 past Cout16 at the last tile.
      float* z = scratch(2, kP * block * cout16 + kLanes);
      const int64_t t_hi = tg.total * (part + 1) / parts;
      for (int64_t t0 = tg.total * part / parts; t0 < t_hi; t0 += block) {
        const int64_t nt = std::min(block, t_hi - t0);
        // V as B panels of 16 channels: panel (p, c / 16), row t.
        transform_input<M>(g, tg, x, t0, nt, cin16, VLayout{v, cin16 * block, kLanes, block * kLanes});
        transform_dy<M>(g, tg, dy, t0, nt, block, cout16, z, s + stride - cout16);
        BlockPrefetch next(TileRange{tg.per_image, tg.tw, M, t0 + nt, std::min(block, t_hi - t0 - nt)});
        next.add(x, g.h, g.w * g.cin, g.pt, kA);
        next.add(dy, g.oh, g.ow * g.cout, 0, M);
        for (int p = 0; p < kP; ++p) {
          next.step(kP - p);
          // Z[p] is (nt, Cout16) row-major: Z[p]^T (Cout, nt) is column-major with stride Cout16.
          const float* zp = z + p * block * cout16;
          float* sp = s + p * g.cout * cin16;
          const float* vp = v + p * cin16 * block;
          const int64_t v_panel = block * kLanes;
          int64_t j = 0;
          for (; j + 2 * kLanes <= cin16; j += 2 * kLanes)
            for (int64_t i = 0; i < g.cout; i += kRows)
              depth_tile<2, true, true>(nt, zp + i, cout16, vp + j / kLanes * v_panel, v_panel,
                                        sp + i * cin16 + j, cin16,
                                        static_cast<int>(std::min<int64_t>(kRows, g.cout - i)));
          if (j < cin16)
            for (int64_t i = 0; i < g.cout; i += kRows)
              depth_tile<1, true, true>(nt, zp + i, cout16, vp + j / kLanes * v_panel, v_panel,
                                        sp + i * cin16 + j, cin16,
                                        static_cast<int>(std::min<int64_t>(kRows, g.cout - i)));
        }
      }
    }
  });
  for (int part = 1; part < parts; ++part)
    for (int64_t i = 0; i < stride; ++i) partial[i] += partial[part * stride + i];
  transform_weight_grad<M>(g, partial, cin16, dw);
  if (db) std::memcpy(db, partial + stride - cout16, sizeof(float) * g.cout);
}

}  // namespace

void winograd_forward_avx512(const Conv2dGeometry& g, const float* x, const float* w,
                             const float* bias, float* y, const WinogradEpilogue& ep) {
  forward<2>(g, x, w, bias, y, ep);
}

void winograd_backward_weights_avx512(const Conv2dGeometry& g, const float* x, const float* dy,
                                      float* dw, float* db) {
  backward_weights<2>(g, x, dy, dw, db);
}

void winograd4_forward_avx512(const Conv2dGeometry& g, const float* x, const float* w,
                              const float* bias, float* y, const WinogradEpilogue& ep) {
  forward<4>(g, x, w, bias, y, ep);
}

void winograd4_backward_weights_avx512(const Conv2dGeometry& g, const float* x, const float* dy,
                                       float* dw, float* db) {
  backward_weights<4>(g, x, dy, dw, db);
}

}  // namespace corenn::cpu
