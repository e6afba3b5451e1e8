// CUDA runtime: device discovery, streams, the caching allocator, copies, fill. See runtime.h.
#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda/common.cuh"

namespace corenn::cuda {

namespace {

constexpr int kMaxDevices = 64;

// ---- discovery ------------------------------------------------------------------------------

struct Discovery {
  int count = 0;
  cudaError_t error = cudaSuccess;
};

const Discovery& discovery() {
  static const Discovery d = [] {
    Discovery out;
    out.error = cudaGetDeviceCount(&out.count);
    if (out.error != cudaSuccess) {
      out.count = 0;
      cudaGetLastError();
    }
    return out;
  }();
  return d;
}

// ---- caching allocator ----------------------------------------------------------------------

size_t size_class(size_t nbytes) {
  constexpr size_t kSmall = 512, kLarge = size_t(2) << 20, kSmallLimit = size_t(1) << 20;
  if (nbytes <= kSmallLimit) return std::max(kSmall, (nbytes + kSmall - 1) / kSmall * kSmall);
  return (nbytes + kLarge - 1) / kLarge * kLarge;
}

class CachingAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    if (nbytes == 0) return nullptr;
    int device = 0;
    check_cuda(cudaGetDevice(&device), "cuda allocator: cudaGetDevice");
    const size_t cls = size_class(nbytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto& pool = pools_[device][cls];
      if (!pool.empty()) {
        void* ptr = pool.back();
        pool.pop_back();
        live_[ptr] = Block{device, cls};
        stats_[device].cached -= cls;
        stats_[device].allocated += cls;
        return ptr;
      }
    }
    void* ptr = nullptr;
    cudaError_t err = cudaMalloc(&ptr, cls);
    if (err == cudaErrorMemoryAllocation) {  // give the cache back to the driver and retry once
      cudaGetLastError();
      empty_cache();
      check_cuda(cudaSetDevice(device), "cuda allocator: cudaSetDevice");
      err = cudaMalloc(&ptr, cls);
    }
    if (err != cudaSuccess) {
      cudaGetLastError();
      throw RuntimeError(detail::str_cat("cuda:", device, ": out of memory allocating ", nbytes,
                                         " bytes (", cudaGetErrorString(err), ")"));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    live_[ptr] = Block{device, cls};
    stats_[device].allocated += cls;
    stats_[device].device_mallocs += 1;
    return ptr;
  }

  void deallocate(void* ptr) override {
    if (!ptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(ptr);
    if (it == live_.end()) return;
    const Block b = it->second;
    live_.erase(it);
    pools_[b.device][b.cls].push_back(ptr);
    stats_[b.device].allocated -= b.cls;
    stats_[b.device].cached += b.cls;
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [device, pools] : pools_) {
      cudaSetDevice(device);
      cudaStreamSynchronize(static_cast<cudaStream_t>(stream(device)));
      for (auto& [cls, blocks] : pools) {
        for (void* p : blocks) cudaFree(p);
        stats_[device].cached -= cls * blocks.size();
        blocks.clear();
      }
    }
  }

  MemoryStats stats(int device) {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_[device];
  }

 private:
  struct Block {
    int device;
    size_t cls;
  };
  std::mutex mutex_;
  std::map<int, std::map<size_t, std::vector<void*>>> pools_;
  std::unordered_map<void*, Block> live_;
  std::map<int, MemoryStats> stats_;
};

CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator();  // never destroyed: tensors may outlive exit
  return *a;
}

std::once_flag g_register_once;
std::mutex g_stream_mutex;
cudaStream_t g_streams[kMaxDevices] = {};

// ---- fill -----------------------------------------------------------------------------------

template <class T>
__global__ void fill_kernel(T* p, int64_t n, T value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    p[i] = value;
}

}  // namespace

bool is_available() { return discovery().count > 0; }

int device_count() { return discovery().count; }

