// Winograd F(2x2, 3x3) conv2d kernels (AVX2): math, layouts and the choice of when they run are
// in conv2d_winograd.h. Compiled with -mavx2 -mfma; run through conv2d.kernels (conv2d.cpp).
//
// Tiles: the output is covered by a grid of TH x TW tiles of 2x2 pixels per image (TH = ceil(OH/2));
// tile t = (n, ty, tx) in row-major order reads the 4x4 input window at
// (2 ty - pt, 2 tx - pl), zero outside the image, and owns the outputs (2 ty + a, 2 tx + b) that
// fall inside y. Channels are padded to whole vectors in the transformed buffers (zeros), so the
// GEMMs and transforms never need a tail case of their own.
//
// Per block of tiles, on one thread:
//   forward   x -> V (row-major (tiles, Cin8) per position) -> the micro-kernel's depth loop
//             reads V's rows in place (depth_loop_rows) against U[xi nu] (packed once per call as
//             B panels) into M (row-major (tiles, Cout16) per position: rows 256 B apart for
//             Cout 64, where a (tiles, 16 positions, Cout16) layout put the tile's 6 C rows 4 KB
//             apart, on one L1 set) -> output transform (+ bias, relu) into y
//   weights   x -> V in B-panel layout (16 channels per panel); dy -> Z (row-major (tiles, Cout8)
//             per position), and the bias sums -> the depth loop reads Z^T in place
//             (depth_loop_cols) and accumulates this thread's S[xi nu]^T (Cout, Cin16); after all
//             blocks the partials are summed in thread order and S is transformed back into dw.
// The depth loops are inlined here (no call and no general epilogue per 6 x 16 tile, no packing
// pass): against the GEMM's micro-kernel on packed copies, conv 2's passes got 10-15% faster.
#include "cpu/conv2d_winograd.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/aligned_buffer.h"
#include "core/parallel.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/ukernels/depth_loops_avx2.h"

namespace corenn::cpu {

namespace {

using gemm::kMR;
using gemm::kNR;

constexpr int kPositions = 16;  // the 4x4 transformed tile

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

// Lanes [0, count) set (count clamped to [0, 8]).
__m256i lane_mask(int64_t count) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(std::clamp<int64_t>(count, 0, 8))), lane);
}

struct TileGrid {
  int64_t th, tw, per_image, total;
  explicit TileGrid(const Conv2dGeometry& g)
      : th((g.oh + 1) / 2), tw((g.ow + 1) / 2), per_image(th * tw), total(g.n * th * tw) {}
};

// Tiles per block: V, the GEMM output (M or Z) and the shared operand (U or this thread's S)
// together in about 384 KB of the 512 KB L2; a multiple of MR so the A panels are full.
int64_t block_tiles(int64_t floats_per_tile, int64_t shared_floats) {
  const int64_t budget = (int64_t{384} << 10) / 4 - shared_floats;
  return std::clamp<int64_t>(budget / floats_per_tile / kMR * kMR, 2 * kMR, 16 * kMR);
}

// Threads for `total` tiles: each keeps at least a few blocks' worth of work.
int tile_parts(int64_t total) {
  return static_cast<int>(std::clamp<int64_t>(total / 24, 1, get_num_threads()));
}

// ---- transforms ------------------------------------------------------------------------------

// v = B^T d B on 8 channels at once (d and v are 4x4, row-major).
inline void input_tile(const __m256 d[16], __m256 v[16]) {
  __m256 t[16];
  for (int j = 0; j < 4; ++j) {
    t[0 + j] = _mm256_sub_ps(d[0 + j], d[8 + j]);
    t[4 + j] = _mm256_add_ps(d[4 + j], d[8 + j]);
    t[8 + j] = _mm256_sub_ps(d[8 + j], d[4 + j]);
    t[12 + j] = _mm256_sub_ps(d[4 + j], d[12 + j]);
  }
  for (int i = 0; i < 16; i += 4) {
    v[i + 0] = _mm256_sub_ps(t[i + 0], t[i + 2]);
    v[i + 1] = _mm256_add_ps(t[i + 1], t[i + 2]);
    v[i + 2] = _mm256_sub_ps(t[i + 2], t[i + 1]);
    v[i + 3] = _mm256_sub_ps(t[i + 1], t[i + 3]);
  }
}

