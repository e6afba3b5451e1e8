// 3-D convolution (CUDA), NDHWC, as implicit GEMMs on tiled_gemm.cuh's kernel, the 3-D twin of
// conv2d.cu (the loaders gather patch elements straight from the volume, zeros in the padding).
//
// Shapes: x (N, D, H, W, Cin), w (KD, KH, KW, Cin, Cout), y / dy (N, OD, OH, OW, Cout).
//   P[m, k]: the patch matrix, m = (n, od, oh, ow), k = (kd, kh, kw, ci) (ci fastest, as w's rows)
//   forward          y (M, Cout) = P @ W + bias,  W = w viewed as (KD*KH*KW*Cin, Cout)
//   backward_weights dw = P^T @ dy;  db = column sums of dy (or of x for Conv3DTranspose)
//   backward_data    dx (N*D*H*W, Cin) = Q @ R (+ bias: Conv3DTranspose's forward), k' =
//                    (kd, kh, kw, co): Q[(n,d,h,w), k'] = dy[n, od, oh, ow, co] where
//                    od*sd - pf + kd*dd = d (and likewise; 0 when no such output cell),
//                    R[k', ci] = w[kd, kh, kw, ci, co]. A gather: no atomics, deterministic.
// Grouped convolution is refused by name (the loaders index whole channel rows), as conv2d.cu.
#include "core/check.h"
#include "cuda/bias_grad.h"
#include "cuda/conv_loaders.cuh"
#include "cuda/common.cuh"
#include "cuda/tiled_gemm.cuh"
#include "ops/conv3d.h"

namespace corenn::cuda {

namespace {

struct Geom {  // Conv3dGeometry without groups, as a trivially copyable kernel argument
  int64_t n, d, h, w, cin, kd, kh, kw, cout, od, oh, ow, sd, sh, sw, pf, pt, pl, dd, dh, dw;
};

Geom to_geom(const char* op, const Conv3dGeometry& g) {
  CORENN_CHECK(g.groups == 1, op, ": grouped convolution (groups=", g.groups,
               ") has no CUDA kernel yet; run this layer on the CPU");
  return Geom{g.n,  g.d,  g.h,  g.w,  g.cin, g.kd, g.kh, g.kw, g.cout, g.od, g.oh,
              g.ow, g.sd, g.sh, g.sw, g.pf,  g.pt, g.pl, g.dd, g.dh,   g.dw};
}

__device__ inline float patch(const Geom& g, const float* x, int64_t m, int64_t k) {
  const int64_t ci = k % g.cin, tap = k / g.cin;
  const int64_t kw = tap % g.kw, kh = (tap / g.kw) % g.kh, kd = tap / (g.kw * g.kh);
  const int64_t ow = m % g.ow, oh = (m / g.ow) % g.oh, od = (m / (g.ow * g.oh)) % g.od;
  const int64_t n = m / (g.ow * g.oh * g.od);
  const int64_t z = od * g.sd - g.pf + kd * g.dd, y = oh * g.sh - g.pt + kh * g.dh,
                xx = ow * g.sw - g.pl + kw * g.dw;
  if (z < 0 || z >= g.d || y < 0 || y >= g.h || xx < 0 || xx >= g.w) return 0.0f;
  return x[(((n * g.d + z) * g.h + y) * g.w + xx) * g.cin + ci];
}

// The output index along one axis that reads input position p through tap k, or -1.
__device__ inline int64_t source(int64_t p, int64_t pad, int64_t k, int64_t dil, int64_t stride,
                                 int64_t out) {
  const int64_t t = p + pad - k * dil;
  if (t < 0 || t % stride != 0 || t / stride >= out) return -1;
  return t / stride;
}

struct GradOutputA {  // backward_data: A = Q, contiguous along co = the k' axis
  static constexpr bool kAlongK = true;
  Geom g;
  const float* dy;
  __device__ float operator()(int64_t r, int64_t k) const {
    const int64_t co = k % g.cout, tap = k / g.cout;
    const int64_t kw = tap % g.kw, kh = (tap / g.kw) % g.kh, kd = tap / (g.kw * g.kh);
    const int64_t w = r % g.w, h = (r / g.w) % g.h, d = (r / (g.w * g.h)) % g.d;
    const int64_t n = r / (g.w * g.h * g.d);
    const int64_t od = source(d, g.pf, kd, g.dd, g.sd, g.od), oh = source(h, g.pt, kh, g.dh, g.sh, g.oh),
                  ow = source(w, g.pl, kw, g.dw, g.sw, g.ow);
    if (od < 0 || oh < 0 || ow < 0) return 0.0f;
    return dy[(((n * g.od + od) * g.oh + oh) * g.ow + ow) * g.cout + co];
  }
};

struct WeightRowsB {  // backward_data: B = R, R[k', ci] = w[tap, ci, co], contiguous along co
  static constexpr bool kAlongN = false;
  Geom g;
  const float* w;
  __device__ float operator()(int64_t k, int64_t ci) const {
    const int64_t co = k % g.cout, tap = k / g.cout;
    return w[(tap * g.cin + ci) * g.cout + co];
  }
};

void conv3d_forward(const Tensor& like, const Conv3dGeometry& g, const float* x, const float* w,
                    const float* bias, float* y) {
  const Geom gg = to_geom("conv3d_forward", g);
  DeviceGuard guard(like);
  tiled::Epilogue ep;
  ep.bias = bias;
  tiled::launch("conv3d_forward", stream_of(like), g.pixels(), g.cout, g.depth(),
                PatchA<Geom>{gg, x}, tiled::DenseB<false>{w, g.cout}, y, g.cout, ep);
}

void conv3d_backward_data(const Tensor& like, const Conv3dGeometry& g, const float* dy,
                          const float* w, const float* bias, float* dx) {
  const Geom gg = to_geom("conv3d_backward_data", g);
  DeviceGuard guard(like);
  tiled::Epilogue ep;
  ep.bias = bias;  // Conv3DTranspose's bias, on each dx pixel
  tiled::launch("conv3d_backward_data", stream_of(like), g.n * g.d * g.h * g.w, g.cin,
                g.kd * g.kh * g.kw * g.cout, GradOutputA{gg, dy}, WeightRowsB{gg, w}, dx, g.cin, ep);
}

void conv3d_backward_weights(const Tensor& like, const Conv3dGeometry& g, const float* x,
                             const float* dy, float* dw, float* db, bool db_from_x) {
  const Geom gg = to_geom("conv3d_backward_weights", g);
  DeviceGuard guard(like);
  tiled::launch("conv3d_backward_weights", stream_of(like), g.depth(), g.cout, g.pixels(),
                PatchTransposedA<Geom>{gg, x}, tiled::DenseB<false>{dy, g.cout}, dw, g.cout,
                tiled::Epilogue{});
  if (!db) return;
  if (db_from_x)
    bias_grad(like, x, db, g.n * g.d * g.h * g.w, g.cin);
  else
    bias_grad(like, dy, db, g.pixels(), g.cout);
}

}  // namespace

}  // namespace corenn::cuda

namespace corenn {
CORENN_REGISTER_KERNEL(conv3d_forward_stub, Slot::cuda, cuda::conv3d_forward);
CORENN_REGISTER_KERNEL(conv3d_backward_data_stub, Slot::cuda, cuda::conv3d_backward_data);
CORENN_REGISTER_KERNEL(conv3d_backward_weights_stub, Slot::cuda, cuda::conv3d_backward_weights);
}  // namespace corenn
