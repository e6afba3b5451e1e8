#include "core/tensor.h"

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#ifdef CORENN_WITH_CUDA
#include "cuda/runtime.h"
#endif

namespace corenn {

namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};

// One row per DType, in enumerator order (dtype_size / dtype_name index it).
constexpr DTypeInfo kDTypes[kNumDTypes] = {
    {DType::float32, "float32", 4}, {DType::int32, "int32", 4},   {DType::int64, "int64", 8},
    {DType::float64, "float64", 8}, {DType::float16, "float16", 2}, {DType::uint8, "uint8", 1},
    {DType::int8, "int8", 1},       {DType::uint16, "uint16", 2}, {DType::int16, "int16", 2},
    {DType::uint32, "uint32", 4},   {DType::uint64, "uint64", 8}, {DType::bool_, "bool", 1},
};

const DTypeInfo* info(DType dtype) {
  const int i = static_cast<int>(dtype);
  return i >= 0 && i < kNumDTypes ? &kDTypes[i] : nullptr;
}

}  // namespace

size_t dtype_size(DType dtype) {
  const DTypeInfo* d = info(dtype);
  return d ? d->size : 0;
}

const char* dtype_name(DType dtype) {
  const DTypeInfo* d = info(dtype);
  return d ? d->name : "?";
}

DType dtype_from_name(const std::string& name) {
  for (const DTypeInfo& d : kDTypes)
    if (name == d.name) return d.dtype;
  throw TypeError("unsupported dtype '" + name + "': corenn tensors are float32, int32 or int64 "
                  "(computed in), or float64, float16, uint8, int8, uint16, int16, uint32, uint64 "
                  "or bool (stored)");
}

std::string Device::str() const {
  return type == DeviceType::cpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

Device Device::parse(const std::string& name) {
  if (name == "cpu") return Device{DeviceType::cpu, 0};
  if (name == "cuda") return Device{DeviceType::cuda, 0};
  if (name.rfind("cuda:", 0) == 0) {
    const std::string digits = name.substr(5);
    CORENN_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos,
                 "invalid device '", name, "': expected 'cpu', 'cuda' or 'cuda:N'");
    return Device{DeviceType::cuda, std::stoi(digits)};
  }
  throw Error("invalid device '" + name + "': expected 'cpu', 'cuda' or 'cuda:N'");
}

// ---------------------------------------------------------------------------------------------
// Allocators

namespace {

struct CpuAllocator final : Allocator {
  void* allocate(size_t nbytes) override {
    // aligned_alloc wants a size that is a multiple of the alignment, and never 0. Tensors are at
    // most kMaxTensorBytes, but the rounding must not wrap for any caller.
    if (nbytes > SIZE_MAX - kCpuAlignment) throw std::bad_alloc();
    size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    if (rounded == 0) rounded = kCpuAlignment;
    void* ptr = std::aligned_alloc(kCpuAlignment, rounded);
    if (!ptr) throw std::bad_alloc();
    return ptr;
  }
  void deallocate(void* ptr) override { std::free(ptr); }
};

Allocator* g_allocators[2] = {nullptr, nullptr};
std::once_flag g_cpu_once;

}  // namespace

void register_allocator(DeviceType type, Allocator* allocator) {
  g_allocators[static_cast<int>(type)] = allocator;
}

Allocator* get_allocator(DeviceType type) {
  std::call_once(g_cpu_once, [] {
    static CpuAllocator cpu;
    if (!g_allocators[0]) g_allocators[0] = &cpu;
  });
  Allocator* allocator = g_allocators[static_cast<int>(type)];
  if (!allocator) {
    throw NotImplementedError(
        "corenn was built without the CUDA backend; rebuild with CORENN_CUDA=ON on a machine "
        "with the CUDA toolkit to use 'cuda' tensors");
  }
  return allocator;
}

// ---------------------------------------------------------------------------------------------
// Storage and Tensor

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device) {
#ifdef CORENN_WITH_CUDA
  if (!device.is_cpu()) {
    cuda::require_device(device);  // RuntimeError naming the device when it cannot be used
    cuda::set_device(device.index);  // the caching allocator serves the current device
  }
#endif
  Allocator* allocator = get_allocator(device.type);
  void* data = allocator->allocate(nbytes);
  return std::shared_ptr<Storage>(new Storage(
      data, nbytes, device, [allocator, data] { allocator->deallocate(data); }, false, false));
}

std::shared_ptr<Storage> Storage::borrow(void* data, size_t nbytes, Device device,
                                         std::function<void()> release, bool read_only) {
  return std::shared_ptr<Storage>(
      new Storage(data, nbytes, device, std::move(release), read_only, true));
}

Storage::Storage(void* data, size_t nbytes, Device device, std::function<void()> release,
                 bool read_only, bool borrowed)
    : data_(data), nbytes_(nbytes), device_(device), release_(std::move(release)),
      read_only_(read_only), borrowed_(borrowed) {}