// Where transform_input puts V: position p, tile t (in the block), channel c at
//   dst + p * pos_stride + t * tile_stride + c / 16 * panel_stride + c % 16
// (row-major per position: tile_stride = Cin8, panel_stride = 16; B panels of 16 channels:
// tile_stride = 16, panel_stride = block * 16). Plain integers, not a callback: a capturing
// lambda made GCC reload its captures after every store (they might alias the floats stored).
struct VLayout {
  float* dst;
  int64_t pos_stride, tile_stride, panel_stride;
};

// The input transform of tiles [t0, t0 + nt), channel vectors c = 0, 8, .., cpad - 8 (lanes at or
// past Cin are zero). Interior tiles (most of them) load their 16 vectors at fixed offsets;
// border tiles check each cell.
void transform_input(const Conv2dGeometry& g, const TileGrid& tg, const float* x, int64_t t0,
                     int64_t nt, int64_t cpad, const VLayout out) {
  const float* zeros = zero_row(cpad);
  int64_t interior_off[16];
  for (int k = 0; k < 16; ++k) interior_off[k] = ((k >> 2) * g.w + (k & 3)) * g.cin;
  const int64_t cfull = g.cin / 8 * 8;
  const __m256i tail = lane_mask(g.cin - cfull);
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tile = t0 + t, n = tile / tg.per_image, r = tile % tg.per_image;
    const int64_t iy0 = r / tg.tw * 2 - g.pt, ix0 = r % tg.tw * 2 - g.pl;
    const float* img = x + n * g.h * g.w * g.cin;
    float* dst = out.dst + t * out.tile_stride;
    __m256 d[16], v[16];
    if (iy0 >= 0 && ix0 >= 0 && iy0 + 4 <= g.h && ix0 + 4 <= g.w) {
      const float* base = img + (iy0 * g.w + ix0) * g.cin;
      int64_t c = 0;
      for (; c < cfull; c += 8) {
        for (int k = 0; k < 16; ++k) d[k] = _mm256_loadu_ps(base + interior_off[k] + c);
        input_tile(d, v);
        float* o = dst + c / 16 * out.panel_stride + c % 16;
        for (int k = 0; k < 16; ++k) _mm256_store_ps(o + k * out.pos_stride, v[k]);
      }
      for (; c < cpad; c += 8) {  // the channel tail, then all-zero vectors up to cpad
        const __m256i mask = c == cfull ? tail : _mm256_setzero_si256();
        for (int k = 0; k < 16; ++k) d[k] = _mm256_maskload_ps(base + interior_off[k] + c, mask);
        input_tile(d, v);
        float* o = dst + c / 16 * out.panel_stride + c % 16;
        for (int k = 0; k < 16; ++k) _mm256_store_ps(o + k * out.pos_stride, v[k]);
      }
      continue;
    }
    // Border tile: cells outside the image read a row of zeros (no branch per load).
    const float* src[16];
    for (int k = 0; k < 16; ++k) {
      const int64_t iy = iy0 + (k >> 2), ix = ix0 + (k & 3);
      src[k] = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? img + (iy * g.w + ix) * g.cin : zeros;
    }
    for (int64_t c = 0; c < cpad; c += 8) {
      if (c < cfull) {  // masked loads are slow on some CPUs: only for the tail
        for (int k = 0; k < 16; ++k) d[k] = _mm256_loadu_ps(src[k] + c);
      } else {
        const __m256i mask = lane_mask(g.cin - c);
        for (int k = 0; k < 16; ++k) d[k] = _mm256_maskload_ps(src[k] + c, mask);
      }
      input_tile(d, v);
      float* o = dst + c / 16 * out.panel_stride + c % 16;
      for (int k = 0; k < 16; ++k) _mm256_store_ps(o + k * out.pos_stride, v[k]);
    }
  }
}

