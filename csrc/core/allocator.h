// Device allocators. CPU memory is 64-byte aligned (one cache line, one AVX-512 vector) so kernels
// may use aligned loads on tensors they allocate; tensors borrowed from NumPy need not be aligned,
// so kernels that read inputs use unaligned loads. The CUDA backend registers its caching
// allocator here when it is built.
#pragma once

#include <cstddef>

namespace corenn {

enum class DeviceType : int8_t;

struct Allocator {
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr) = 0;
};

constexpr size_t kCpuAlignment = 64;

Allocator* get_allocator(DeviceType type);  // throws if the device type was not built
void register_allocator(DeviceType type, Allocator* allocator);

}  // namespace corenn