Storage::~Storage() {
  if (release_) release_();
}

int64_t checked_numel(const char* op, const std::vector<int64_t>& shape, DType dtype) {
  int64_t nonzero = static_cast<int64_t>(dtype_size(dtype)), numel = 1;
  for (int64_t d : shape) {
    CORENN_CHECK(d >= 0, op, ": invalid shape ", corenn::shape_str(shape), ": dimensions must be >= 0");
    if (d == 0) numel = 0;
    // nonzero <= 2^48 and d < 2^63: compare by division, the product could overflow
    CORENN_CHECK(d <= 1 || nonzero <= kMaxTensorBytes / d, op, ": shape ", corenn::shape_str(shape),
                 " of ", dtype_name(dtype), " is too large: its size exceeds corenn's limit of 2^48 "
                 "bytes (256 TiB) per tensor (or overflows int64)");
    nonzero *= d > 1 ? d : 1;
  }
  return numel == 0 ? 0 : nonzero / static_cast<int64_t>(dtype_size(dtype));
}

Tensor::Tensor(std::shared_ptr<Storage> storage, std::vector<int64_t> shape, DType dtype)
    : storage_(std::move(storage)), shape_(std::move(shape)), dtype_(dtype) {
  numel_ = checked_numel("Tensor", shape_, dtype_);
  CORENN_CHECK(!storage_ || nbytes() <= storage_->nbytes(), "tensor of shape ", corenn::shape_str(shape_),
               " does not fit its storage of ", storage_->nbytes(), " bytes");
}

Tensor Tensor::empty(const std::vector<int64_t>& shape, DType dtype, Device device, const char* op) {
  const int64_t numel = checked_numel(op, shape, dtype);
  const size_t nbytes = static_cast<size_t>(numel) * dtype_size(dtype);
  std::shared_ptr<Storage> storage;
  try {
    storage = Storage::allocate(nbytes, device);
  } catch (const std::bad_alloc&) {
    throw AllocationError(detail::str_cat(op, ": cannot allocate ", nbytes, " bytes for shape ",
                                          corenn::shape_str(shape), " of ", dtype_name(dtype),
                                          " on ", device.str()));
  }
  return Tensor(std::move(storage), shape, dtype);
}

Tensor Tensor::zeros(const std::vector<int64_t>& shape, DType dtype, Device device, const char* op) {
  Tensor t = empty(shape, dtype, device, op);
#ifdef CORENN_WITH_CUDA
  if (!device.is_cpu()) {
    cuda::fill(t, 0.0);
    return t;
  }
#endif
  CORENN_CHECK(device.is_cpu(), "Tensor.zeros on ", device.str(), " is provided by the CUDA backend");
  std::memset(t.raw_data(), 0, t.nbytes());
  return t;
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor out = empty(shape_, dtype_, device);  // raises a clear error when the device is unusable
  copy_bytes(out.raw_data(), device, raw_data(), this->device(), nbytes());
  return out;
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes) {
  if (nbytes == 0 || dst == src) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memmove(dst, src, nbytes);
    return;
  }
#ifdef CORENN_WITH_CUDA
  cuda::copy_bytes(dst, dst_device, src, src_device, nbytes);
#else
  throw NotImplementedError("copy from " + src_device.str() + " to " + dst_device.str() +
                            ": corenn was built without the CUDA backend");
#endif
}

int64_t Tensor::size(int64_t axis) const {
  const int64_t n = dim();
  CORENN_CHECK(axis >= -n && axis < n, "axis ", axis, " is out of range for a tensor of shape ",
               shape_str());
  return shape_[axis < 0 ? axis + n : axis];
}

Tensor Tensor::reshape(std::vector<int64_t> shape) const {
  const char* op = "reshape";
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      CORENN_CHECK(infer < 0, op, ": only one dimension may be -1, got ", corenn::shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      CORENN_CHECK(shape[i] >= 0, op, ": invalid shape ", corenn::shape_str(shape));
    }
  }
  if (infer >= 0) {
    std::vector<int64_t> known_dims = shape;
    known_dims.erase(known_dims.begin() + infer);
    const int64_t known = checked_numel(op, known_dims, dtype_);  // bounded: no overflow below
    CORENN_CHECK(known > 0 && numel_ % known == 0, op, ": cannot reshape a tensor of shape ",
                 shape_str(), " into ", corenn::shape_str(shape),
                 known == 0 ? " (the -1 is ambiguous when another dimension is 0)" : "");
    shape[infer] = numel_ / known;
  }
  CORENN_CHECK(checked_numel(op, shape, dtype_) == numel_, op, ": cannot reshape a tensor of shape ",
               shape_str(), " (", numel_, " elements) into ", corenn::shape_str(shape));
  return Tensor(storage_, std::move(shape), dtype_);
}

// ---------------------------------------------------------------------------------------------
// Checks (declared in check.h)

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

