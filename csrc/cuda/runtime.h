// CUDA runtime services for the rest of corenn, in plain C++ (no CUDA headers) so that core/,
// ops/ and bindings/ can include it when built with CORENN_WITH_CUDA.
//
//   is_available / device_count   never throw: without a driver (or GPU) they say false / 0, so
//                                 `import corenn` works on any machine with the CUDA build.
//   require_device(d)             RuntimeError naming d when it cannot be used; on first success it
//                                 registers the caching allocator for DeviceType::cuda.
//   copy_bytes                    host<->device and device<->device copies (synchronous for the
//                                 host: when it returns, host memory may be read or freed).
//   stream(d)                     the one stream per device every kernel and copy runs on (so the
//                                 caching allocator may reuse a freed block at once: later work on
//                                 the same stream is ordered after the work that used it).
//
// Allocator: cudaMalloc is a device-wide synchronisation and costs ~100 us, so freed blocks go to
// per-device free lists keyed by size class (512 B granules below 1 MiB, 2 MiB granules above) and
// are handed out again to requests of the same class. On out-of-memory the cache is released and
// the allocation retried once. empty_cache() returns every cached block to the driver.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/tensor.h"

namespace corenn::cuda {

bool is_available();
int device_count();
void require_device(const Device& device);  // throws corenn::RuntimeError naming the device

void set_device(int index);  // cudaSetDevice, checked
void* stream(int index);     // cudaStream_t of that device, created on first use
void synchronize(int index);

// nbytes from src (on src_device) to dst (on dst_device); either side may be the CPU.
void copy_bytes(void* dst, const Device& dst_device, const void* src, const Device& src_device,
                size_t nbytes);
void fill(const Tensor& t, double value);  // every element of a CUDA tensor (any dtype) := value

struct MemoryStats {
  size_t allocated = 0;  // bytes in live tensors (rounded to size classes)
  size_t cached = 0;     // bytes held in free lists, ready for reuse
  size_t device_mallocs = 0;  // cudaMalloc calls so far (stays flat in a steady training loop)
};
MemoryStats memory_stats(int index);
void empty_cache();

// Launch configuration shared by the elementwise kernels.
constexpr int kThreads = 256;
int64_t grid_for(int64_t n, int64_t threads = kThreads);  // capped; kernels use grid-stride loops

}  // namespace corenn::cuda
