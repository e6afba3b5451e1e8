// 2-D convolution (CUDA), NHWC, as implicit GEMMs on tiled_gemm.cuh's kernel (no im2col buffer:
// the loaders gather patch elements straight from the image, reading zeros in the padding).
//
// Shapes: x (N, H, W, Cin), w (KH, KW, Cin, Cout), y / dy (N, OH, OW, Cout).
//   P[m, k]: the patch matrix, m = (n, oh, ow), k = (kh, kw, ci) (ci fastest, as w's rows):
//            P[m, k] = x[n, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw, ci]   (0 outside the image)
//   forward          y  (M = N*OH*OW, Cout) = P @ W,  W = w viewed as (KH*KW*Cin, Cout);
//                    bias and relu in the epilogue.
//   backward_weights dw (KH*KW*Cin, Cout) = P^T @ dy;  db = column sums of dy (bias_grad).
//   backward_data    dx (N*H*W, Cin) = Q @ R with k' = (kh, kw, co):
//                    Q[(n,h,w), k'] = dy[n, oh, ow, co] where oh*sh - pt + kh*dh = h (and ow
//                    likewise; 0 when no integer oh in range), R[k', ci] = w[kh, kw, ci, co].
//                    A gather: each dx element is written once, no atomics, deterministic.
// Index arithmetic (divisions per element) is not yet hoisted out of the panel loads; a
// specialised kernel for 1x1 / 3x3 stride-1 convolutions and vectorised channel loads are the
// obvious next steps once a GPU can measure them.
#include "core/check.h"
#include "cuda/bias_grad.h"
#include "cuda/conv_loaders.cuh"
#include "cuda/conv2d.h"
#include "cuda/pool2d.h"
#include "cuda/tiled_gemm.cuh"