// U[xi nu] = G g G^T for every (ci, co), as B panels: U + ((xi * Cout16 / 16 + co / 16) * Cin8 +
// ci) * 16 + co % 16; rows ci >= Cin and columns co >= Cout are zero.
void transform_kernel(const Conv2dGeometry& g, const float* w, int64_t cin8, int64_t cout16,
                      float* u) {
  std::memset(u, 0, sizeof(float) * kPositions * cin8 * cout16);
  const __m256 half = _mm256_set1_ps(0.5f);
  parallel_for(0, g.cin, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t ci = lo; ci < hi; ++ci)
      for (int64_t co = 0; co < g.cout; co += 8) {
        const __m256i mask = lane_mask(g.cout - co);
        __m256 k[9], s[12], o[16];
        for (int tap = 0; tap < 9; ++tap)
          k[tap] = _mm256_maskload_ps(w + (tap * g.cin + ci) * g.cout + co, mask);
        for (int j = 0; j < 3; ++j) {  // rows: G (4x3) @ g
          const __m256 outer = _mm256_add_ps(k[j], k[6 + j]);
          s[j] = k[j];
          s[3 + j] = _mm256_mul_ps(half, _mm256_add_ps(outer, k[3 + j]));
          s[6 + j] = _mm256_mul_ps(half, _mm256_sub_ps(outer, k[3 + j]));
          s[9 + j] = k[6 + j];
        }
        for (int i = 0; i < 4; ++i) {  // columns: (G g) @ G^T
          const __m256 outer = _mm256_add_ps(s[i * 3], s[i * 3 + 2]);
          o[i * 4 + 0] = s[i * 3];
          o[i * 4 + 1] = _mm256_mul_ps(half, _mm256_add_ps(outer, s[i * 3 + 1]));
          o[i * 4 + 2] = _mm256_mul_ps(half, _mm256_sub_ps(outer, s[i * 3 + 1]));
          o[i * 4 + 3] = s[i * 3 + 2];
        }
        for (int p = 0; p < kPositions; ++p)
          _mm256_maskstore_ps(u + ((p * cout16 / 16 + co / 16) * cin8 + ci) * kNR + co % 16, mask,
                              o[p]);
      }
  });
}

// y for tiles [t0, t0 + nt) from M (position p of tile t at m + (p * block + t) * cout16):
// A^T m A, + bias, relu, stored where the tile's pixels fall inside y.
void transform_output(const Conv2dGeometry& g, const TileGrid& tg, const float* m, int64_t block,
                      int64_t cout16, const float* bias, const WinogradEpilogue& ep, int64_t t0,
                      int64_t nt, float* y) {
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tile = t0 + t, n = tile / tg.per_image, r = tile % tg.per_image;
    const int64_t oy0 = r / tg.tw * 2, ox0 = r % tg.tw * 2;
    const bool two_rows = oy0 + 1 < g.oh, two_cols = ox0 + 1 < g.ow;
    const int64_t at = ((n * g.oh + oy0) * g.ow + ox0) * g.cout;
    float* out = y + at;
    const float* mt = m + t * cout16;
    for (int64_t co = 0; co < g.cout; co += 8) {
      __m256 v[16], s[8];
      for (int p = 0; p < kPositions; ++p) v[p] = _mm256_load_ps(mt + p * block * cout16 + co);
      for (int j = 0; j < 4; ++j) {  // rows: A^T (2x4) @ m
        s[j] = _mm256_add_ps(_mm256_add_ps(v[j], v[4 + j]), v[8 + j]);
        s[4 + j] = _mm256_sub_ps(_mm256_sub_ps(v[4 + j], v[8 + j]), v[12 + j]);
      }
      __m256 o[4];
      for (int i = 0; i < 2; ++i) {  // columns: (A^T m) @ A
        o[i * 2 + 0] = _mm256_add_ps(_mm256_add_ps(s[i * 4], s[i * 4 + 1]), s[i * 4 + 2]);
        o[i * 2 + 1] = _mm256_sub_ps(_mm256_sub_ps(s[i * 4 + 1], s[i * 4 + 2]), s[i * 4 + 3]);
      }
      const bool full = co + 8 <= g.cout;
      const __m256i mask = lane_mask(g.cout - co);
      const __m256 b = !bias ? zero : full ? _mm256_loadu_ps(bias + co) : _mm256_maskload_ps(bias + co, mask);
      for (int k = 0; k < 4; ++k) {
        if ((k >= 2 && !two_rows) || ((k & 1) && !two_cols)) continue;
        const int64_t off = ((k >> 1) * g.ow + (k & 1)) * g.cout + co;
        const auto load = [&](const float* src) {
          return full ? _mm256_loadu_ps(src + at + off) : _mm256_maskload_ps(src + at + off, mask);
        };
        __m256 val = _mm256_add_ps(o[k], b);
        if (ep.add) val = _mm256_add_ps(val, load(ep.add));
        if (ep.relu_of) {  // as sum_n_relu_grad: y > 0 ? v : v * y (a NaN y gives NaN)
          const __m256 yv = load(ep.relu_of);
          val = _mm256_blendv_ps(val, _mm256_mul_ps(val, yv), _mm256_cmp_ps(yv, zero, _CMP_NGT_UQ));
        }
        if (ep.relu) val = _mm256_max_ps(zero, val);  // zero first: MAXPS keeps a NaN val
        float* dst = out + off;
        if (full)
          _mm256_storeu_ps(dst, val);
        else
          _mm256_maskstore_ps(dst, mask, val);
      }
    }
  }
}

