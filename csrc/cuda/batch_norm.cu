// Batch normalization (CUDA), x viewed as (rows, C); same math and precision as the CPU path
// (per-channel sums in double, two passes for the variance).
//
// Per-channel reductions use the bias gradient's layout: a block of 32 x 8 threads owns 32
// adjacent channels, each warp row reads 32 consecutive floats (coalesced), the 8 thread rows
// stride over the rows, a shared-memory pass adds their partials in a fixed order
// (deterministic). The per-channel scalars (mean, inv_std, gamma * inv_std, means of the
// gradient sums) are computed on the device by the same blocks; nothing returns to the host
// except the inference entry's check of the moving variance. Elementwise passes run one thread
// per element.
#include <cmath>
#include <vector>

#include "cuda/batch_norm.h"
#include "cuda/common.cuh"

namespace corenn::cuda {

namespace {

constexpr int kCols = 32, kRowThreads = 8;

// Sum over the block's 8 thread rows of v (per column); the result is valid in thread row 0.
__device__ double column_sum(double v, double (*partial)[kCols + 1]) {
  const int tx = threadIdx.x, ty = threadIdx.y;
  partial[ty][tx] = v;
  __syncthreads();
  double s = 0.0;
  if (ty == 0)
    for (int t = 0; t < kRowThreads; ++t) s += partial[t][tx];
  __syncthreads();
  return s;
}

// mean, inv_std, scale = gamma * inv_std, shift = beta, and the moving statistics.
__global__ void train_stats(const float* __restrict__ x, int64_t rows, int64_t cols,
                            const float* gamma, const float* beta, float* mean, float* inv_std,
                            float* scale, float* shift, float* moving_mean, float* moving_var,
                            float keep, double epsilon) {
  __shared__ double partial[kRowThreads][kCols + 1];
  __shared__ double col_mean[kCols];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t c = int64_t(blockIdx.x) * kCols + tx;
  double s = 0.0;
  if (c < cols)
    for (int64_t r = ty; r < rows; r += kRowThreads) s += x[r * cols + c];
  s = column_sum(s, partial);
  if (ty == 0) col_mean[tx] = s / rows;
  __syncthreads();
  const double m = col_mean[tx];
  double q = 0.0;
  if (c < cols)
    for (int64_t r = ty; r < rows; r += kRowThreads) {
      const double d = x[r * cols + c] - m;
      q += d * d;
    }
  q = column_sum(q, partial);
  if (ty != 0 || c >= cols) return;
  const double var = q / rows;
  const float inv = static_cast<float>(1.0 / sqrt(var + epsilon));
  mean[c] = static_cast<float>(m);
  inv_std[c] = inv;
  scale[c] = (gamma ? gamma[c] : 1.0f) * inv;
  shift[c] = beta ? beta[c] : 0.0f;
  if (moving_mean) {
    const float take = 1.0f - keep;
    moving_mean[c] = moving_mean[c] * keep + static_cast<float>(m) * take;
    moving_var[c] = moving_var[c] * keep + static_cast<float>(var) * take;
  }
}

__global__ void infer_params(const float* gamma, const float* beta, const float* moving_var,
                             double epsilon, int64_t cols, float* scale, float* shift) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  const float inv = static_cast<float>(1.0 / sqrt(static_cast<double>(moving_var[c]) + epsilon));
  scale[c] = (gamma ? gamma[c] : 1.0f) * inv;
  shift[c] = beta ? beta[c] : 0.0f;
}

// y = (x - mean) * scale + shift per channel.
__global__ void apply(const float* x, float* y, int64_t n, int64_t cols, const float* mean,
                      const float* scale, const float* shift) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % cols;
    y[i] = (x[i] - mean[c]) * scale[c] + shift[c];
  }
}

// sums[c] = sum_r dy, sums[cols + c] = sum_r dy * (x - mean) * inv_std (double).
__global__ void grad_sums(const float* __restrict__ dy, const float* __restrict__ x, int64_t rows,
                          int64_t cols, const float* mean, const float* inv_std, double* sums) {
  __shared__ double partial[kRowThreads][kCols + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t c = int64_t(blockIdx.x) * kCols + tx;
  double s = 0.0, sx = 0.0;
  if (c < cols) {
    const float m = mean[c], inv = inv_std[c];
    for (int64_t r = ty; r < rows; r += kRowThreads) {
      const float g = dy[r * cols + c];
      s += g;
      sx += static_cast<double>(g) * ((x[r * cols + c] - m) * inv);
    }
  }
  s = column_sum(s, partial);
  sx = column_sum(sx, partial);
  if (ty == 0 && c < cols) {
    sums[c] = s;
    sums[cols + c] = sx;
  }
}

// dx = gamma inv_std (dy - mean_dy - xhat mean_dyxhat); the means are 0 in inference.
__global__ void input_grad(const float* dy, const float* x, float* dx, int64_t rows, int64_t cols,
                           const float* gamma, const float* mean, const float* inv_std,
                           const double* sums, bool training) {
  const int64_t n = rows * cols;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % cols;
    const float inv = inv_std[c];
    const float scale = (gamma ? gamma[c] : 1.0f) * inv;
    float g = dy[i];
    if (training) {
      const float mean_dy = static_cast<float>(sums[c] / rows);
      const float mean_dyxhat = static_cast<float>(sums[cols + c] / rows);
      g = g - mean_dy - (x[i] - mean[c]) * inv * mean_dyxhat;
    }
    dx[i] = scale * g;
  }
}

