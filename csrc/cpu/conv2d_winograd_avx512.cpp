// Winograd F(2x2, 3x3) conv2d kernels (AVX-512): the same algorithm, tiles and buffers as
// conv2d_winograd_avx2.cpp (whose header comment explains them; the math and the choice of when
// they run are in conv2d_winograd.h), 16 channels per vector. Compiled with -mavx512f/vl/bw/dq;
// part of the avx512 conv2d.kernels set (conv2d_avx512.cpp).
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

constexpr int kPositions = 16;  // the 4x4 transformed tile
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

struct TileGrid {
  int64_t th, tw, per_image, total;
  explicit TileGrid(const Conv2dGeometry& g)
      : th((g.oh + 1) / 2), tw((g.ow + 1) / 2), per_image(th * tw), total(g.n * th * tw) {}
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

// ---- transforms (16 channels per vector) -------------------------------------------------------

// v = B^T d B (d and v are 4x4, row-major).
inline void input_tile(const __m512 d[16], __m512 v[16]) {
  __m512 t[16];
  for (int j = 0; j < 4; ++j) {
    t[0 + j] = _mm512_sub_ps(d[0 + j], d[8 + j]);
    t[4 + j] = _mm512_add_ps(d[4 + j], d[8 + j]);
    t[8 + j] = _mm512_sub_ps(d[8 + j], d[4 + j]);
    t[12 + j] = _mm512_sub_ps(d[4 + j], d[12 + j]);
  }
  for (int i = 0; i < 16; i += 4) {
    v[i + 0] = _mm512_sub_ps(t[i + 0], t[i + 2]);
    v[i + 1] = _mm512_add_ps(t[i + 1], t[i + 2]);
    v[i + 2] = _mm512_sub_ps(t[i + 2], t[i + 1]);
    v[i + 3] = _mm512_sub_ps(t[i + 1], t[i + 3]);
  }
}

// Where transform_input puts V: position p, tile t, channel c at
//   dst + p * pos_stride + t * tile_stride + c / 16 * panel_stride + c % 16
// (row-major per position: tile_stride = Cin16, panel_stride = 16; 16-channel B panels:
// tile_stride = 16, panel_stride = block * 16). All strides are multiples of 16 floats: the
// stores are aligned.
struct VLayout {
  float* dst;
  int64_t pos_stride, tile_stride, panel_stride;
};

// The input transform of tiles [t0, t0 + nt), channel vectors c = 0, 16, .., cpad - 16 (lanes at or
// past Cin are zero: masked loads).
void transform_input(const Conv2dGeometry& g, const TileGrid& tg, const float* x, int64_t t0,
                     int64_t nt, int64_t cpad, const VLayout out) {
  const float* zeros = zero_row(cpad);
  int64_t interior_off[16];
  for (int k = 0; k < 16; ++k) interior_off[k] = ((k >> 2) * g.w + (k & 3)) * g.cin;
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tile = t0 + t, n = tile / tg.per_image, r = tile % tg.per_image;
    const int64_t iy0 = r / tg.tw * 2 - g.pt, ix0 = r % tg.tw * 2 - g.pl;
    const float* img = x + n * g.h * g.w * g.cin;
    float* dst = out.dst + t * out.tile_stride;
    const float* src[16];
    if (iy0 >= 0 && ix0 >= 0 && iy0 + 4 <= g.h && ix0 + 4 <= g.w) {
      const float* base = img + (iy0 * g.w + ix0) * g.cin;
      for (int k = 0; k < 16; ++k) src[k] = base + interior_off[k];
    } else {  // border tile: cells outside the image read a row of zeros
      for (int k = 0; k < 16; ++k) {
        const int64_t iy = iy0 + (k >> 2), ix = ix0 + (k & 3);
        src[k] = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? img + (iy * g.w + ix) * g.cin : zeros;
      }
    }
    __m512 d[16], v[16];
    for (int64_t c = 0; c < cpad; c += kLanes) {
      if (c + kLanes <= g.cin) {
        for (int k = 0; k < 16; ++k) d[k] = _mm512_loadu_ps(src[k] + c);
      } else {
        const __mmask16 mask = lanes(g.cin - c);
        for (int k = 0; k < 16; ++k) d[k] = _mm512_maskz_loadu_ps(mask, src[k] + c);
      }
      input_tile(d, v);
      float* o = dst + c / kLanes * out.panel_stride;
      for (int k = 0; k < 16; ++k) _mm512_store_ps(o + k * out.pos_stride, v[k]);
    }
  }
}