// Z = A e A^T (e the 2x2 dy tile, z 4x4) for tiles [t0, t0 + nt), channel vectors up to cout8,
// into z + (p * block + t) * cout8 + co; the dy values also go into the bias sums db8 (Cout8).
void transform_dy(const Conv2dGeometry& g, const TileGrid& tg, const float* dy, int64_t t0,
                  int64_t nt, int64_t block, int64_t cout8, float* z, float* db8) {
  const __m256 zero = _mm256_setzero_ps();
  const float* zeros = zero_row(cout8);
  for (int64_t t = 0; t < nt; ++t) {
    const int64_t tile = t0 + t, n = tile / tg.per_image, r = tile % tg.per_image;
    const int64_t oy0 = r / tg.tw * 2, ox0 = r % tg.tw * 2;
    const float* src[4];
    for (int k = 0; k < 4; ++k) {
      const int64_t oy = oy0 + (k >> 1), ox = ox0 + (k & 1);
      src[k] = oy < g.oh && ox < g.ow ? dy + ((n * g.oh + oy) * g.ow + ox) * g.cout : zeros;
    }
    for (int64_t co = 0; co < cout8; co += 8) {
      __m256 e[4];
      if (co + 8 <= g.cout) {
        for (int k = 0; k < 4; ++k) e[k] = _mm256_loadu_ps(src[k] + co);
      } else {
        const __m256i mask = lane_mask(g.cout - co);
        for (int k = 0; k < 4; ++k) e[k] = _mm256_maskload_ps(src[k] + co, mask);
      }
      float* sum = db8 + co;
      _mm256_store_ps(sum, _mm256_add_ps(_mm256_load_ps(sum),
                                         _mm256_add_ps(_mm256_add_ps(e[0], e[1]), _mm256_add_ps(e[2], e[3]))));
      // rows: A (4x2) @ e -> 4x2
      const __m256 r0[2] = {e[0], e[1]};
      const __m256 r1[2] = {_mm256_add_ps(e[0], e[2]), _mm256_add_ps(e[1], e[3])};
      const __m256 r2[2] = {_mm256_sub_ps(e[0], e[2]), _mm256_sub_ps(e[1], e[3])};
      const __m256 r3[2] = {_mm256_sub_ps(zero, e[2]), _mm256_sub_ps(zero, e[3])};
      const __m256* rows[4] = {r0, r1, r2, r3};
      for (int i = 0; i < 4; ++i) {  // columns: (A e) @ A^T
        const __m256 a = rows[i][0], b = rows[i][1];
        const __m256 zr[4] = {a, _mm256_add_ps(a, b), _mm256_sub_ps(a, b), _mm256_sub_ps(zero, b)};
        for (int j = 0; j < 4; ++j) _mm256_store_ps(z + ((i * 4 + j) * block + t) * cout8 + co, zr[j]);
      }
    }
  }
}

