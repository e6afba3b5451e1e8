// Entry for transpose: checks perm and the output, then simplifies the problem before the kernel
// sees it: axes of size 1 are dropped and y-neighbours that are x-neighbours too are merged, so
// (N, H, W, C) -> (N, W, H, C) with H = 1 is a plain copy and (B, M, N) -> (B, N, M) is a batch of
// 2-D transposes.
#include "ops/transpose.h"

#include <cstring>
#include <string>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(TransposeFn, transpose_stub, "transpose");

namespace {
std::string perm_str(const std::vector<int64_t>& perm) {
  std::string s = "(";
  for (size_t i = 0; i < perm.size(); ++i) s += (i ? ", " : "") + std::to_string(perm[i]);
  return s + (perm.size() == 1 ? ",)" : ")");
}
}  // namespace

void transpose(const Tensor& x, const std::vector<int64_t>& perm, const Tensor& y) {
  const char* op = "transpose";
  check_defined(op, "x", x);
  check_dtype(op, "y", y, x.dtype());
  const int64_t k = x.dim();
  CORENN_CHECK(static_cast<int64_t>(perm.size()) == k, op, ": perm ", perm_str(perm), " must have ",
               k, " entries, one per axis of x ", x.shape_str());
  std::vector<bool> seen(k, false);
  for (int64_t p : perm) {
    CORENN_CHECK(p >= 0 && p < k && !seen[p], op, ": perm ", perm_str(perm),
                 " must be a permutation of 0..", k - 1, " (axes of x ", x.shape_str(), ")");
    seen[p] = true;
  }
  std::vector<int64_t> shape(k), xstride_of(k), xstride(k);
  for (int64_t a = k - 1, s = 1; a >= 0; --a) xstride_of[a] = s, s *= x.size(a);
  for (int64_t d = 0; d < k; ++d) shape[d] = x.size(perm[d]), xstride[d] = xstride_of[perm[d]];
  check_shape(op, "y", y, shape);
  check_same_device(op, "x", x, "y", y);
  transpose_stub.check_device(x.device());
  check_writable(op, "y", y);
  check_no_alias(op, "x", x, "y", y);
  if (x.numel() == 0) return;

  std::vector<int64_t> s, st;  // simplified shape and x strides
  for (int64_t d = 0; d < k; ++d) {
    if (shape[d] == 1) continue;
    if (!s.empty() && st.back() == xstride[d] * shape[d]) {
      s.back() *= shape[d];
      st.back() = xstride[d];
    } else {
      s.push_back(shape[d]);
      st.push_back(xstride[d]);
    }
  }
  const size_t elem = dtype_size(x.dtype());
  if (s.size() <= 1) {  // the identity on memory
    std::memcpy(y.raw_data(), x.raw_data(), x.nbytes());
    return;
  }
  transpose_stub(x.device())(x.raw_data(), y.raw_data(), s, st, elem);
}

}  // namespace corenn
