// Embedding (CUDA): y[i, :] = W[idx[i], :]; dW[idx[i], :] += dy[i, :].
//
// Validation first (a bad index must neither read nor write outside W): one pass records the
// smallest position holding a bad index with atomicMin; the host reads that one word back and
// raises with the CPU's message. The gather and the scatter-add run one thread per element of y,
// consecutive threads on consecutive columns of a row (coalesced); the scatter-add zeroes dW and
// then uses atomicAdd.
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "core/check.h"
#include "cuda/common.cuh"
#include "cuda/embedding.h"

namespace corenn::cuda {

namespace {

constexpr unsigned long long kNoBadIndex = ~0ull;

template <class I>
__device__ bool bad_index(I x, int64_t v) {
  if constexpr (std::is_floating_point_v<I>) {
    return !isfinite(x) || x != floorf(x) || x < 0 || static_cast<double>(x) >= static_cast<double>(v);
  } else {
    return static_cast<int64_t>(x) < 0 || static_cast<int64_t>(x) >= v;
  }
}

template <class I>
__global__ void find_bad_index(const I* idx, int64_t n, int64_t v, unsigned long long* first) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    if (bad_index(idx[i], v)) atomicMin(first, static_cast<unsigned long long>(i));
}

template <class I>
__global__ void gather_rows(const I* idx, int64_t n, int64_t d, const float* w, float* y) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n * d;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / d, j = e - i * d;
    y[e] = w[static_cast<int64_t>(idx[i]) * d + j];
  }
}

template <class I>
__global__ void scatter_add_rows(const I* idx, int64_t n, int64_t d, const float* dy, float* dw) {
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n * d;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / d, j = e - i * d;
    atomicAdd(&dw[static_cast<int64_t>(idx[i]) * d + j], dy[e]);
  }
}

// Raises (as ops/embedding.cpp does on the CPU) when any index is not a whole number in [0, v).
template <class I>
void validate(const char* op, const Tensor& indices, int64_t v) {
  const int64_t n = indices.numel();
  if (n == 0) return;
  const cudaStream_t s = stream_of(indices);
  const Tensor slot = Tensor::empty({1}, DType::int64, indices.device());
  auto* first = reinterpret_cast<unsigned long long*>(slot.raw_data());
  check_cuda(cudaMemsetAsync(first, 0xFF, sizeof(unsigned long long), s), "embedding: cudaMemset");
  find_bad_index<<<blocks_for(n), kThreads, 0, s>>>(indices.data<I>(), n, v, first);
  check_launch(op);
  unsigned long long bad = kNoBadIndex;
  cuda::copy_bytes(&bad, Device{}, first, indices.device(), sizeof(bad));
  if (bad == kNoBadIndex) return;
  I x{};
  cuda::copy_bytes(&x, Device{}, indices.data<I>() + bad, indices.device(), sizeof(I));
  if constexpr (std::is_floating_point_v<I>) {
    CORENN_CHECK(std::isfinite(x) && x == std::floor(x), op, ": indices must be whole numbers, got ",
                 "indices[", bad, "] = ", x, " (valid range [0, ", v, "))");
  }
  CORENN_CHECK(false, op, ": index out of range: indices[", bad, "] = ", x, ", valid range is [0, ",
               v, ") (input_dim ", v, ")");
}

template <class F>
void with_indices(const char* op, const Tensor& indices, int64_t v, const F& f) {
  switch (indices.dtype()) {
    case DType::int32: validate<int32_t>(op, indices, v); return f(indices.data<int32_t>());
    case DType::int64: validate<int64_t>(op, indices, v); return f(indices.data<int64_t>());
    case DType::float32: validate<float>(op, indices, v); return f(indices.data<float>());
    default: break;   // refused by the op entry (check_args)
  }
}

}  // namespace

void embedding_forward(const Tensor& indices, const Tensor& weight, const Tensor& y) {
  DeviceGuard guard(weight);
  const int64_t n = indices.numel(), d = weight.size(1);
  with_indices("embedding_forward", indices, weight.size(0), [&](const auto* idx) {
    if (y.numel() == 0) return;
    gather_rows<<<blocks_for(n * d), kThreads, 0, stream_of(weight)>>>(idx, n, d, weight.data<float>(),
                                                                       y.data<float>());
    check_launch("embedding_forward");
  });
}

void embedding_backward(const Tensor& indices, const Tensor& dy, const Tensor& dweight) {
  DeviceGuard guard(dweight);
  const int64_t n = indices.numel(), d = dweight.size(1);
  with_indices("embedding_backward", indices, dweight.size(0), [&](const auto* idx) {
    if (dweight.numel() == 0) return;
    const cudaStream_t s = stream_of(dweight);
    check_cuda(cudaMemsetAsync(dweight.raw_data(), 0, dweight.nbytes(), s), "embedding_backward: cudaMemset");
    if (n * d > 0)
      scatter_add_rows<<<blocks_for(n * d), kThreads, 0, s>>>(idx, n, d, dy.data<float>(),
                                                              dweight.data<float>());
    check_launch("embedding_backward");
  });
}

}  // namespace corenn::cuda

namespace corenn {
CORENN_REGISTER_KERNEL(embedding_forward_stub, Slot::cuda, cuda::embedding_forward);
CORENN_REGISTER_KERNEL(embedding_backward_stub, Slot::cuda, cuda::embedding_backward);
}  // namespace corenn
