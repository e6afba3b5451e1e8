// 3-D convolution kernels (CPU), NDHWC float32: forward, data gradient, weight gradient.
//
// Math (ops/conv3d.h; one group shown, a grouped conv runs it per group on its channel run):
//   patch(p, k): the patch matrix A (M x K), M = N*OD*OH*OW output pixels, K = KD*KH*KW*Cin/G
//     taps, row p = pixel (n, od, oh, ow), column k = (kd, kh, kw, ci) in w's row-major order:
//     A[p, k] = x[n, od*sd - pf + kd*dd, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw, ci] (0 outside).
//   forward          y (M x Cout)  = A @ W + bias           W = w as a (K, Cout) matrix
//   weight gradient  dW^T (Cout x K) = dy^T @ A,  db = column sums of dy
//   data gradient    dx = col2im(dy @ W^T): row p of dy @ W^T (K values) added back to the
//                    x cells its patch read (cells in the padding are dropped).
// All three run on corenn's GEMM engine (cpu/gemm): the forward and the weight gradient as
// implicit GEMMs whose packers gather the patches straight from x (no im2col matrix; the patches
// are the A operand of the forward and the B operand of dW^T, where their channel runs are
// contiguous), the data gradient as one sgemm per block of an image's pixels into a column
// buffer that col2im scatters. The GEMM's micro-kernel follows the active ISA, so these kernels
// need no per-ISA code of their own.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/parallel.h"
#include "cpu/gemm/gemm.h"
#include "ops/bias_grad.h"
#include "ops/conv2d.h"
#include "ops/conv3d.h"