// dw[ky, kx, ci, co] = (G^T S[., co, ci] G)[ky, kx]; s holds S^T per position: s + (p * Cout + co)
// * cin16 + ci.
void transform_weight_grad(const Conv2dGeometry& g, const float* s, int64_t cin16, float* dw) {
  for (int64_t co = 0; co < g.cout; ++co)
    for (int64_t ci = 0; ci < g.cin; ++ci) {
      float v[16], r[12];
      for (int p = 0; p < kPositions; ++p) v[p] = s[(p * g.cout + co) * cin16 + ci];
      for (int j = 0; j < 4; ++j) {  // rows: G^T (3x4) @ S
        const float inner = 0.5f * (v[4 + j] + v[8 + j]);
        r[j] = v[j] + inner;
        r[4 + j] = 0.5f * (v[4 + j] - v[8 + j]);
        r[8 + j] = inner + v[12 + j];
      }
      for (int i = 0; i < 3; ++i) {  // columns: (G^T S) @ G
        const float inner = 0.5f * (r[i * 4 + 1] + r[i * 4 + 2]);
        float* out = dw + (i * 3 * g.cin + ci) * g.cout + co;
        out[0] = r[i * 4] + inner;
        out[g.cin * g.cout] = 0.5f * (r[i * 4 + 1] - r[i * 4 + 2]);
        out[2 * g.cin * g.cout] = inner + r[i * 4 + 3];
      }
    }
}

// C rows [0, m) := acc (16 columns each, row stride ldc).
inline void store_tile(const gemm::Acc& acc, float* c, int64_t ldc, int m) {
  for (int r = 0; r < m; ++r) {
    _mm256_storeu_ps(c + r * ldc, acc.v[r][0]);
    _mm256_storeu_ps(c + r * ldc + 8, acc.v[r][1]);
  }
}

// C rows [0, m) += acc.
inline void add_tile(const gemm::Acc& acc, float* c, int64_t ldc, int m) {
  for (int r = 0; r < m; ++r) {
    float* row = c + r * ldc;
    _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), acc.v[r][0]));
    _mm256_storeu_ps(row + 8, _mm256_add_ps(_mm256_loadu_ps(row + 8), acc.v[r][1]));
  }
}

}  // namespace

int64_t winograd_kernel_floats_avx2(const Conv2dGeometry& g) {
  return kPositions * round_up(g.cin, 8) * round_up(g.cout, kNR);
}

void winograd_transform_kernel_avx2(const Conv2dGeometry& g, const float* w, float* u) {
  transform_kernel(g, w, round_up(g.cin, 8), round_up(g.cout, kNR), u);
}

void winograd_forward_avx2(const Conv2dGeometry& g, const float* x, const float* w,
                           const float* bias, float* y, const WinogradEpilogue& ep) {
  float* u = scratch(0, winograd_kernel_floats_avx2(g));
  winograd_transform_kernel_avx2(g, w, u);
  winograd_forward_transformed_avx2(g, x, u, bias, y, ep);
}

void winograd_forward_transformed_avx2(const Conv2dGeometry& g, const float* x, const float* u,
                                       const float* bias, float* y, const WinogradEpilogue& ep) {
  const TileGrid tg(g);
  const int64_t cin8 = round_up(g.cin, 8), cout16 = round_up(g.cout, kNR);
  const int64_t block = block_tiles(kPositions * (cin8 + cout16), kPositions * cin8 * cout16);
  const int parts = tile_parts(tg.total);
  // Too few tiles for every thread to have its own (batch 1: 36 tiles of an 11x11 output): one
  // part, whose 16 position GEMMs (most of the work) are shared among the threads instead. The
  // same products either way, so the same bits.
  const bool share_positions = parts == 1 && get_num_threads() > 1 && tg.total >= 2 * kMR;
  const auto run_part = [&](int64_t part) {
    // block is a multiple of MR: the depth loop's 6 rows stay inside v past the last tile.
    float* v = scratch(1, kPositions * block * cin8);
    float* m = scratch(2, kPositions * block * cout16);
    const int64_t t_hi = tg.total * (part + 1) / parts;
    for (int64_t t0 = tg.total * part / parts; t0 < t_hi; t0 += block) {
      const int64_t nt = std::min(block, t_hi - t0);
      transform_input(g, tg, x, t0, nt, cin8, VLayout{v, block * cin8, cin8, kNR});
      const auto multiply = [&](int64_t p) {
        const float* vp = v + p * block * cin8;
        const float* up = u + p * cout16 * cin8;
        float* mp = m + p * block * cout16;
        for (int64_t j = 0; j < cout16; j += kNR)
          for (int64_t i = 0; i < nt; i += kMR)
            store_tile(gemm::depth_loop_rows(cin8, vp + i * cin8, cin8, up + j * cin8),
                       mp + i * cout16 + j, cout16, static_cast<int>(std::min<int64_t>(kMR, nt - i)));
      };
      if (share_positions) {
        parallel_for(0, kPositions, 1, [&](int64_t lo, int64_t hi) {
          for (int64_t p = lo; p < hi; ++p) multiply(p);
        });
      } else {
        // the next block's x and y, a share per position (conv2d_winograd.h: BlockPrefetch)
        BlockPrefetch next(TileRange{tg.per_image, tg.tw, 2, t0 + nt, std::min(block, t_hi - t0 - nt)});
        next.add(x, g.h, g.w * g.cin, g.pt, 4);
        next.add(y, g.oh, g.ow * g.cout, 0, 2);
        next.add(ep.add, g.oh, g.ow * g.cout, 0, 2);
        next.add(ep.relu_of, g.oh, g.ow * g.cout, 0, 2);
        for (int p = 0; p < kPositions; ++p) {
          next.step(kPositions - p);
          multiply(p);
        }
      }
      transform_output(g, tg, m, block, cout16, bias, ep, t0, nt, y);
    }
  };
  if (parts == 1) return run_part(0);
  parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t part = lo; part < hi; ++part) run_part(part);
  });
}