__global__ void write_param_grads(const double* sums, int64_t cols, float* dgamma, float* dbeta) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  if (dgamma) dgamma[c] = static_cast<float>(sums[cols + c]);
  if (dbeta) dbeta[c] = static_cast<float>(sums[c]);
}

float* ptr(const std::optional<Tensor>& t) { return t ? t->data<float>() : nullptr; }

unsigned channel_blocks(int64_t cols) { return static_cast<unsigned>((cols + kCols - 1) / kCols); }

}  // namespace

void batch_norm_forward_train(const Tensor& x, const std::optional<Tensor>& gamma,
                              const std::optional<Tensor>& beta, const Tensor& y, const Tensor& mean,
                              const Tensor& inv_std, const std::optional<Tensor>& moving_mean,
                              const std::optional<Tensor>& moving_var, double momentum, double epsilon) {
  DeviceGuard guard(x);
  const cudaStream_t s = stream_of(x);
  const int64_t rows = x.rows(), cols = x.cols();
  const Tensor affine = Tensor::empty({2 * cols}, DType::float32, x.device());  // scale, shift
  float* scale = affine.data<float>();
  train_stats<<<channel_blocks(cols), dim3(kCols, kRowThreads), 0, s>>>(
      x.data<float>(), rows, cols, ptr(gamma), ptr(beta), mean.data<float>(), inv_std.data<float>(),
      scale, scale + cols, ptr(moving_mean), ptr(moving_var), static_cast<float>(momentum), epsilon);
  apply<<<blocks_for(rows * cols), kThreads, 0, s>>>(x.data<float>(), y.data<float>(), rows * cols,
                                                    cols, mean.data<float>(), scale, scale + cols);
  check_launch("batch_norm_forward_train");
}

void batch_norm_forward_infer(const Tensor& x, const std::optional<Tensor>& gamma,
                              const std::optional<Tensor>& beta, const Tensor& moving_mean,
                              const Tensor& moving_var, const Tensor& y, double epsilon) {
  const char* op = "batch_norm_forward_infer";
  DeviceGuard guard(x);
  const int64_t cols = x.cols();
  std::vector<float> var(static_cast<size_t>(cols));
  cuda::copy_bytes(var.data(), Device{}, moving_var.raw_data(), moving_var.device(),
                   static_cast<size_t>(cols) * sizeof(float));
  for (int64_t c = 0; c < cols; ++c)
    CORENN_CHECK(var[c] + epsilon > 0.0, op, ": moving_var[", c, "] + epsilon must be > 0, got ",
                 var[c] + epsilon);
  const cudaStream_t s = stream_of(x);
  const Tensor affine = Tensor::empty({2 * cols}, DType::float32, x.device());
  float* scale = affine.data<float>();
  infer_params<<<blocks_for(cols), kThreads, 0, s>>>(ptr(gamma), ptr(beta), moving_var.data<float>(),
                                                    epsilon, cols, scale, scale + cols);
  apply<<<blocks_for(x.numel()), kThreads, 0, s>>>(x.data<float>(), y.data<float>(), x.numel(), cols,
                                                  moving_mean.data<float>(), scale, scale + cols);
  check_launch(op);
}

void batch_norm_backward(const Tensor& dy, const Tensor& x, const std::optional<Tensor>& gamma,
                         const Tensor& mean, const Tensor& inv_std, const std::optional<Tensor>& dx,
                         const std::optional<Tensor>& dgamma, const std::optional<Tensor>& dbeta,
                         bool training) {
  DeviceGuard guard(x);
  const cudaStream_t s = stream_of(x);
  const int64_t rows = x.rows(), cols = x.cols();
  const bool need_sums = dgamma || dbeta || (dx && training);
  // 2 * cols doubles: sum_dy, then sum_dy_xhat.
  const Tensor sums_t = Tensor::empty({2 * cols}, DType::int64, x.device());
  auto* sums = reinterpret_cast<double*>(sums_t.raw_data());
  if (need_sums)
    grad_sums<<<channel_blocks(cols), dim3(kCols, kRowThreads), 0, s>>>(
        dy.data<float>(), x.data<float>(), rows, cols, mean.data<float>(), inv_std.data<float>(), sums);
  if (dx)
    input_grad<<<blocks_for(rows * cols), kThreads, 0, s>>>(
        dy.data<float>(), x.data<float>(), dx->data<float>(), rows, cols, ptr(gamma),
        mean.data<float>(), inv_std.data<float>(), sums, training);
  if (dgamma || dbeta)  // last: nothing above reads them
    write_param_grads<<<blocks_for(cols), kThreads, 0, s>>>(sums, cols, ptr(dgamma), ptr(dbeta));
  check_launch("batch_norm_backward");
}

}  // namespace corenn::cuda

namespace corenn {
CORENN_REGISTER_KERNEL(batch_norm_forward_train_stub, Slot::cuda, cuda::batch_norm_forward_train);
CORENN_REGISTER_KERNEL(batch_norm_forward_infer_stub, Slot::cuda, cuda::batch_norm_forward_infer);
CORENN_REGISTER_KERNEL(batch_norm_backward_stub, Slot::cuda, cuda::batch_norm_backward);
}  // namespace corenn
