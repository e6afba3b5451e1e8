// AlignedBuffer: a float buffer, 64-byte aligned (packed GEMM panels are read with aligned
// loads), that only grows and keeps its allocation between calls, so a kernel's scratch space
// costs nothing in steady state. Contents are not preserved when it grows. Kernels keep one per
// thread (thread_local); running out of memory raises std::bad_alloc (MemoryError in Python), on
// a pool worker too (the pool rethrows it on the caller).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace corenn {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(AlignedBuffer&& other) noexcept : data_(other.data_), capacity_(other.capacity_) {
    other.data_ = nullptr;
    other.capacity_ = 0;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data_); }

  // At least n floats.
  float* get(size_t n) {
    if (n > capacity_) {
      std::free(data_);
      capacity_ = 0;
      const size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes > 0 ? bytes : 64));
      if (!data_) throw std::bad_alloc();
      capacity_ = n;
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace corenn
