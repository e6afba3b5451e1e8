// 2-D pooling kernels (CUDA), NHWC float32; the same contract as cpu/pool2d.cpp:
//
//   max:  y[n,i,j,c] = max over the window's real cells of x[n,h,w,c]; argmax = h*W + w of the
//         first maximum in row-major window order (strict >: ties keep the earlier cell); NaN is
//         the largest value: the first NaN is the max and the argmax (as cpu/pool2d.cpp)
//         dx[n,h,w,c] = sum over windows (i, j) covering (h, w) of dy[n,i,j,c] * [argmax == h*W+w]
//   avg:  y = (1 / count(i,j)) * sum over the window's real cells;  dx gathers dy / count
//   global avg / max: one window over the whole image, y (N, C).
// Window (i, j) starts at (i*SH - pad_top, j*SW - pad_left), clipped to the image.
//
// One thread per output element (forward) or per input element (backward), C fastest, so a warp
// reads 32 consecutive channels. Backward is a gather over the windows covering the cell (no
// atomics, deterministic), like the CPU. Global pooling: one thread per (n, c) looping over H*W,
// still coalesced along C; a large image with few channels would want a block reduction instead.
#include "cuda/common.cuh"
#include "cuda/pool_windows.cuh"
#include "cuda/pool2d.h"

namespace corenn::cuda {

namespace {

__global__ void max_forward(Pool2dGeom g, const float* x, float* y, int32_t* am) {
  const int64_t total = g.n * g.oh * g.ow * g.c;
  CORENN_GRID_STRIDE(e, total) {
    const int64_t c = e % g.c, j = (e / g.c) % g.ow, i = (e / (g.c * g.ow)) % g.oh;
    const int64_t n = e / (g.c * g.ow * g.oh);
    const Range rh = window(i, g.sh, g.pad_top, g.kh, g.h), rw = window(j, g.sw, g.pad_left, g.kw, g.w);
    const float* xn = x + n * g.h * g.w * g.c + c;
    float best = xn[(rh.lo * g.w + rw.lo) * g.c];
    int32_t best_idx = static_cast<int32_t>(rh.lo * g.w + rw.lo);
    for (int64_t h = rh.lo; h < rh.hi; ++h)
      for (int64_t w = rw.lo; w < rw.hi; ++w) {
        const float v = xn[(h * g.w + w) * g.c];
        if (!(v <= best) && best == best) {  // greater, or the first NaN
          best = v;
          best_idx = static_cast<int32_t>(h * g.w + w);
        }
      }
    y[e] = best;
    am[e] = best_idx;
  }
}

template <bool kMax>
__global__ void pool_backward(Pool2dGeom g, const float* dy, const int32_t* am, float* dx) {
  const int64_t total = g.n * g.h * g.w * g.c;
  CORENN_GRID_STRIDE(e, total) {
    const int64_t c = e % g.c, w = (e / g.c) % g.w, h = (e / (g.c * g.w)) % g.h;
    const int64_t n = e / (g.c * g.w * g.h);
    const Range ri = covering(h, g.sh, g.pad_top, g.kh, g.oh);
    const Range rj = covering(w, g.sw, g.pad_left, g.kw, g.ow);
    const int32_t me = static_cast<int32_t>(h * g.w + w);
    float s = 0.0f;
    for (int64_t i = ri.lo; i < ri.hi; ++i) {
      for (int64_t j = rj.lo; j < rj.hi; ++j) {
        const int64_t o = ((n * g.oh + i) * g.ow + j) * g.c + c;
        if (kMax) {
          if (am[o] == me) s += dy[o];
        } else {
          const Range rh = window(i, g.sh, g.pad_top, g.kh, g.h);
          const Range rw = window(j, g.sw, g.pad_left, g.kw, g.w);
          s += dy[o] * (1.0f / static_cast<float>((rh.hi - rh.lo) * (rw.hi - rw.lo)));
        }
      }
    }
    dx[e] = s;
  }
}

__global__ void avg_forward(Pool2dGeom g, const float* x, float* y) {
  const int64_t total = g.n * g.oh * g.ow * g.c;
  CORENN_GRID_STRIDE(e, total) {
    const int64_t c = e % g.c, j = (e / g.c) % g.ow, i = (e / (g.c * g.ow)) % g.oh;
    const int64_t n = e / (g.c * g.ow * g.oh);
    const Range rh = window(i, g.sh, g.pad_top, g.kh, g.h), rw = window(j, g.sw, g.pad_left, g.kw, g.w);
    const float* xn = x + n * g.h * g.w * g.c + c;
    float s = 0.0f;
    for (int64_t h = rh.lo; h < rh.hi; ++h)
      for (int64_t w = rw.lo; w < rw.hi; ++w) s += xn[(h * g.w + w) * g.c];
    y[e] = s * (1.0f / static_cast<float>((rh.hi - rh.lo) * (rw.hi - rw.lo)));
  }
}

template <bool kMax>
__global__ void global_forward(int64_t n, int64_t hw, int64_t C, const float* x, float* y, int32_t* am) {
  CORENN_GRID_STRIDE(e, n * C) {
    const int64_t c = e % C, b = e / C;
    const float* xb = x + b * hw * C + c;
    float acc = xb[0];
    int32_t idx = 0;
    for (int64_t p = 1; p < hw; ++p) {
      const float v = xb[p * C];
      if (kMax) {
        if (!(v <= acc) && acc == acc) {  // greater, or the first NaN
          acc = v;
          idx = static_cast<int32_t>(p);
        }
      } else {
        acc += v;
      }
    }
    if (kMax) {
      y[e] = acc;
      am[e] = idx;
    } else {
      y[e] = acc * (1.0f / static_cast<float>(hw));
    }
  }
}

template <bool kMax>
__global__ void global_backward(int64_t n, int64_t hw, int64_t C, const float* dy, const int32_t* am,
                                float* dx) {
  CORENN_GRID_STRIDE(e, n * hw * C) {
    const int64_t c = e % C, p = (e / C) % hw, b = e / (C * hw);
    const int64_t o = b * C + c;
    dx[e] = kMax ? (am[o] == p ? dy[o] : 0.0f) : dy[o] * (1.0f / static_cast<float>(hw));
  }
}

}  // namespace

void max_pool2d_forward(const Tensor& like, const Pool2dGeom& g, const float* x, float* y, int32_t* argmax) {
  DeviceGuard guard(like);
  max_forward<<<blocks_for(g.n * g.oh * g.ow * g.c), kThreads, 0, stream_of(like)>>>(g, x, y, argmax);
  check_launch("max_pool2d_forward");
}

void max_pool2d_backward(const Tensor& like, const Pool2dGeom& g, const float* dy, const int32_t* argmax,
                         float* dx) {
  DeviceGuard guard(like);
  pool_backward<true><<<blocks_for(g.n * g.h * g.w * g.c), kThreads, 0, stream_of(like)>>>(g, dy, argmax, dx);
  check_launch("max_pool2d_backward");
}

void avg_pool2d_forward(const Tensor& like, const Pool2dGeom& g, const float* x, float* y) {
  DeviceGuard guard(like);
  avg_forward<<<blocks_for(g.n * g.oh * g.ow * g.c), kThreads, 0, stream_of(like)>>>(g, x, y);
  check_launch("avg_pool2d_forward");
}

void avg_pool2d_backward(const Tensor& like, const Pool2dGeom& g, const float* dy, float* dx) {
  DeviceGuard guard(like);
  pool_backward<false><<<blocks_for(g.n * g.h * g.w * g.c), kThreads, 0, stream_of(like)>>>(g, dy, nullptr, dx);
  check_launch("avg_pool2d_backward");
}

void global_avg_pool2d_forward(const Tensor& like, int64_t n, int64_t hw, int64_t c, const float* x, float* y) {
  DeviceGuard guard(like);
  global_forward<false><<<blocks_for(n * c), kThreads, 0, stream_of(like)>>>(n, hw, c, x, y, nullptr);
  check_launch("global_avg_pool2d_forward");
}

void global_avg_pool2d_backward(const Tensor& like, int64_t n, int64_t hw, int64_t c, const float* dy, float* dx) {
  DeviceGuard guard(like);
  global_backward<false><<<blocks_for(n * hw * c), kThreads, 0, stream_of(like)>>>(n, hw, c, dy, nullptr, dx);
  check_launch("global_avg_pool2d_backward");
}

void global_max_pool2d_forward(const Tensor& like, int64_t n, int64_t hw, int64_t c, const float* x,
                               float* y, int32_t* argmax) {
  DeviceGuard guard(like);
  global_forward<true><<<blocks_for(n * c), kThreads, 0, stream_of(like)>>>(n, hw, c, x, y, argmax);
  check_launch("global_max_pool2d_forward");
}

void global_max_pool2d_backward(const Tensor& like, int64_t n, int64_t hw, int64_t c, const float* dy,
                                const int32_t* argmax, float* dx) {
  DeviceGuard guard(like);
  global_backward<true><<<blocks_for(n * hw * c), kThreads, 0, stream_of(like)>>>(n, hw, c, dy, argmax, dx);
  check_launch("global_max_pool2d_backward");
}

}  // namespace corenn::cuda

