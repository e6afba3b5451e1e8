// 3-D pooling kernels (CUDA), NDHWC float32; the contract of cpu/pool3d.cpp (ops/pool3d.h):
//   max: the first maximum in window order wins (NaN wins as in max_pool2d); argmax = (d*H + h)*W
//        + w of the winner; dx[cell] = sum of dy over the windows whose argmax is that cell
//   avg: the mean over the window's real cells; dx gathers dy / count over the covering windows
// One thread per output element (forward) or per input element (backward, a gather over the
// covering windows: no atomics, deterministic), channels fastest so a warp reads consecutive
// channels, as cuda/pool2d.cu.
#include "cuda/common.cuh"
#include "cuda/pool_windows.cuh"
#include "ops/pool3d.h"

namespace corenn::cuda {

namespace {

struct Window {
  Range d, h, w;
  __device__ float inverse_cells() const {
    return 1.0f / static_cast<float>((d.hi - d.lo) * (h.hi - h.lo) * (w.hi - w.lo));
  }
};

__device__ inline Window window_of(const Pool3dGeom& g, int64_t a, int64_t b, int64_t e) {
  return Window{window(a, g.sd, g.pf, g.kd, g.d), window(b, g.sh, g.pt, g.kh, g.h),
                window(e, g.sw, g.pl, g.kw, g.w)};
}

template <bool kMax>
__global__ void pool_forward(Pool3dGeom g, const float* x, float* y, int32_t* am) {
  CORENN_GRID_STRIDE(o, g.n * g.od * g.oh * g.ow * g.c) {
    const int64_t c = o % g.c, e = (o / g.c) % g.ow, b = (o / (g.c * g.ow)) % g.oh;
    const int64_t a = (o / (g.c * g.ow * g.oh)) % g.od, n = o / (g.c * g.ow * g.oh * g.od);
    const Window win = window_of(g, a, b, e);
    const float* xn = x + n * g.d * g.h * g.w * g.c + c;
    float acc = kMax ? xn[((win.d.lo * g.h + win.h.lo) * g.w + win.w.lo) * g.c] : 0.0f;
    int32_t best = static_cast<int32_t>((win.d.lo * g.h + win.h.lo) * g.w + win.w.lo);
    for (int64_t d = win.d.lo; d < win.d.hi; ++d)
      for (int64_t h = win.h.lo; h < win.h.hi; ++h)
        for (int64_t w = win.w.lo; w < win.w.hi; ++w) {
          const int64_t cell = (d * g.h + h) * g.w + w;
          const float v = xn[cell * g.c];
          if (!kMax) {
            acc += v;
          } else if (!(v <= acc) && acc == acc) {  // greater, or the first NaN
            acc = v;
            best = static_cast<int32_t>(cell);
          }
        }
    if (kMax) {
      y[o] = acc;
      am[o] = best;
    } else {
      y[o] = acc * win.inverse_cells();
    }
  }
}

template <bool kMax>
__global__ void pool_backward(Pool3dGeom g, const float* dy, const int32_t* am, float* dx) {
  CORENN_GRID_STRIDE(i, g.n * g.d * g.h * g.w * g.c) {
    const int64_t c = i % g.c, w = (i / g.c) % g.w, h = (i / (g.c * g.w)) % g.h;
    const int64_t d = (i / (g.c * g.w * g.h)) % g.d, n = i / (g.c * g.w * g.h * g.d);
    const Range ra = covering(d, g.sd, g.pf, g.kd, g.od), rb = covering(h, g.sh, g.pt, g.kh, g.oh),
                re = covering(w, g.sw, g.pl, g.kw, g.ow);
    const int32_t me = static_cast<int32_t>((d * g.h + h) * g.w + w);
    float s = 0.0f;
    for (int64_t a = ra.lo; a < ra.hi; ++a)
      for (int64_t b = rb.lo; b < rb.hi; ++b)
        for (int64_t e = re.lo; e < re.hi; ++e) {
          const int64_t o = (((n * g.od + a) * g.oh + b) * g.ow + e) * g.c + c;
          if (kMax) {
            if (am[o] == me) s += dy[o];
          } else {
            s += dy[o] * window_of(g, a, b, e).inverse_cells();
          }
        }
    dx[i] = s;
  }
}

}  // namespace

void max_pool3d_forward(const Tensor& like, const Pool3dGeom& g, const float* x, float* y,
                        int32_t* argmax) {
  DeviceGuard guard(like);
  pool_forward<true><<<blocks_for(g.n * g.od * g.oh * g.ow * g.c), kThreads, 0, stream_of(like)>>>(
      g, x, y, argmax);
  check_launch("max_pool3d_forward");
}

// Does not verify the argmax (as max_pool2d's CUDA backward): an entry naming a cell outside its
// window simply routes nowhere.
void max_pool3d_backward(const Tensor& like, const Pool3dGeom& g, const float* dy,
                         const int32_t* argmax, float* dx) {
  DeviceGuard guard(like);
  pool_backward<true><<<blocks_for(g.n * g.d * g.h * g.w * g.c), kThreads, 0, stream_of(like)>>>(
      g, dy, argmax, dx);
  check_launch("max_pool3d_backward");
}

void avg_pool3d_forward(const Tensor& like, const Pool3dGeom& g, const float* x, float* y) {
  DeviceGuard guard(like);
  pool_forward<false><<<blocks_for(g.n * g.od * g.oh * g.ow * g.c), kThreads, 0, stream_of(like)>>>(
      g, x, y, nullptr);
  check_launch("avg_pool3d_forward");
}

void avg_pool3d_backward(const Tensor& like, const Pool3dGeom& g, const float* dy, float* dx) {
  DeviceGuard guard(like);
  pool_backward<false><<<blocks_for(g.n * g.d * g.h * g.w * g.c), kThreads, 0, stream_of(like)>>>(
      g, dy, nullptr, dx);
  check_launch("avg_pool3d_backward");
}

}  // namespace corenn::cuda

namespace corenn {
CORENN_REGISTER_KERNEL(max_pool3d_forward_stub, Slot::cuda, cuda::max_pool3d_forward);
CORENN_REGISTER_KERNEL(max_pool3d_backward_stub, Slot::cuda,
                       +[](const Tensor& like, const Pool3dGeom& g, const float* dy,
                           const int32_t* argmax, float* dx) -> int64_t {
                         cuda::max_pool3d_backward(like, g, dy, argmax, dx);
                         return -1;
                       });
CORENN_REGISTER_KERNEL(avg_pool3d_forward_stub, Slot::cuda, cuda::avg_pool3d_forward);
CORENN_REGISTER_KERNEL(avg_pool3d_backward_stub, Slot::cuda, cuda::avg_pool3d_backward);
}  // namespace corenn
