// Fused optimizer updates (CUDA): every parameter of a model in one launch, same math and order
// as cpu/optimizer.cpp (clip value, clip norm scale, decoupled decay, then the update):
//   g = clip(g, -clipvalue, clipvalue) * scale_i;  p -= p * weight_decay * lr
//   sgd:  momentum == 0: p -= lr g;  else m = mu m - lr g, p += m  (nesterov: p += mu m - lr g)
//   adam: m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); amsgrad: vhat = max(vhat, v);
//         p -= alpha m / (sqrt(v or vhat) + eps),  alpha = lr sqrt(1 - b2^t) / (1 - b1^t)
//
// The parameter list becomes a table of Spans (pointers + length) copied to the device once per
// call; a 2-D grid runs blockIdx.y over spans and grid-strides x over a span's elements, so one
// launch covers any number of tensors (up to 65535) without a launch per parameter.
// Clip norms (clipnorm / global_clipnorm only): a sum-of-squares pass (double atomics into one
// slot per span: order-dependent in the last bits, unlike the CPU's fixed blocks) and a one-block
// pass turning the sums into per-span scales, all on the device; nothing returns to the host.
//   rmsprop: v = rho v + (1 - rho) g^2; centered: a = rho a + (1 - rho) g, denom = v - a^2;
//         inc = lr g / sqrt(denom + eps); momentum: m = mu m + inc, p -= m; else p -= inc
//   adagrad: acc += g^2; p -= lr g / sqrt(acc + eps)
#include <cmath>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/optimizer.h"

namespace corenn::cuda {

namespace {

struct Span {
  float* p;
  const float* g;
  float* s0;
  float* s1;
  float* s2;
  int64_t n;
};

struct Clip {
  float clipvalue;  // +inf when off
  float decay;      // weight_decay * lr
  float clipnorm, global_clipnorm;
  const float* scales;  // per span, or null when no norm clipping
};

__device__ inline float clip_grad(float g, const Clip& c, float scale) {
  return fminf(fmaxf(g, -c.clipvalue), c.clipvalue) * scale;
}

__global__ void sum_squares(const Span* spans, float clipvalue, double* sums) {
  const Span s = spans[blockIdx.y];
  double acc = 0.0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < s.n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const double x = fminf(fmaxf(s.g[i], -clipvalue), clipvalue);
    acc += x * x;
  }
  acc = block_reduce(acc, SumOp{}, 0.0);
  if (threadIdx.x == 0) atomicAdd(&sums[blockIdx.y], acc);
}

__global__ void norm_scales(const double* sums, int n, float clipnorm, float global_clipnorm,
                            float* scales) {
  double all = 0.0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) all += sums[i];
  all = block_reduce(all, SumOp{}, 0.0);
  const double gs = global_clipnorm > 0 ? global_clipnorm / fmax(sqrt(all), double(global_clipnorm)) : 1.0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const double cs = clipnorm > 0 ? clipnorm / fmax(sqrt(sums[i]), double(clipnorm)) : 1.0;
    scales[i] = static_cast<float>(static_cast<float>(cs) * gs);
  }
}

template <bool kMomentum, bool kNesterov>
__global__ void sgd_kernel(const Span* spans, Clip c, float lr, float mu) {
  const Span s = spans[blockIdx.y];
  const float scale = c.scales ? c.scales[blockIdx.y] : 1.0f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < s.n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = clip_grad(s.g[i], c, scale);
    float pi = s.p[i] - s.p[i] * c.decay;
    if (kMomentum) {
      const float mi = mu * s.s0[i] - lr * gi;
      s.s0[i] = mi;
      pi += kNesterov ? mu * mi - lr * gi : mi;
    } else {
      pi -= lr * gi;
    }
    s.p[i] = pi;
  }
}

template <bool kAmsgrad>
__global__ void adam_kernel(const Span* spans, Clip c, float alpha, float one_minus_b1,
                            float one_minus_b2, float eps) {
  const Span s = spans[blockIdx.y];
  const float scale = c.scales ? c.scales[blockIdx.y] : 1.0f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < s.n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = clip_grad(s.g[i], c, scale);
    const float pi = s.p[i] - s.p[i] * c.decay;
    const float mi = s.s0[i] + (gi - s.s0[i]) * one_minus_b1;
    float vi = s.s1[i] + (gi * gi - s.s1[i]) * one_minus_b2;
    s.s0[i] = mi;
    s.s1[i] = vi;
    if (kAmsgrad) {
      vi = fmaxf(s.s2[i], vi);
      s.s2[i] = vi;
    }
    s.p[i] = pi - alpha * mi / (sqrtf(vi) + eps);
  }
}

