// Zero padding (CUDA), NHWC: the small image x / dx (N, H, W, C) sits at (top, left) inside the
// big one y / dy (N, BH, BW, C).
//   forward:  y = 0 everywhere, then y[n, h + top, w + left, c] = x[n, h, w, c]
//   backward: dx[n, h, w, c] = dy[n, h + top, w + left, c]   (the crop)
// One thread per element of the written tensor (forward: every y element decides whether it is
// padding or copies from x, so y is written once), C fastest for coalescing.
#include "cuda/common.cuh"
#include "cuda/pad2d.h"

namespace corenn::cuda {

namespace {

__global__ void pad_forward(int64_t n, int64_t h, int64_t w, int64_t c, int64_t top, int64_t left,
                            int64_t bh, int64_t bw, const float* x, float* y) {
  const int64_t total = n * bh * bw * c;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = e % c, bx = (e / c) % bw, by = (e / (c * bw)) % bh, b = e / (c * bw * bh);
    const int64_t sy = by - top, sx = bx - left;
    y[e] = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? x[((b * h + sy) * w + sx) * c + ch] : 0.0f;
  }
}

__global__ void pad_backward(int64_t n, int64_t h, int64_t w, int64_t c, int64_t top, int64_t left,
                             int64_t bh, int64_t bw, const float* dy, float* dx) {
  const int64_t total = n * h * w * c;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = e % c, sx = (e / c) % w, sy = (e / (c * w)) % h, b = e / (c * w * h);
    dx[e] = dy[((b * bh + sy + top) * bw + sx + left) * c + ch];
  }
}

}  // namespace

void zero_pad2d_forward(const Tensor& like, int64_t n, int64_t h, int64_t w, int64_t c, int64_t top,
                        int64_t left, int64_t bh, int64_t bw, const float* x, float* y) {
  DeviceGuard guard(like);
  pad_forward<<<blocks_for(n * bh * bw * c), kThreads, 0, stream_of(like)>>>(n, h, w, c, top, left,
                                                                             bh, bw, x, y);
  check_launch("zero_pad2d_forward");
}

void zero_pad2d_backward(const Tensor& like, int64_t n, int64_t h, int64_t w, int64_t c, int64_t top,
                         int64_t left, int64_t bh, int64_t bw, const float* dy, float* dx) {
  DeviceGuard guard(like);
  pad_backward<<<blocks_for(n * h * w * c), kThreads, 0, stream_of(like)>>>(n, h, w, c, top, left,
                                                                            bh, bw, dy, dx);
  check_launch("zero_pad2d_backward");
}

}  // namespace corenn::cuda

namespace corenn {
CORENN_REGISTER_KERNEL(zero_pad2d_forward_stub, Slot::cuda, cuda::zero_pad2d_forward);
CORENN_REGISTER_KERNEL(zero_pad2d_backward_stub, Slot::cuda, cuda::zero_pad2d_backward);
}  // namespace corenn
