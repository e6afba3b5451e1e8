// Accuracy counting kernels (CUDA), as cpu/accuracy.cpp:
//   sparse_categorical: #{i : argmax_j pred[i, j] == label[i]}
//   categorical:        #{i : argmax_j pred[i, j] == argmax_j target[i, j]}
//   binary:             #{k : (pred[k] > threshold) == (target[k] > 0.5)}   (per element)
// argmax keeps the first maximum, a NaN being the largest value (NumPy's rule). The per-row kinds use one thread per row (rows
// are a batch, cols a class count: small) and write a byte per row, 0 miss / 1 hit / 2 bad
// label, which comes back to the host so the first bad row can be reported exactly as on the CPU.
// binary counts with one 64-bit atomic per block after a block reduction.
#include <vector>

#include "cuda/accuracy.h"
#include "cuda/common.cuh"

namespace corenn::cuda {

namespace {

__device__ inline int64_t argmax(const float* v, int64_t n) {
  int64_t best = 0;
  for (int64_t j = 1; j < n; ++j)
    if (!(v[j] <= v[best]) && v[best] == v[best]) best = j;  // NaN counts as the largest: the first NaN wins
  return best;
}

template <class Label>
__global__ void sparse_rows(const float* pred, const Label* labels, int64_t rows, int64_t cols,
                            uint8_t* out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t label = labels[i];
    out[i] = (label < 0 || label >= cols) ? 2 : argmax(pred + i * cols, cols) == label;
  }
}

__global__ void categorical_rows(const float* pred, const float* target, int64_t rows, int64_t cols,
                                 uint8_t* out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rows;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = argmax(pred + i * cols, cols) == argmax(target + i * cols, cols);
}

__global__ void binary_count(const float* pred, const float* target, int64_t n, float threshold,
                             unsigned long long* count) {
  unsigned long long hits = 0;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < n;
       k += int64_t(gridDim.x) * blockDim.x)
    hits += (pred[k] > threshold) == (target[k] > 0.5f);
  hits = block_reduce(hits, SumOp{}, 0ull);
  if (threadIdx.x == 0) atomicAdd(count, hits);
}

std::vector<uint8_t> fetch(const Tensor& like, const Tensor& flags, int64_t rows) {
  std::vector<uint8_t> host(rows);
  cuda::copy_bytes(host.data(), Device{}, flags.raw_data(), like.device(), rows);
  return host;
}

}  // namespace

Hits sparse_categorical_hits(const Tensor& like, const float* pred, const void* labels,
                             bool labels32, int64_t rows, int64_t cols) {
  DeviceGuard guard(like);
  Tensor flags = Tensor::empty({(rows + 7) / 8}, DType::int64, like.device());
  auto* out = static_cast<uint8_t*>(flags.raw_data());
  if (labels32)
    sparse_rows<<<blocks_for(rows), kThreads, 0, stream_of(like)>>>(pred, static_cast<const int32_t*>(labels), rows, cols, out);
  else
    sparse_rows<<<blocks_for(rows), kThreads, 0, stream_of(like)>>>(pred, static_cast<const int64_t*>(labels), rows, cols, out);
  check_launch("accuracy");
  const std::vector<uint8_t> host = fetch(like, flags, rows);
  Hits h;
  for (int64_t i = 0; i < rows; ++i) {
    if (host[i] == 2) {
      h.bad_row = i;
      const size_t size = labels32 ? 4 : 8;
      int64_t label = 0;
      int32_t label32 = 0;
      cuda::copy_bytes(labels32 ? static_cast<void*>(&label32) : static_cast<void*>(&label), Device{},
                       static_cast<const char*>(labels) + i * size, like.device(), size);
      h.bad_label = labels32 ? label32 : label;
      return h;
    }
    h.hits += host[i];
  }
  return h;
}

int64_t categorical_hits(const Tensor& like, const float* pred, const float* target, int64_t rows,
                         int64_t cols) {
  DeviceGuard guard(like);
  Tensor flags = Tensor::empty({(rows + 7) / 8}, DType::int64, like.device());
  auto* out = static_cast<uint8_t*>(flags.raw_data());
  categorical_rows<<<blocks_for(rows), kThreads, 0, stream_of(like)>>>(pred, target, rows, cols, out);
  check_launch("accuracy");
  int64_t hits = 0;
  for (uint8_t f : fetch(like, flags, rows)) hits += f;
  return hits;
}

int64_t binary_hits(const Tensor& like, const float* pred, const float* target, int64_t n,
                    float threshold) {
  DeviceGuard guard(like);
  Tensor count = Tensor::zeros({1}, DType::int64, like.device());
  auto* c = static_cast<unsigned long long*>(count.raw_data());
  binary_count<<<blocks_for(n), kThreads, 0, stream_of(like)>>>(pred, target, n, threshold, c);
  check_launch("accuracy");
  unsigned long long host = 0;
  cuda::copy_bytes(&host, Device{}, c, like.device(), sizeof(host));
  return static_cast<int64_t>(host);
}

}  // namespace corenn::cuda

namespace corenn {
// per_row is a CPU-only output: the entry refuses it on other devices before it gets here.
CORENN_REGISTER_KERNEL(sparse_categorical_hits_stub, Slot::cuda,
                       +[](const Tensor& like, const float* pred, const void* labels,
                           bool labels32, int64_t rows, int64_t cols, float*) {
                         return cuda::sparse_categorical_hits(like, pred, labels, labels32, rows,
                                                              cols);
                       });
CORENN_REGISTER_KERNEL(categorical_hits_stub, Slot::cuda,
                       +[](const Tensor& like, const float* pred, const float* target,
                           int64_t rows, int64_t cols, float*) {
                         return cuda::categorical_hits(like, pred, target, rows, cols);
                       });
CORENN_REGISTER_KERNEL(binary_hits_stub, Slot::cuda,
                       +[](const Tensor& like, const float* pred, const float* target,
                           int64_t rows, int64_t cols, float threshold, float*) {
                         return cuda::binary_hits(like, pred, target, rows * cols, threshold);
                       });
}  // namespace corenn
