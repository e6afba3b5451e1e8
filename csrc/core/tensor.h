// corenn::Tensor: a contiguous, row-major n-d array with a dtype, a device and refcounted storage.
//
// There are no strides: kernels see plain contiguous buffers. The only views are reshapes, which
// share the storage. Storage either owns an allocation from the device allocator (64-byte aligned
// on CPU) or borrows memory owned by someone else (a NumPy array, a DLPack producer) and calls a
// release callback when the last Tensor referring to it goes away.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/allocator.h"
#include "core/check.h"

namespace corenn {

// The dtypes a Tensor holds. float32, int32 and int64 are the compute dtypes: kernels take
// them (each op entry checks for the ones it computes in and names the op and the dtype it got).
// The others are storage-only: a Tensor keeps their bytes (so a cast to uint8 or float64 is
// what Keras reports, and NumPy / DLPack round-trip them), and the Python ops convert them at
// their boundary as they convert NumPy input. New enumerators go at the end (the values index
// per-dtype tables).
enum class DType : int8_t {
  float32 = 0, int32 = 1, int64 = 2,                               // compute
  float64 = 3, float16 = 4, uint8 = 5, int8 = 6, uint16 = 7,       // storage only
  int16 = 8, uint32 = 9, uint64 = 10, bool_ = 11,
};
constexpr int kNumDTypes = 12;
size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);   // NumPy's name: "float32", "uint8", "bool", ...
DType dtype_from_name(const std::string& name);  // the inverse; TypeError on another name
// float32, int32 or int64: what kernels compute in.
inline bool is_compute_dtype(DType dtype) { return static_cast<int>(dtype) <= 2; }

// The largest tensor corenn creates or borrows, in bytes: 2^48 (256 TiB, more than x86-64's
// 47-bit user address space). The bound applies to the product of the NONZERO dimensions times
// the item size, so every sub-product of a shape (H * W, N * C, ...) that an op entry or a kernel
// forms also fits, empty tensors included: (0, 2^62, 4) is refused as NumPy refuses it. Any index
// into a tensor is then < 2^46 elements, far from int64 overflow.
constexpr int64_t kMaxTensorBytes = int64_t{1} << 48;

// The element count of `shape` for `dtype`, after checking every dimension is >= 0 and the shape
// is within kMaxTensorBytes; ValueError naming `op` and the shape otherwise.
int64_t checked_numel(const char* op, const std::vector<int64_t>& shape, DType dtype);

enum class DeviceType : int8_t { cpu = 0, cuda = 1 };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool operator==(const Device& other) const { return type == other.type && index == other.index; }
  bool operator!=(const Device& other) const { return !(*this == other); }
  std::string str() const;                       // "cpu", "cuda:0"
  static Device parse(const std::string& name);  // "cpu", "cuda", "cuda:1"
};

class Storage {
 public:
  static std::shared_ptr<Storage> allocate(size_t nbytes, Device device);
  // read_only: the memory belongs to a read-only source (a NumPy array with writeable=False, a
  // read-only buffer); op entries refuse to write it (check_writable) and exports stay read-only.
  static std::shared_ptr<Storage> borrow(void* data, size_t nbytes, Device device,
                                         std::function<void()> release, bool read_only = false);
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  bool read_only() const { return read_only_; }