template <bool kCentered, bool kMomentum>
__global__ void rmsprop_kernel(const Span* spans, Clip c, float lr, float rho, float mu, float eps) {
  const Span s = spans[blockIdx.y];
  const float scale = c.scales ? c.scales[blockIdx.y] : 1.0f;
  const float one_minus_rho = 1.0f - rho;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < s.n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = clip_grad(s.g[i], c, scale);
    float pi = s.p[i] - s.p[i] * c.decay;
    const float vi = rho * s.s0[i] + one_minus_rho * gi * gi;
    s.s0[i] = vi;
    float denom = vi;
    if (kCentered) {
      const float ai = rho * s.s2[i] + one_minus_rho * gi;
      s.s2[i] = ai;
      denom -= ai * ai;
    }
    const float inc = lr * gi / sqrtf(denom + eps);
    if (kMomentum) {
      const float mi = mu * s.s1[i] + inc;
      s.s1[i] = mi;
      pi -= mi;
    } else {
      pi -= inc;
    }
    s.p[i] = pi;
  }
}

__global__ void adagrad_kernel(const Span* spans, Clip c, float lr, float eps) {
  const Span s = spans[blockIdx.y];
  const float scale = c.scales ? c.scales[blockIdx.y] : 1.0f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < s.n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = clip_grad(s.g[i], c, scale);
    const float pi = s.p[i] - s.p[i] * c.decay;
    const float ai = s.s0[i] + gi * gi;
    s.s0[i] = ai;
    s.p[i] = pi - lr * gi / sqrtf(ai + eps);
  }
}

// Everything one launch needs: the span table and the clipping prologue on the device. The
// scratch tensors come from the caching allocator and are only freed (returned to the cache)
// after the launches are queued on the same stream, so reuse is ordered after them.
struct Launch {
  Tensor table, scratch;
  const Span* spans = nullptr;
  Clip clip{};
  dim3 grid;
};

Launch prepare(const TensorList& params, const TensorList& grads,
               std::initializer_list<const TensorList*> states, const UpdateCommon& c) {
  Launch l;
  const Tensor& like = params[0];
  const size_t n = params.size();
  CORENN_CHECK(n <= 65535, "optimizer update on CUDA: at most 65535 parameters per call, got ", n);
  std::vector<Span> host(n);
  int64_t longest = 1;
  for (size_t i = 0; i < n; ++i) {
    float* st[3] = {nullptr, nullptr, nullptr};
    int k = 0;
    for (const TensorList* list : states) {
      if (!list->empty()) st[k] = (*list)[i].data<float>();
      ++k;
    }
    host[i] = Span{params[i].data<float>(), grads[i].data<float>(), st[0], st[1], st[2],
                   params[i].numel()};
    longest = std::max(longest, params[i].numel());
  }
  const int64_t words = static_cast<int64_t>((n * sizeof(Span) + 7) / 8);
  l.table = Tensor::empty({words}, DType::int64, like.device());
  cuda::copy_bytes(l.table.raw_data(), like.device(), host.data(), Device{}, n * sizeof(Span));
  l.spans = static_cast<const Span*>(l.table.raw_data());
  l.grid = dim3(static_cast<unsigned>(std::min<int64_t>((longest + kThreads - 1) / kThreads, 1024)),
                static_cast<unsigned>(n));

  l.clip.clipvalue = c.clipvalue > 0 ? c.clipvalue : INFINITY;
  l.clip.decay = c.weight_decay * c.lr;
  if (c.clipnorm > 0 || c.global_clipnorm > 0) {
    // n doubles of sums, then n floats of scales.
    l.scratch = Tensor::empty({static_cast<int64_t>(n) * 2}, DType::int64, like.device());
    auto* sums = l.scratch.data<double>();
    auto* scales = reinterpret_cast<float*>(sums + n);
    const cudaStream_t s = stream_of(like);
    check_cuda(cudaMemsetAsync(sums, 0, n * sizeof(double), s), "optimizer: cudaMemset");
    sum_squares<<<l.grid, kThreads, 0, s>>>(l.spans, l.clip.clipvalue, sums);
    norm_scales<<<1, 1024, 0, s>>>(sums, static_cast<int>(n), c.clipnorm, c.global_clipnorm, scales);
    check_launch("optimizer clip norms");
    l.clip.scales = scales;
  }
  return l;
}

}  // namespace

