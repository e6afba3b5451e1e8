// Errors and input checks.
//
// Every op entry (csrc/ops/*) validates its inputs with these helpers before touching memory. A
// failed check throws a corenn::Error subclass, which the bindings translate into the matching
// Python exception (ValueError, TypeError, NotImplementedError). Messages name the op, the
// argument, what was expected and what was given, e.g.
//     "gemm: a has shape (64, 100) but b has shape (784, 10): inner dimensions differ (100 vs 784)"
#pragma once

#include <cstdint>
#include <initializer_list>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace corenn {

class Error : public std::runtime_error {  // -> ValueError
 public:
  using std::runtime_error::runtime_error;
};
class TypeError : public Error {  // -> TypeError
 public:
  using Error::Error;
};
class NotImplementedError : public Error {  // -> NotImplementedError
 public:
  using Error::Error;
};
class RuntimeError : public Error {  // -> RuntimeError (a device that cannot be used, a CUDA failure)
 public:
  using Error::Error;
};

// A failed allocation, with the op and the size: a std::bad_alloc, so pybind11 raises it as
// MemoryError (with this message), not as a corenn::Error.
class AllocationError : public std::bad_alloc {
 public:
  explicit AllocationError(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

namespace detail {
template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace detail

#define CORENN_CHECK(cond, ...)                                          \
  do {                                                                   \
    if (!(cond)) throw ::corenn::Error(::corenn::detail::str_cat(__VA_ARGS__)); \
  } while (0)

#define CORENN_CHECK_TYPE(cond, ...)                                         \
  do {                                                                       \
    if (!(cond)) throw ::corenn::TypeError(::corenn::detail::str_cat(__VA_ARGS__)); \
  } while (0)

class Tensor;
enum class DType : int8_t;

std::string shape_str(const std::vector<int64_t>& shape);

// ---- Size arithmetic ------------------------------------------------------------------------
// Every size, offset and work count a kernel computes must fit in int64 with room to spare, so op
// entries validate the products their kernels form before dispatching (the kernels themselves
// stay plain int64 arithmetic). kMaxIndex = 2^62 leaves headroom for the small constant factors
// and sums kernels add on top of a validated product (4 * pixels, offset + row length, ...).
constexpr int64_t kMaxIndex = int64_t{1} << 62;

// The product of non-negative factors when it is <= kMaxIndex; false (and *out untouched) when any
// factor is negative or the product would exceed kMaxIndex. A zero factor gives 0 only when the
// other factors' product itself fits (0 * 2^70 is still rejected: the kernel may form a
// sub-product before meeting the zero).
bool product_fits(std::initializer_list<int64_t> factors, int64_t* out);
// The same as a check: the product, or ValueError "<op>: <what> is too large: a * b * c exceeds
// 2^62 ..." naming the op and the quantity.
int64_t checked_product(const char* op, const std::string& what, std::initializer_list<int64_t> factors);
// Sum of non-negative terms, or ValueError like checked_product.
int64_t checked_sum(const char* op, const std::string& what, std::initializer_list<int64_t> terms);

// Tensor checks used by op entries. `op` and `arg` name the call in the message.
void check_defined(const char* op, const char* arg, const Tensor& t);
void check_dtype(const char* op, const char* arg, const Tensor& t, DType expected);
void check_float32(const char* op, const char* arg, const Tensor& t);
void check_index_dtype(const char* op, const char* arg, const Tensor& t);  // int32 or int64
void check_dim(const char* op, const char* arg, const Tensor& t, int64_t ndim);
void check_min_dim(const char* op, const char* arg, const Tensor& t, int64_t ndim);
void check_shape(const char* op, const char* arg, const Tensor& t, const std::vector<int64_t>& expected);
void check_same_shape(const char* op, const char* arg_a, const Tensor& a, const char* arg_b, const Tensor& b);
void check_same_device(const char* op, const char* arg_a, const Tensor& a, const char* arg_b, const Tensor& b);
void check_nonempty(const char* op, const char* arg, const Tensor& t);
// Distinct tensors must not share storage where an op writes one while reading the other.
void check_no_alias(const char* op, const char* arg_a, const Tensor& a, const char* arg_b, const Tensor& b);
// Every output and in-place argument of an op: refuses a tensor borrowed from read-only memory (a
// NumPy array with writeable=False, a read-only buffer), which the op would otherwise write.
void check_writable(const char* op, const char* arg, const Tensor& t);

}  // namespace corenn