// U[xi nu] = G g G^T for every (ci, co), as 16-column B panels: U + ((xi * Cout16 / 16 + co / 16)
// * Cin16 + ci) * 16 + co % 16; rows ci >= Cin and columns co >= Cout are zero.
void transform_kernel(const Conv2dGeometry& g, const float* w, int64_t cin16, int64_t cout16,
                      float* u) {
  std::memset(u, 0, sizeof(float) * kPositions * cin16 * cout16);
  const __m512 half = _mm512_set1_ps(0.5f);
  parallel_for(0, g.cin, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t ci = lo; ci < hi; ++ci)
      for (int64_t co = 0; co < g.cout; co += kLanes) {
        const __mmask16 mask = lanes(g.cout - co);
        __m512 k[9], s[12], o[16];
        for (int tap = 0; tap < 9; ++tap)
          k[tap] = _mm512_maskz_loadu_ps(mask, w + (tap * g.cin + ci) * g.cout + co);
        for (int j = 0; j < 3; ++j) {  // rows: G (4x3) @ g
          const __m512 outer = _mm512_add_ps(k[j], k[6 + j]);
          s[j] = k[j];
          s[3 + j] = _mm512_mul_ps(half, _mm512_add_ps(outer, k[3 + j]));
          s[6 + j] = _mm512_mul_ps(half, _mm512_sub_ps(outer, k[3 + j]));
          s[9 + j] = k[6 + j];
        }
        for (int i = 0; i < 4; ++i) {  // columns: (G g) @ G^T
          const __m512 outer = _mm512_add_ps(s[i * 3], s[i * 3 + 2]);
          o[i * 4 + 0] = s[i * 3];
          o[i * 4 + 1] = _mm512_mul_ps(half, _mm512_add_ps(outer, s[i * 3 + 1]));
          o[i * 4 + 2] = _mm512_mul_ps(half, _mm512_sub_ps(outer, s[i * 3 + 1]));
          o[i * 4 + 3] = s[i * 3 + 2];
        }
        // masked-off lanes loaded as zeros, so the whole vector is stored
        for (int p = 0; p < kPositions; ++p)
          _mm512_store_ps(u + ((p * cout16 / kLanes + co / kLanes) * cin16 + ci) * kLanes, o[p]);
      }
  });
}

// y for tiles [t0, t0 + nt) from M (position p of tile t at m + (p * block + t) * cout16):
// A^T m A, + bias, relu, stored where the tile's pixels fall inside y.
void transform_output(const Conv2dGeometry& g, const TileGrid& tg, const float* m, int64_t block,
                      int64_t cout16, const float* bias, bool relu, int64_t t0, int64_t nt,
                      float* y) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tile = t0 + t, n = tile / tg.per_image, r = tile % tg.per_image;
    const int64_t oy0 = r / tg.tw * 2, ox0 = r % tg.tw * 2;
    const bool two_rows = oy0 + 1 < g.oh, two_cols = ox0 + 1 < g.ow;
    float* out = y + ((n * g.oh + oy0) * g.ow + ox0) * g.cout;
    const float* mt = m + t * cout16;
    for (int64_t co = 0; co < g.cout; co += kLanes) {
      __m512 v[16], s[8];
      for (int p = 0; p < kPositions; ++p) v[p] = _mm512_load_ps(mt + p * block * cout16 + co);
      for (int j = 0; j < 4; ++j) {  // rows: A^T (2x4) @ m
        s[j] = _mm512_add_ps(_mm512_add_ps(v[j], v[4 + j]), v[8 + j]);
        s[4 + j] = _mm512_sub_ps(_mm512_sub_ps(v[4 + j], v[8 + j]), v[12 + j]);
      }
      __m512 o[4];
      for (int i = 0; i < 2; ++i) {  // columns: (A^T m) @ A
        o[i * 2 + 0] = _mm512_add_ps(_mm512_add_ps(s[i * 4], s[i * 4 + 1]), s[i * 4 + 2]);
        o[i * 2 + 1] = _mm512_sub_ps(_mm512_sub_ps(s[i * 4 + 1], s[i * 4 + 2]), s[i * 4 + 3]);
      }
      const __mmask16 mask = lanes(g.cout - co);
      const __m512 b = bias ? _mm512_maskz_loadu_ps(mask, bias + co) : zero;
      for (int k = 0; k < 4; ++k) {
        if ((k >= 2 && !two_rows) || ((k & 1) && !two_cols)) continue;
        __m512 val = _mm512_add_ps(o[k], b);
        if (relu) val = _mm512_max_ps(zero, val);  // zero first: MAXPS keeps a NaN val
        _mm512_mask_storeu_ps(out + ((k >> 1) * g.ow + (k & 1)) * g.cout + co, mask, val);
      }
    }
  }
}