  // ---- write versions (what a cache derived from the contents is keyed by) ----
  // version: bumped by every write that corenn can see: each op entry's check_writable (every
  // output and in-place argument passes it: optimizer steps, fill_, copy_, assign, ...), and the
  // end of every writable export (a NumPy view, a DLPack capsule), whose holder may have written.
  // While an export is alive, or when the memory is borrowed (someone else owns and may write
  // it), the version cannot vouch for the contents: versions_trusted() is false and a derived
  // cache must not be used.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  void bump_version() const { version_.fetch_add(1, std::memory_order_acq_rel); }
  void add_export() const { live_exports_.fetch_add(1, std::memory_order_acq_rel); }
  void release_export() const {
    bump_version();  // before the count drops: a reader that sees 0 exports sees the new version
    live_exports_.fetch_sub(1, std::memory_order_acq_rel);
  }
  int live_exports() const { return live_exports_.load(std::memory_order_acquire); }
  bool borrowed() const { return borrowed_; }
  bool versions_trusted() const { return !borrowed_ && live_exports() == 0; }
  // Data derived from the contents, freed with the storage: one slot per kind of derived data
  // (DerivedSlot), each owned by one file that alone knows the slot's type and keys what it keeps
  // by version(). Keyed slots, not one: a weight may be read by two such users (a float kernel
  // packed for the GEMM, the same storage read as an int8 kernel), and an untyped shared slot
  // would hand one user the other's object.
  enum class DerivedSlot : int {
    gemm_packed_b = 0,  // cpu/gemm/packed_b_cache.cpp: op(B) packed for the float GEMM
    int8_kernel = 1,    // cpu/int8_kept_kernel.cpp: an int8 kernel narrowed and packed for int8_gemm.rows
    winograd_kernel = 2,  // cpu/conv2d.cpp: a conv kernel's Winograd transform G w G^T
  };
  static constexpr int kDerivedSlots = 3;
  std::shared_ptr<void> derived(DerivedSlot which) const {
    std::lock_guard<std::mutex> lock(derived_mu_);
    return derived_[static_cast<int>(which)];
  }
  template <class Make>
  std::shared_ptr<void> derived_or_make(DerivedSlot which, Make make) const {
    std::lock_guard<std::mutex> lock(derived_mu_);
    std::shared_ptr<void>& slot = derived_[static_cast<int>(which)];
    if (!slot) slot = make();
    return slot;
  }

 private:
  Storage(void* data, size_t nbytes, Device device, std::function<void()> release, bool read_only,
          bool borrowed);
  void* data_;
  size_t nbytes_;
  Device device_;
  std::function<void()> release_;
  bool read_only_;
  bool borrowed_;
  mutable std::atomic<uint64_t> version_{0};
  mutable std::atomic<int> live_exports_{0};
  mutable std::mutex derived_mu_;
  mutable std::shared_ptr<void> derived_[kDerivedSlots];
};

class Tensor {
 public:
  Tensor() = default;
  Tensor(std::shared_ptr<Storage> storage, std::vector<int64_t> shape, DType dtype);

  // ValueError naming `op` and the shape when it is invalid or beyond kMaxTensorBytes;
  // MemoryError (std::bad_alloc) when the allocation itself fails.
  static Tensor empty(const std::vector<int64_t>& shape, DType dtype, Device device = Device{},
                      const char* op = "Tensor.empty");
  static Tensor zeros(const std::vector<int64_t>& shape, DType dtype, Device device = Device{},
                      const char* op = "Tensor.zeros");

  bool defined() const { return storage_ != nullptr; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t axis) const;  // negative axes count from the end
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device{}; }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  // Borrowed from read-only memory (shared by every reshape view of the storage).
  bool read_only() const { return storage_ && storage_->read_only(); }

  void* raw_data() const { return storage_ ? storage_->data() : nullptr; }
  template <class T>
  T* data() const { return static_cast<T*>(raw_data()); }

  // This tensor on `device`: itself when already there, else a copy (host<->device, or between
  // devices). Raises RuntimeError naming the device when it cannot be used.
  Tensor to(Device device) const;

  // A view with another shape over the same storage; one entry may be -1 (inferred).
  Tensor reshape(std::vector<int64_t> shape) const;
  // Product of all dims but the last, and the last: the (rows, cols) view most kernels take.
  int64_t rows() const { return shape_.empty() ? 1 : numel_ / shape_.back(); }
  int64_t cols() const { return shape_.empty() ? 1 : shape_.back(); }
  std::string shape_str() const { return corenn::shape_str(shape_); }

 private:
  std::shared_ptr<Storage> storage_;
  std::vector<int64_t> shape_;
  int64_t numel_ = 0;
  DType dtype_ = DType::float32;
};

// nbytes from src to dst, on any pair of devices (memmove on the CPU; overlap allowed there).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes);

}  // namespace corenn