void check_defined(const char* op, const char* arg, const Tensor& t) {
  CORENN_CHECK(t.defined(), op, ": ", arg, " is an undefined tensor");
}

void check_dtype(const char* op, const char* arg, const Tensor& t, DType expected) {
  check_defined(op, arg, t);
  CORENN_CHECK_TYPE(t.dtype() == expected, op, ": ", arg, " must be ", dtype_name(expected),
                    ", got ", dtype_name(t.dtype()));
}

void check_float32(const char* op, const char* arg, const Tensor& t) {
  check_dtype(op, arg, t, DType::float32);
}

void check_index_dtype(const char* op, const char* arg, const Tensor& t) {
  check_defined(op, arg, t);
  CORENN_CHECK_TYPE(t.dtype() == DType::int32 || t.dtype() == DType::int64, op, ": ", arg,
                    " must hold integer labels (int32 or int64), got ", dtype_name(t.dtype()));
}

void check_dim(const char* op, const char* arg, const Tensor& t, int64_t ndim) {
  CORENN_CHECK(t.dim() == ndim, op, ": ", arg, " must be ", ndim, "-D, got shape ", t.shape_str());
}

void check_min_dim(const char* op, const char* arg, const Tensor& t, int64_t ndim) {
  CORENN_CHECK(t.dim() >= ndim, op, ": ", arg, " must have at least ", ndim,
               " dimension(s), got shape ", t.shape_str());
}

void check_shape(const char* op, const char* arg, const Tensor& t, const std::vector<int64_t>& expected) {
  CORENN_CHECK(t.shape() == expected, op, ": ", arg, " must have shape ", shape_str(expected),
               ", got ", t.shape_str());
}

void check_same_shape(const char* op, const char* arg_a, const Tensor& a, const char* arg_b,
                      const Tensor& b) {
  CORENN_CHECK(a.shape() == b.shape(), op, ": ", arg_a, " and ", arg_b,
               " must have the same shape, got ", a.shape_str(), " and ", b.shape_str());
}

void check_same_device(const char* op, const char* arg_a, const Tensor& a, const char* arg_b,
                       const Tensor& b) {
  CORENN_CHECK(a.device() == b.device(), op, ": ", arg_a, " is on ", a.device().str(), " but ",
               arg_b, " is on ", b.device().str(), "; move both to one device first");
}

void check_nonempty(const char* op, const char* arg, const Tensor& t) {
  CORENN_CHECK(t.numel() > 0, op, ": ", arg, " is empty (shape ", t.shape_str(), ")");
}

void check_writable(const char* op, const char* arg, const Tensor& t) {
  check_defined(op, arg, t);
  CORENN_CHECK(!t.read_only(), op, ": ", arg, " is read-only (borrowed from a NumPy array with "
               "writeable=False or another read-only buffer) but this op writes it; pass a "
               "writable array");
  // Every op entry passes each tensor it writes through here before the kernel runs: the one
  // place that advances the storage's write version (caches of its contents are keyed by it).
  t.storage()->bump_version();
}

bool product_fits(std::initializer_list<int64_t> factors, int64_t* out) {
  // Zero factors are skipped so a sub-product formed before meeting the zero is bounded too.
  int64_t p = 1;
  bool zero = false;
  for (int64_t f : factors) {
    if (f < 0) return false;
    if (f == 0) {
      zero = true;
      continue;
    }
    if (p > kMaxIndex / f) return false;
    p *= f;
  }
  *out = zero ? 0 : p;
  return true;
}

namespace {
std::string list_str(std::initializer_list<int64_t> values, const char* sep) {
  std::string s;
  for (int64_t v : values) s += (s.empty() ? "" : sep) + std::to_string(v);
  return s;
}
}  // namespace

int64_t checked_product(const char* op, const std::string& what, std::initializer_list<int64_t> factors) {
  int64_t p = 0;
  CORENN_CHECK(product_fits(factors, &p), op, ": ", what, " is out of range: ",
               list_str(factors, " * "), " exceeds 2^62 (or a factor is negative)");
  return p;
}

int64_t checked_sum(const char* op, const std::string& what, std::initializer_list<int64_t> terms) {
  int64_t s = 0;
  for (int64_t t : terms) {
    CORENN_CHECK(t >= 0 && t <= kMaxIndex - s, op, ": ", what, " is out of range: ",
                 list_str(terms, " + "), " exceeds 2^62 (or a term is negative)");
    s += t;
  }
  return s;
}

void check_no_alias(const char* op, const char* arg_a, const Tensor& a, const char* arg_b,
                    const Tensor& b) {
  const char* pa = static_cast<const char*>(a.raw_data());
  const char* pb = static_cast<const char*>(b.raw_data());
  const bool overlap = pa < pb + b.nbytes() && pb < pa + a.nbytes();
  CORENN_CHECK(!overlap || a.nbytes() == 0 || b.nbytes() == 0, op, ": ", arg_a, " and ", arg_b,
               " share memory; pass distinct tensors");
}

}  // namespace corenn