namespace corenn {
CORENN_REGISTER_KERNEL(max_pool2d_forward_stub, Slot::cuda, cuda::max_pool2d_forward);
// The CUDA backward does not verify the argmax (as before the dispatch table): it vouches.
CORENN_REGISTER_KERNEL(max_pool2d_backward_stub, Slot::cuda,
                       +[](const Tensor& like, const Pool2dGeom& g, const float* dy,
                           const int32_t* argmax, float* dx) {
                         cuda::max_pool2d_backward(like, g, dy, argmax, dx);
                         return true;
                       });
CORENN_REGISTER_KERNEL(avg_pool2d_forward_stub, Slot::cuda, cuda::avg_pool2d_forward);
CORENN_REGISTER_KERNEL(avg_pool2d_backward_stub, Slot::cuda, cuda::avg_pool2d_backward);
CORENN_REGISTER_KERNEL(global_avg_pool2d_forward_stub, Slot::cuda, cuda::global_avg_pool2d_forward);
CORENN_REGISTER_KERNEL(global_avg_pool2d_backward_stub, Slot::cuda,
                       cuda::global_avg_pool2d_backward);
CORENN_REGISTER_KERNEL(global_max_pool2d_forward_stub, Slot::cuda, cuda::global_max_pool2d_forward);
CORENN_REGISTER_KERNEL(global_max_pool2d_backward_stub, Slot::cuda,
                       +[](const Tensor& like, int64_t n, int64_t hw, int64_t c, const float* dy,
                           const int32_t* argmax, float* dx) -> int64_t {
                         cuda::global_max_pool2d_backward(like, n, hw, c, dy, argmax, dx);
                         return -1;
                       });
}  // namespace corenn