void require_device(const Device& device) {
  const Discovery& d = discovery();
  if (d.count == 0) {
    throw RuntimeError(detail::str_cat(
        device.str(), ": no CUDA device is available (", cudaGetErrorName(d.error), ": ",
        cudaGetErrorString(d.error), "; is an NVIDIA GPU present and its driver installed?); "
        "corenn.cuda.is_available() is False on this machine"));
  }
  if (device.index < 0 || device.index >= d.count || device.index >= kMaxDevices) {
    throw RuntimeError(detail::str_cat(device.str(), ": invalid CUDA device, this machine has ",
                                       d.count, " device(s): cuda:0 .. cuda:", d.count - 1));
  }
  std::call_once(g_register_once, [] { register_allocator(DeviceType::cuda, &allocator()); });
}

void set_device(int index) {
  check_cuda(cudaSetDevice(index), "cudaSetDevice");
}

void* stream(int index) {
  std::lock_guard<std::mutex> lock(g_stream_mutex);
  if (!g_streams[index]) {
    int previous = 0;
    cudaGetDevice(&previous);
    set_device(index);
    // Non-blocking: the legacy default stream (used by other libraries) does not serialise ours.
    check_cuda(cudaStreamCreateWithFlags(&g_streams[index], cudaStreamNonBlocking),
               "cudaStreamCreate");
    cudaSetDevice(previous);
  }
  return g_streams[index];
}

void synchronize(int index) {
  set_device(index);
  check_cuda(cudaStreamSynchronize(static_cast<cudaStream_t>(stream(index))), "cuda synchronize");
}

void copy_bytes(void* dst, const Device& dst_device, const void* src, const Device& src_device,
                size_t nbytes) {
  if (nbytes == 0) return;
  const Device& gpu = dst_device.is_cpu() ? src_device : dst_device;
  set_device(gpu.index);
  auto s = static_cast<cudaStream_t>(stream(gpu.index));
  if (!dst_device.is_cpu() && !src_device.is_cpu() && dst_device.index != src_device.index) {
    // Work queued on the source device must finish before the peer copy reads it.
    synchronize(src_device.index);
    set_device(dst_device.index);
    check_cuda(cudaMemcpyPeerAsync(dst, dst_device.index, src, src_device.index, nbytes, s),
               "cudaMemcpyPeer");
  } else {
    check_cuda(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDefault, s), "cudaMemcpy");
  }
  // The host side may be read (D2H) or freed (H2D from a NumPy array) as soon as we return.
  if (dst_device.is_cpu() || src_device.is_cpu()) check_cuda(cudaStreamSynchronize(s), "cudaMemcpy");
}

void fill(const Tensor& t, double value) {
  if (t.numel() == 0) return;
  DeviceGuard guard(t);
  const cudaStream_t s = stream_of(t);
  const unsigned grid = blocks_for(t.numel());
  switch (t.dtype()) {
    case DType::float32:
      fill_kernel<<<grid, kThreads, 0, s>>>(t.data<float>(), t.numel(), static_cast<float>(value));
      break;
    case DType::int32:
      fill_kernel<<<grid, kThreads, 0, s>>>(t.data<int32_t>(), t.numel(), static_cast<int32_t>(value));
      break;
    case DType::int64:
      fill_kernel<<<grid, kThreads, 0, s>>>(t.data<int64_t>(), t.numel(), static_cast<int64_t>(value));
      break;
    default:   // storage-only dtypes are filled on the host and copied (Tensor.fill_)
      CORENN_CHECK(false, "fill_: no CUDA fill for dtype ", dtype_name(t.dtype()));
  }
  check_launch("fill_");
}

MemoryStats memory_stats(int index) { return allocator().stats(index); }

void empty_cache() { allocator().empty_cache(); }

int64_t grid_for(int64_t n, int64_t threads) {
  // Enough blocks to fill any current GPU several times over; grid-stride loops do the rest.
  return std::max<int64_t>(1, std::min<int64_t>((n + threads - 1) / threads, 4096));
}

}  // namespace corenn::cuda