// Z = A e A^T (e the 2x2 dy tile, z 4x4) for tiles [t0, t0 + nt), channel vectors up to cout16,
// into z + (p * block + t) * cout16 + co; the dy values also go into the bias sums db16 (Cout16).
void transform_dy(const Conv2dGeometry& g, const TileGrid& tg, const float* dy, int64_t t0,
                  int64_t nt, int64_t block, int64_t cout16, float* z, float* db16) {
  const __m512 zero = _mm512_setzero_ps();
  const float* zeros = zero_row(cout16);
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tile = t0 + t, n = tile / tg.per_image, r = tile % tg.per_image;
    const int64_t oy0 = r / tg.tw * 2, ox0 = r % tg.tw * 2;
    const float* src[4];
    for (int k = 0; k < 4; ++k) {
      const int64_t oy = oy0 + (k >> 1), ox = ox0 + (k & 1);
      src[k] = oy < g.oh && ox < g.ow ? dy + ((n * g.oh + oy) * g.ow + ox) * g.cout : zeros;
    }
    for (int64_t co = 0; co < cout16; co += kLanes) {
      const __mmask16 mask = lanes(g.cout - co);
      __m512 e[4];
      for (int k = 0; k < 4; ++k) e[k] = _mm512_maskz_loadu_ps(mask, src[k] + co);
      float* sum = db16 + co;
      _mm512_store_ps(sum, _mm512_add_ps(_mm512_load_ps(sum),
                                         _mm512_add_ps(_mm512_add_ps(e[0], e[1]), _mm512_add_ps(e[2], e[3]))));
      // rows: A (4x2) @ e -> 4x2
      const __m512 r0[2] = {e[0], e[1]};
      const __m512 r1[2] = {_mm512_add_ps(e[0], e[2]), _mm512_add_ps(e[1], e[3])};
      const __m512 r2[2] = {_mm512_sub_ps(e[0], e[2]), _mm512_sub_ps(e[1], e[3])};
      const __m512 r3[2] = {_mm512_sub_ps(zero, e[2]), _mm512_sub_ps(zero, e[3])};
      const __m512* rows[4] = {r0, r1, r2, r3};
      for (int i = 0; i < 4; ++i) {  // columns: (A e) @ A^T
        const __m512 a = rows[i][0], b = rows[i][1];
        const __m512 zr[4] = {a, _mm512_add_ps(a, b), _mm512_sub_ps(a, b), _mm512_sub_ps(zero, b)};
        for (int j = 0; j < 4; ++j) _mm512_store_ps(z + ((i * 4 + j) * block + t) * cout16 + co, zr[j]);
      }
    }
  }
}