namespace corenn::cpu {

namespace {

// Walks the patch values k in [k0, k0 + len) of output pixel `pix` as runs of consecutive input
// channels: run(x_offset, k - k0, count) for a run of `count` channels starting at float
// x_offset of x (group channel offset not included), or x_offset = -1 for a run in the padding.
template <class Run>
void for_each_patch_run(const Conv3dGeometry& g, int64_t pix, int64_t k0, int64_t len,
                        const Run& run) {
  const int64_t cg = g.cin / g.groups;
  int64_t q = pix;
  const int64_t ow = q % g.ow;
  q /= g.ow;
  const int64_t oh = q % g.oh;
  q /= g.oh;
  const int64_t od = q % g.od, n = q / g.od;
  const int64_t z0 = od * g.sd - g.pf, y0 = oh * g.sh - g.pt, x0 = ow * g.sw - g.pl;
  int64_t tap = k0 / cg, ci = k0 % cg;
  int64_t kw = tap % g.kw, kh = (tap / g.kw) % g.kh, kd = tap / (g.kw * g.kh);
  for (int64_t done = 0; done < len;) {
    const int64_t count = std::min(cg - ci, len - done);
    const int64_t z = z0 + kd * g.dd, yy = y0 + kh * g.dh, xx = x0 + kw * g.dw;
    const bool inside = z >= 0 && z < g.d && yy >= 0 && yy < g.h && xx >= 0 && xx < g.w;
    run(inside ? (((n * g.d + z) * g.h + yy) * g.w + xx) * g.cin + ci : int64_t{-1}, done, count);
    done += count;
    ci = 0;
    if (++kw == g.kw) {
      kw = 0;
      if (++kh == g.kh) {
        kh = 0;
        ++kd;
      }
    }
  }
}

// dst[i * step] = A[pix, k0 + i] for i < len, reading the group's channels of x at xg.
void gather_patch(const Conv3dGeometry& g, const float* xg, int64_t pix, int64_t k0, int64_t len,
                  int64_t step, float* dst) {
  for_each_patch_run(g, pix, k0, len, [&](int64_t off, int64_t at, int64_t count) {
    float* d = dst + at * step;
    for (int64_t c = 0; c < count; ++c) d[c * step] = off < 0 ? 0.0f : xg[off + c];
  });
}

// The forward's A operand: rows [i0, i0 + mc) (pixels) x depth [p0, p0 + kc) (taps) in the
// panel format of gemm.h (panel of mr rows, depth-major; rows past mc are zero).
void pack_patches_a(const Conv3dGeometry& g, const float* xg, int mr, int64_t i0, int64_t mc,
                    int64_t p0, int64_t kc, float* dst) {
  const int64_t rows = (mc + mr - 1) / mr * mr;
  for (int64_t r = 0; r < rows; ++r) {
    float* panel_row = dst + (r / mr) * mr * kc + r % mr;
    if (r < mc) {
      gather_patch(g, xg, i0 + r, p0, kc, mr, panel_row);
    } else {
      for (int64_t p = 0; p < kc; ++p) panel_row[p * mr] = 0.0f;
    }
  }
}

// The weight gradient's B operand: depth [p0, p0 + kc) (pixels) x columns [j0, j0 + nc) (taps)
// in the panel format of gemm.h (panel of nr columns; columns past nc are zero).
void pack_patches_b(const Conv3dGeometry& g, const float* xg, int nr, int64_t p0, int64_t kc,
                    int64_t j0, int64_t nc, float* dst) {
  const int64_t panels = (nc + nr - 1) / nr;
  for (int64_t p = 0; p < kc; ++p) {
    for (int64_t j = 0; j < panels; ++j) {
      const int64_t cols = std::min<int64_t>(nr, nc - j * nr);
      float* row = dst + j * nr * kc + p * nr;
      gather_patch(g, xg, p0 + p, j0 + j * nr, cols, 1, row);
      std::fill(row + cols, row + nr, 0.0f);
    }
  }
}

// A column buffer of at most this many floats per block of pixels in the data gradient (1 MiB:
// it stays in L2 between the GEMM that writes it and col2im).
constexpr int64_t kColumnFloats = int64_t{1} << 18;

}  // namespace

void conv3d_forward(const Conv3dGeometry& g, const float* x, const float* w, const float* bias,
                    float* y) {
  // One implicit GEMM per group: rows of the group's patches (its channel run of x), its column
  // block of w (ldb = Cout) into its column block of y (ldc = Cout).
  const int64_t cg = g.cin / g.groups, og = g.cout / g.groups;
  const gemm::Kernel kern = gemm::packed_kernel(og);
  for (int64_t gi = 0; gi < g.groups; ++gi) {
    const float* xg = x + gi * cg;
    const gemm::PackA pack_a = [&g, xg, mr = kern.mr](int64_t i0, int64_t mc, int64_t p0,
                                                       int64_t kc, float* dst) {
      pack_patches_a(g, xg, mr, i0, mc, p0, kc, dst);
    };
    gemm::gemm_packed(kern, g.pixels(), og, g.depth(), pack_a,
                      gemm::pack_b_matrix(kern, w + gi * og, g.cout, false), 1.0f, 0.0f,
                      y + gi * og, g.cout, bias ? bias + gi * og : nullptr,
                      gemm::Activation::none);
  }
}

void conv3d_backward_data(const Conv3dGeometry& g, const float* dy, const float* w,
                          const float* bias, float* dx) {
  // Images are independent in dx: each runs its blocks of pixels (sgemm into a column buffer,
  // then col2im) on one thread, so the scatter needs no atomics and the sums do not depend on the
  // thread count.
  const int64_t cg = g.cin / g.groups, og = g.cout / g.groups, depth = g.depth();
  const int64_t image_pixels = g.od * g.oh * g.ow, image_floats = g.d * g.h * g.w * g.cin;
  const int64_t block = std::clamp<int64_t>(kColumnFloats / depth, 1, image_pixels);
  parallel_for(0, g.n, 1, [&](int64_t n_lo, int64_t n_hi) {
    std::vector<float> cols(static_cast<size_t>(block * depth));
    for (int64_t n = n_lo; n < n_hi; ++n) {
      std::memset(dx + n * image_floats, 0, sizeof(float) * image_floats);
      for (int64_t gi = 0; gi < g.groups; ++gi) {
        float* dxg = dx + gi * cg;
        for (int64_t p0 = n * image_pixels; p0 < (n + 1) * image_pixels; p0 += block) {
          const int64_t rows = std::min(block, (n + 1) * image_pixels - p0);
          // cols (rows, K) = dy_g[p0 : p0 + rows] (ld Cout) @ w_g^T, w_g the (K, Cout/G) block
          gemm::sgemm(false, true, rows, depth, og, 1.0f, dy + p0 * g.cout + gi * og, g.cout,
                      w + gi * og, g.cout, 0.0f, cols.data(), depth, nullptr,
                      gemm::Activation::none);
          for (int64_t r = 0; r < rows; ++r) {
            const float* src = cols.data() + r * depth;
            for_each_patch_run(g, p0 + r, 0, depth, [&](int64_t off, int64_t at, int64_t count) {
              if (off < 0) return;  // a tap in the padding has no x cell
              for (int64_t c = 0; c < count; ++c) dxg[off + c] += src[at + c];
            });
          }
        }
      }
    }
  });
  if (bias) add_bias_rows(dx, bias, g.n * g.d * g.h * g.w, g.cin);
}

void conv3d_backward_weights(const Conv3dGeometry& g, const float* x, const float* dy, float* dw,
                             float* db, bool db_from_x) {
  // Per group, dW_g^T (Cout/G, K) = dy_g^T @ A_g: dy_g the group's column block of dy (read
  // transposed in place), A_g packed from the group's channel run of x as the B operand; then
  // dW_g^T lands transposed in the group's column block of dw (KD, KH, KW, Cin/G, Cout).
  const int64_t cg = g.cin / g.groups, og = g.cout / g.groups, depth = g.depth();
  const gemm::Kernel kern = gemm::packed_kernel(depth);
  std::vector<float> dwt(static_cast<size_t>(og * depth));
  for (int64_t gi = 0; gi < g.groups; ++gi) {
    const float* xg = x + gi * cg;
    const gemm::PackB pack_b = [&g, xg, nr = kern.nr](int64_t p0, int64_t kc, int64_t j0,
                                                       int64_t nc, float* dst) {
      pack_patches_b(g, xg, nr, p0, kc, j0, nc, dst);
    };
    gemm::gemm_packed(kern, og, depth, g.pixels(),
                      gemm::pack_a_matrix(kern, dy + gi * og, g.cout, true), pack_b, 1.0f, 0.0f,
                      dwt.data(), depth, nullptr, gemm::Activation::none);
    for (int64_t k = 0; k < depth; ++k)
      for (int64_t co = 0; co < og; ++co) dw[k * g.cout + gi * og + co] = dwt[co * depth + k];
  }
  if (!db) return;
  if (db_from_x)
    bias_grad(x, db, g.n * g.d * g.h * g.w, g.cin);
  else
    bias_grad(dy, db, g.pixels(), g.cout);
}

CORENN_REGISTER_KERNEL(conv3d_forward_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Conv3dGeometry& g, const float* x, const float* w,
                           const float* bias, float* y) { conv3d_forward(g, x, w, bias, y); });
CORENN_REGISTER_KERNEL(conv3d_backward_data_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Conv3dGeometry& g, const float* dy,
                           const float* w, const float* bias, float* dx) {
                         conv3d_backward_data(g, dy, w, bias, dx);
                       });
CORENN_REGISTER_KERNEL(conv3d_backward_weights_stub, Slot::cpu_ref,
                       +[](const Tensor&, const Conv3dGeometry& g, const float* x,
                           const float* dy, float* dw, float* db, bool db_from_x) {
                         conv3d_backward_weights(g, x, dy, dw, db, db_from_x);
                       });

}  // namespace corenn::cpu
