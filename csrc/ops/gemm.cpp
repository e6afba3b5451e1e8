// gemm entry: validates the call, flattens it to the kernel's plain problem, dispatches by device.
//
//   C := act(alpha * op(A) @ op(B) + beta * C + bias)
//   op(A) (M, K): A is (M, K), or (K, M) with trans_a;  op(B) (K, N): B is (K, N), or (N, K)
//   with trans_b;  C (M, N);  bias (N,) broadcast over rows;  act in {none, relu}.
//
// Kernels (sgemm_stub): cpu/gemm (blocked, packed, threaded; the micro-kernel of the active ISA
// from its own stub), cuda/gemm.cu (shared-memory and register tiled SGEMM, same fused epilogue).
#include "ops/gemm.h"

#include "core/check.h"
#include "cpu/gemm/gemm.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(SgemmFn, sgemm_stub, "gemm");

namespace {

constexpr const char* kOp = "gemm";

cpu::gemm::Activation parse_activation(const std::string& name) {
  if (name == "none" || name == "linear") return cpu::gemm::Activation::none;
  if (name == "relu") return cpu::gemm::Activation::relu;
  throw Error("gemm: unknown activation '" + name + "'; the fused epilogue supports 'none' and 'relu'");
}

std::string describe(const char* arg, const Tensor& t, bool trans) {
  return std::string(arg) + " has shape " + t.shape_str() + (trans ? " (transposed)" : "");
}

}  // namespace

void gemm(const Tensor& a, const Tensor& b, const Tensor& c, bool trans_a, bool trans_b,
          float alpha, float beta, const std::optional<Tensor>& bias, const std::string& activation,
          bool keep_b_packed) {
  const cpu::gemm::Activation act = parse_activation(activation);
  check_float32(kOp, "a", a);
  check_float32(kOp, "b", b);
  check_float32(kOp, "c", c);
  check_writable(kOp, "c", c);
  check_dim(kOp, "a", a, 2);
  check_dim(kOp, "b", b, 2);
  check_dim(kOp, "c", c, 2);
  check_same_device(kOp, "a", a, "b", b);
  check_same_device(kOp, "a", a, "c", c);
  check_nonempty(kOp, "a", a);
  check_nonempty(kOp, "b", b);
  check_nonempty(kOp, "c", c);

  const int64_t m = trans_a ? a.size(1) : a.size(0);
  const int64_t k = trans_a ? a.size(0) : a.size(1);
  const int64_t kb = trans_b ? b.size(1) : b.size(0);
  const int64_t n = trans_b ? b.size(0) : b.size(1);
  CORENN_CHECK(k == kb, kOp, ": ", describe("a", a, trans_a), " but ", describe("b", b, trans_b),
               ": inner dimensions differ (", k, " vs ", kb, ")");
  CORENN_CHECK(c.size(0) == m && c.size(1) == n, kOp, ": c must have shape (", m, ", ", n,
               ") for ", describe("a", a, trans_a), " and ", describe("b", b, trans_b), ", got ",
               c.shape_str());
  if (bias) {
    check_float32(kOp, "bias", *bias);
    check_same_device(kOp, "a", a, "bias", *bias);
    check_shape(kOp, "bias", *bias, {n});
    check_no_alias(kOp, "c", c, "bias", *bias);
  }
  check_no_alias(kOp, "c", c, "a", a);
  check_no_alias(kOp, "c", c, "b", b);

  sgemm_stub(a.device())(a, trans_a, trans_b, m, n, k, alpha, a.data<float>(), a.size(1),
                         b.data<float>(), b.size(1), beta, c.data<float>(), n,
                         bias ? bias->data<float>() : nullptr, act == cpu::gemm::Activation::relu,
                         keep_b_packed ? b.storage().get() : nullptr);
}

}  // namespace corenn