// dw[ky, kx, ci, co] = (G^T S[., co, ci] G)[ky, kx]; s holds S^T per position: s + (p * Cout + co)
// * cin16 + ci. 16 input channels at a time (masked at the Cin tail), scattered into dw's
// (ci, co) layout with a stride of Cout.
void transform_weight_grad(const Conv2dGeometry& g, const float* s, int64_t cin16, float* dw) {
  const __m512 half = _mm512_set1_ps(0.5f);
  const __m512i stride = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
      _mm512_set1_epi32(static_cast<int>(g.cout)));
  for (int64_t co = 0; co < g.cout; ++co)
    for (int64_t ci = 0; ci < g.cin; ci += kLanes) {
      const __mmask16 mask = lanes(g.cin - ci);
      __m512 v[16], r[12];
      for (int p = 0; p < kPositions; ++p) v[p] = _mm512_loadu_ps(s + (p * g.cout + co) * cin16 + ci);
      for (int j = 0; j < 4; ++j) {  // rows: G^T (3x4) @ S
        const __m512 inner = _mm512_mul_ps(half, _mm512_add_ps(v[4 + j], v[8 + j]));
        r[j] = _mm512_add_ps(v[j], inner);
        r[4 + j] = _mm512_mul_ps(half, _mm512_sub_ps(v[4 + j], v[8 + j]));
        r[8 + j] = _mm512_add_ps(inner, v[12 + j]);
      }
      for (int i = 0; i < 3; ++i) {  // columns: (G^T S) @ G
        const __m512 inner = _mm512_mul_ps(half, _mm512_add_ps(r[i * 4 + 1], r[i * 4 + 2]));
        float* out = dw + (i * 3 * g.cin + ci) * g.cout + co;
        _mm512_mask_i32scatter_ps(out, mask, stride, _mm512_add_ps(r[i * 4], inner), 4);
        _mm512_mask_i32scatter_ps(out + g.cin * g.cout, mask, stride,
                                  _mm512_mul_ps(half, _mm512_sub_ps(r[i * 4 + 1], r[i * 4 + 2])), 4);
        _mm512_mask_i32scatter_ps(out + 2 * g.cin * g.cout, mask, stride,
                                  _mm512_add_ps(inner, r[i * 4 + 3]), 4);
      }
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

void winograd_forward_avx512(const Conv2dGeometry& g, const float* x, const float* w,
                             const float* bias, float* y, bool relu) {
  const TileGrid tg(g);
  const int64_t cin16 = round_up(g.cin, kLanes), cout16 = round_up(g.cout, kLanes);
  float* u = scratch(0, kPositions * cin16 * cout16);
  transform_kernel(g, w, cin16, cout16, u);
  const int64_t block = block_tiles(kPositions * (cin16 + cout16), kPositions * cin16 * cout16);
  const int parts = tile_parts(tg.total);
  const int64_t u_panel = cin16 * kLanes;  // floats between U's 16-column panels
  parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t part = lo; part < hi; ++part) {
      // block is a multiple of 12: the depth loop's 12 rows stay inside v past the last tile.
      float* v = scratch(1, kPositions * block * cin16);
      float* m = scratch(2, kPositions * block * cout16);
      const int64_t t_hi = tg.total * (part + 1) / parts;
      for (int64_t t0 = tg.total * part / parts; t0 < t_hi; t0 += block) {
        const int64_t nt = std::min(block, t_hi - t0);
        transform_input(g, tg, x, t0, nt, cin16, VLayout{v, block * cin16, cin16, kLanes});
        for (int p = 0; p < kPositions; ++p) {
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
        transform_output(g, tg, m, block, cout16, bias, relu, t0, nt, y);
      }
    }
  });
}

void winograd_backward_weights_avx512(const Conv2dGeometry& g, const float* x, const float* dy,
                                      float* dw, float* db) {
  const TileGrid tg(g);
  const int64_t cin16 = round_up(g.cin, kLanes), cout16 = round_up(g.cout, kLanes);
  const int64_t s_len = kPositions * g.cout * cin16;  // one thread's S^T
  const int64_t stride = round_up(s_len, kLanes) + cout16;  // ... and its bias sums (aligned)
  const int64_t block = block_tiles(kPositions * (cin16 + cout16), s_len);
  const int parts = tile_parts(tg.total);
  float* partial = scratch(0, parts * stride);
  std::memset(partial, 0, sizeof(float) * parts * stride);
  parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t part = lo; part < hi; ++part) {
      float* s = partial + part * stride;
      float* v = scratch(1, kPositions * block * cin16);
      // The depth loop reads 12 output channels per step: up to 11 past Cout16 at the last tile.
      float* z = scratch(2, kPositions * block * cout16 + kLanes);
      const int64_t t_hi = tg.total * (part + 1) / parts;
      for (int64_t t0 = tg.total * part / parts; t0 < t_hi; t0 += block) {
        const int64_t nt = std::min(block, t_hi - t0);
        // V as B panels of 16 channels: panel (p, c / 16), row t.
        transform_input(g, tg, x, t0, nt, cin16, VLayout{v, cin16 * block, kLanes, block * kLanes});
        transform_dy(g, tg, dy, t0, nt, block, cout16, z, s + stride - cout16);
        for (int p = 0; p < kPositions; ++p) {
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
  transform_weight_grad(g, partial, cin16, dw);
  if (db) std::memcpy(db, partial + stride - cout16, sizeof(float) * g.cout);
}

}  // namespace corenn::cpu
