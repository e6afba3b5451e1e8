// Entries of int8_gemm and quantized_matmul: dtypes, shapes, devices, int8 ranges; int8_gemm's
// int8 operands are read as they are, its int32 ones narrowed to int8 buffers here (see
// int8_gemm.h), then the stub runs;
// quantized_matmul's kernel is an int8 Tensor, which its driver reads as it is (the reference
// kernel) or packs into the pair panels it may keep on the kernel's storage
// (cpu/int8_kept_kernel.cpp).
#include "ops/int8_gemm.h"

#include <cmath>
#include <vector>

#include "core/check.h"
#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(Int8GemmFn, int8_gemm_stub, "int8_gemm");
CORENN_DEFINE_DISPATCH(QuantizedMatmulFn, quantized_matmul_stub, "quantized_matmul");
CORENN_DEFINE_DISPATCH(const Int8GemmRows*, int8_gemm_rows_stub, "int8_gemm.rows");

namespace {

// Every |a * b| <= 128 * 128 = 2^14, so K * 2^14 < 2^31 keeps the int32 sums exact.
constexpr int64_t kMaxDepth = (int64_t{1} << 17) - 1;

void check_depth(const char* op, int64_t k) {
  CORENN_CHECK(k <= kMaxDepth, op, ": the contracted size K = ", k, " exceeds ", kMaxDepth,
               " (int32 sums of int8 products could overflow)");
}

// t's int32 values as int8; ValueError naming the first value outside [-128, 127].
std::vector<int8_t> narrow_int32(const char* op, const char* arg, const Tensor& t) {
  const int32_t* v = t.data<int32_t>();
  std::vector<int8_t> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    CORENN_CHECK(v[i] >= -128 && v[i] <= 127, op, ": ", arg, " must hold int8 values (-128..127), got ",
                 v[i], " at flat index ", i);
    out[i] = static_cast<int8_t>(v[i]);
  }
  return out;
}

}  // namespace

void int8_gemm(const Tensor& a, const Tensor& b, const Tensor& c) {
  const char* op = "int8_gemm";
  for (const auto& [name, t] : {std::pair<const char*, const Tensor&>{"a", a}, {"b", b}, {"c", c}}) {
    if (name[0] == 'c') {
      check_dtype(op, name, t, DType::int32);
    } else {
      CORENN_CHECK_TYPE(t.dtype() == DType::int8 || t.dtype() == DType::int32, op, ": ", name,
                        " must be int8 or int32 (of int8 values), got ", dtype_name(t.dtype()));
    }
    check_dim(op, name, t, 2);
    int8_gemm_stub.check_device(t.device());
  }
  check_writable(op, "c", c);
  const int64_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
  CORENN_CHECK(b.shape()[0] == k, op, ": a ", a.shape_str(), " and b ", b.shape_str(),
               " do not chain (a's columns must equal b's rows)");
  check_shape(op, "c", c, {m, n});
  check_no_alias(op, "c", c, "a", a);
  check_no_alias(op, "c", c, "b", b);
  check_depth(op, k);
  // an int8 operand is read as it is; an int32 one is checked and narrowed into a8 / b8
  std::vector<int8_t> a8, b8;
  if (a.dtype() == DType::int32) a8 = narrow_int32(op, "a", a);
  if (b.dtype() == DType::int32) b8 = narrow_int32(op, "b", b);
  if (c.numel() == 0) return;
  int8_gemm_stub(c.device())(a8.empty() && a.numel() ? a.data<int8_t>() : a8.data(),
                             b8.empty() && b.numel() ? b.data<int8_t>() : b8.data(), c.data<int32_t>(), m, k, n);
}

void quantized_matmul(const Tensor& x, const Tensor& kernel, const Tensor& kernel_scale,
                      const std::optional<Tensor>& bias, const Tensor& y, bool keep, bool relu) {
  const char* op = "quantized_matmul";
  check_float32(op, "x", x);
  // the int8 kernel itself (a quantized layer's int8 weight): no values to check, nothing to narrow
  check_dtype(op, "kernel", kernel, DType::int8);
  check_float32(op, "kernel_scale", kernel_scale);
  check_float32(op, "y", y);
  for (const Tensor* t : {&x, &kernel, &kernel_scale, &y}) quantized_matmul_stub.check_device(t->device());
  check_writable(op, "y", y);
  check_dim(op, "x", x, 2);
  check_dim(op, "kernel", kernel, 2);
  const int64_t m = x.shape()[0], k = x.shape()[1], n = kernel.shape()[1];
  CORENN_CHECK(kernel.shape()[0] == k, op, ": x ", x.shape_str(), " and kernel ", kernel.shape_str(),
               " do not chain (x's features must equal the kernel's rows)");
  check_shape(op, "kernel_scale", kernel_scale, {n});
  check_shape(op, "y", y, {m, n});
  if (bias) {
    check_float32(op, "bias", *bias);
    quantized_matmul_stub.check_device(bias->device());
    check_shape(op, "bias", *bias, {n});
    check_no_alias(op, "y", y, "bias", *bias);
  }
  check_no_alias(op, "y", y, "x", x);
  check_no_alias(op, "y", y, "kernel", kernel);
  check_no_alias(op, "y", y, "kernel_scale", kernel_scale);
  check_depth(op, k);
  if (y.numel() == 0) return;
  quantized_matmul_stub(y.device())(x.data<float>(), kernel.data<int8_t>(), keep ? kernel.storage().get() : nullptr,
                                    kernel_scale.data<float>(), bias ? bias->data<float>() : nullptr, relu,
                                    y.data<float>(), m, k, n);
}

}  // namespace corenn