namespace corenn::cuda {

namespace {

struct Geom {  // Conv2dGeometry, as a trivially copyable kernel argument
  int64_t n, h, w, cin, kh, kw, cout, oh, ow, sh, sw, pt, pl, dh, dw;
};

// Grouped convolution has no CUDA kernel yet (the loaders index whole channel rows): refuse it
// by name rather than compute an ungrouped conv.
void check_ungrouped(const char* op, const Conv2dGeometry& g) {
  CORENN_CHECK(g.groups == 1, op, ": grouped convolution (groups=", g.groups,
               ") has no CUDA kernel yet; run this layer on the CPU");
}

Geom to_geom(const Conv2dGeometry& g) {
  return Geom{g.n, g.h, g.w, g.cin, g.kh, g.kw, g.cout, g.oh, g.ow, g.sh, g.sw, g.pt, g.pl, g.dh, g.dw};
}

// P[m, k] (forward's A operand), contiguous along ci = the k axis.
__device__ inline float patch(const Geom& g, const float* x, int64_t m, int64_t k) {
  const int64_t ci = k % g.cin, kw = (k / g.cin) % g.kw, kh = k / (g.cin * g.kw);
  const int64_t ow = m % g.ow, oh = (m / g.ow) % g.oh, n = m / (g.ow * g.oh);
  const int64_t h = oh * g.sh - g.pt + kh * g.dh, w = ow * g.sw - g.pl + kw * g.dw;
  if (h < 0 || h >= g.h || w < 0 || w >= g.w) return 0.0f;
  return x[((n * g.h + h) * g.w + w) * g.cin + ci];
}

struct GradOutputA {  // backward_data: A = Q, contiguous along co = the k' axis
  static constexpr bool kAlongK = true;
  Geom g;
  const float* dy;
  __device__ float operator()(int64_t r, int64_t k) const {
    const int64_t co = k % g.cout, kw = (k / g.cout) % g.kw, kh = k / (g.cout * g.kw);
    const int64_t w = r % g.w, h = (r / g.w) % g.h, n = r / (g.w * g.h);
    const int64_t th = h + g.pt - kh * g.dh, tw = w + g.pl - kw * g.dw;
    if (th < 0 || tw < 0 || th % g.sh != 0 || tw % g.sw != 0) return 0.0f;
    const int64_t oh = th / g.sh, ow = tw / g.sw;
    if (oh >= g.oh || ow >= g.ow) return 0.0f;
    return dy[((n * g.oh + oh) * g.ow + ow) * g.cout + co];
  }
};

struct WeightRowsB {  // backward_data: B = R, R[k', ci] = w[kh, kw, ci, co], contiguous along co
  static constexpr bool kAlongN = false;
  Geom g;
  const float* w;
  __device__ float operator()(int64_t k, int64_t ci) const {
    const int64_t co = k % g.cout, khw = k / g.cout;  // khw = kh * KW + kw
    return w[(khw * g.cin + ci) * g.cout + co];
  }
};

}  // namespace

// keep_w (what the CPU kernels derive from a weight and keep) has no use here: the tiled GEMM
// reads w as it lies.
void conv2d_forward(const Tensor& like, const Conv2dGeometry& g, const float* x, const float* w,
                    const float* bias, float* y, bool relu, const Storage* /*keep_w*/) {
  check_ungrouped("conv2d_forward", g);
  DeviceGuard guard(like);
  tiled::Epilogue ep;
  ep.bias = bias;
  ep.relu = relu;
  tiled::launch("conv2d_forward", stream_of(like), g.pixels(), g.cout, g.depth(),
                PatchA<Geom>{to_geom(g), x}, tiled::DenseB<false>{w, g.cout}, y, g.cout, ep);
}

void conv2d_backward_data(const Tensor& like, const Conv2dGeometry& g, const float* dy,
                          const float* w, float* dx) {
  check_ungrouped("conv2d_backward_data", g);
  DeviceGuard guard(like);
  const Geom gg = to_geom(g);
  tiled::launch("conv2d_backward_data", stream_of(like), g.n * g.h * g.w, g.cin,
                g.kh * g.kw * g.cout, GradOutputA{gg, dy}, WeightRowsB{gg, w}, dx, g.cin,
                tiled::Epilogue{});
}

void conv2d_backward_weights(const Tensor& like, const Conv2dGeometry& g, const float* x,
                             const float* dy, float* dw, float* db) {
  check_ungrouped("conv2d_backward_weights", g);
  DeviceGuard guard(like);
  tiled::launch("conv2d_backward_weights", stream_of(like), g.depth(), g.cout, g.pixels(),
                PatchTransposedA<Geom>{to_geom(g), x}, tiled::DenseB<false>{dy, g.cout}, dw, g.cout,
                tiled::Epilogue{});
  if (db) bias_grad(like, dy, db, g.pixels(), g.cout);
}

void conv2d_relu_max_pool2d_forward(const Tensor& like, const Conv2dGeometry& g, const float* x,
                                    const float* w, const float* bias, float* y, int32_t* argmax,
                                    const Storage* /*keep_w*/) {
  // Two launches for now (conv with relu into a scratch tensor, then the pool); fusing the pool
  // into the GEMM epilogue is the CPU's trick and would save the round trip through memory.
  Tensor conv = Tensor::empty({g.n, g.oh, g.ow, g.cout}, DType::float32, like.device());
  conv2d_forward(like, g, x, w, bias, conv.data<float>(), true, nullptr);
  const Pool2dGeom pg{g.n, g.oh, g.ow, g.cout, g.oh / 2, g.ow / 2, 2, 2, 2, 2, 0, 0};
  max_pool2d_forward(like, pg, conv.data<float>(), y, argmax);
}

}  // namespace corenn::cuda

namespace corenn {
CORENN_REGISTER_KERNEL(conv2d_forward_stub, Slot::cuda, cuda::conv2d_forward);
CORENN_REGISTER_KERNEL(conv2d_backward_data_stub, Slot::cuda, cuda::conv2d_backward_data);
CORENN_REGISTER_KERNEL(conv2d_backward_weights_stub, Slot::cuda, cuda::conv2d_backward_weights);
CORENN_REGISTER_KERNEL(conv2d_relu_max_pool2d_forward_stub, Slot::cuda,
                       cuda::conv2d_relu_max_pool2d_forward);
}  // namespace corenn