void winograd_backward_weights_avx2(const Conv2dGeometry& g, const float* x, const float* dy,
                                    float* dw, float* db) {
  const TileGrid tg(g);
  const int64_t cin16 = round_up(g.cin, kNR), cout8 = round_up(g.cout, 8);
  const int64_t s_len = kPositions * g.cout * cin16;  // one thread's S^T
  const int64_t stride = s_len + cout8;                // ... and its bias sums
  const int64_t block = block_tiles(kPositions * (cin16 + cout8), s_len);
  const int parts = tile_parts(tg.total);
  float* partial = scratch(0, parts * stride);
  std::memset(partial, 0, sizeof(float) * parts * stride);
  parallel_for(0, parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t part = lo; part < hi; ++part) {
      float* s = partial + part * stride;
      float* v = scratch(1, kPositions * block * cin16);
      // The depth loop reads 6 output channels per step: up to 5 past Cout8 at the last tile.
      float* z = scratch(2, kPositions * block * cout8 + 8);
      const int64_t t_hi = tg.total * (part + 1) / parts;
      for (int64_t t0 = tg.total * part / parts; t0 < t_hi; t0 += block) {
        const int64_t nt = std::min(block, t_hi - t0);
        // V as B panels of 16 channels: panel (p, c / 16), row t.
        transform_input(g, tg, x, t0, nt, cin16, VLayout{v, cin16 * block, kNR, block * kNR});
        transform_dy(g, tg, dy, t0, nt, block, cout8, z, s + s_len);
        BlockPrefetch next(TileRange{tg.per_image, tg.tw, 2, t0 + nt, std::min(block, t_hi - t0 - nt)});
        next.add(x, g.h, g.w * g.cin, g.pt, 4);
        next.add(dy, g.oh, g.ow * g.cout, 0, 2);
        for (int p = 0; p < kPositions; ++p) {
          next.step(kPositions - p);
          // Z[p] is (nt, Cout8) row-major: Z[p]^T (Cout, nt) is column-major with stride Cout8.
          const float* zp = z + p * block * cout8;
          float* sp = s + p * g.cout * cin16;
          const float* vp = v + p * cin16 / kNR * block * kNR;
          for (int64_t j = 0; j < cin16; j += kNR)
            for (int64_t i = 0; i < g.cout; i += kMR)
              add_tile(gemm::depth_loop_cols(nt, zp + i, cout8, vp + j / kNR * block * kNR),
                       sp + i * cin16 + j, cin16, static_cast<int>(std::min<int64_t>(kMR, g.cout - i)));
        }
      }
    }
  });
  for (int part = 1; part < parts; ++part)
    for (int64_t i = 0; i < stride; ++i) partial[i] += partial[part * stride + i];
  transform_weight_grad(g, partial, cin16, dw);
  if (db) std::memcpy(db, partial + s_len, sizeof(float) * g.cout);
}

}  // namespace corenn::cpu