void sgd_update(const TensorList& params, const TensorList& grads, const TensorList& momentums,
                const UpdateCommon& common, float momentum, bool nesterov) {
  if (params.empty()) return;
  DeviceGuard guard(params[0]);
  const Launch l = prepare(params, grads, {&momentums}, common);
  const cudaStream_t s = stream_of(params[0]);
  if (momentum == 0.0f)
    sgd_kernel<false, false><<<l.grid, kThreads, 0, s>>>(l.spans, l.clip, common.lr, momentum);
  else if (nesterov)
    sgd_kernel<true, true><<<l.grid, kThreads, 0, s>>>(l.spans, l.clip, common.lr, momentum);
  else
    sgd_kernel<true, false><<<l.grid, kThreads, 0, s>>>(l.spans, l.clip, common.lr, momentum);
  check_launch("sgd_update");
}

void adam_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                 const TensorList& v, const TensorList& vhat, const UpdateCommon& common,
                 float beta_1, float beta_2, float epsilon, int64_t step, bool amsgrad) {
  if (params.empty()) return;
  DeviceGuard guard(params[0]);
  const Launch l = prepare(params, grads, {&m, &v, &vhat}, common);
  const double t = static_cast<double>(step + 1);
  const float alpha = static_cast<float>(common.lr * std::sqrt(1.0 - std::pow(double(beta_2), t)) /
                                         (1.0 - std::pow(double(beta_1), t)));
  const cudaStream_t s = stream_of(params[0]);
  if (amsgrad)
    adam_kernel<true><<<l.grid, kThreads, 0, s>>>(l.spans, l.clip, alpha, 1.0f - beta_1, 1.0f - beta_2, epsilon);
  else
    adam_kernel<false><<<l.grid, kThreads, 0, s>>>(l.spans, l.clip, alpha, 1.0f - beta_1, 1.0f - beta_2, epsilon);
  check_launch("adam_update");
}

void rmsprop_update(const TensorList& params, const TensorList& grads, const TensorList& velocities,
                    const TensorList& momentums, const TensorList& average_grads,
                    const UpdateCommon& common, float rho, float momentum, float epsilon,
                    bool centered) {
  if (params.empty()) return;
  DeviceGuard guard(params[0]);
  // Span slots as on the CPU: s0 velocity, s1 momentum, s2 average gradient.
  const Launch l = prepare(params, grads, {&velocities, &momentums, &average_grads}, common);
  const cudaStream_t s = stream_of(params[0]);
  const float lr = common.lr;
  if (centered && momentum > 0)
    rmsprop_kernel<true, true><<<l.grid, kThreads, 0, s>>>(l.spans, l.clip, lr, rho, momentum, epsilon);
  else if (centered)
    rmsprop_kernel<true, false><<<l.grid, kThreads, 0, s>>>(l.spans, l.clip, lr, rho, momentum, epsilon);
  else if (momentum > 0)
    rmsprop_kernel<false, true><<<l.grid, kThreads, 0, s>>>(l.spans, l.clip, lr, rho, momentum, epsilon);
  else
    rmsprop_kernel<false, false><<<l.grid, kThreads, 0, s>>>(l.spans, l.clip, lr, rho, momentum, epsilon);
  check_launch("rmsprop_update");
}

void adagrad_update(const TensorList& params, const TensorList& grads,
                    const TensorList& accumulators, const UpdateCommon& common, float epsilon) {
  if (params.empty()) return;
  DeviceGuard guard(params[0]);
  const Launch l = prepare(params, grads, {&accumulators}, common);
  adagrad_kernel<<<l.grid, kThreads, 0, stream_of(params[0])>>>(l.spans, l.clip, common.lr, epsilon);
  check_launch("adagrad_update");
}

}  // namespace corenn::cuda

namespace corenn {
CORENN_REGISTER_KERNEL(sgd_update_stub, Slot::cuda, cuda::sgd_update);
CORENN_REGISTER_KERNEL(adam_update_stub, Slot::cuda, cuda::adam_update);
CORENN_REGISTER_KERNEL(rmsprop_update_stub, Slot::cuda, cuda::rmsprop_update);
CORENN_REGISTER_KERNEL(adagrad_update_stub, Slot::cuda, cuda::adagrad_update);
}  // namespace corenn
