// Entry for concat / split: axis, shapes, dtype, device, aliasing; see concat.h.
#include "ops/concat.h"

#include <string>

#include "ops/tensor_math_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(ConcatFn, concat_stub, "concat");
CORENN_DEFINE_DISPATCH(SplitFn, split_stub, "split");

namespace {

// The axis as a non-negative index, or ValueError naming op.
int64_t check_axis(const char* op, const char* arg, const Tensor& t, int64_t axis) {
  CORENN_CHECK(t.dim() >= 1, op, ": ", arg, " must have rank >= 1, got a scalar");
  CORENN_CHECK(axis >= -t.dim() && axis < t.dim(), op, ": axis ", axis,
               " is out of range for ", arg, " of shape ", t.shape_str());
  return axis < 0 ? axis + t.dim() : axis;
}

// Pieces and the whole agree on every dim but `axis`; returns sum of the pieces' axis sizes and
// fills the flat widths (axis size * inner size) of each piece.
int64_t check_pieces(const DispatchStubBase& stub, const char* op, const char* whole_arg,
                     const Tensor& whole, const char* list, const std::vector<Tensor>& pieces,
                     int64_t axis, std::vector<int64_t>* widths) {
  int64_t inner = 1, total = 0;
  for (int64_t d = axis + 1; d < whole.dim(); ++d) inner *= whole.size(d);
  for (size_t i = 0; i < pieces.size(); ++i) {
    const std::string arg = std::string(list) + "[" + std::to_string(i) + "]";
    const Tensor& p = pieces[i];
    check_float32_on(stub, op, arg.c_str(), p);
    bool ok = p.dim() == whole.dim();
    for (int64_t d = 0; ok && d < p.dim(); ++d) ok = d == axis || p.size(d) == whole.size(d);
    CORENN_CHECK(ok, op, ": ", arg, " has shape ", p.shape_str(), " but ", whole_arg, " has shape ",
                 whole.shape_str(), "; they must agree on every axis but ", axis);
    check_no_alias(op, whole_arg, whole, arg.c_str(), p);
    total += p.size(axis);
    widths->push_back(p.size(axis) * inner);
  }
  return total;
}

int64_t outer_size(const Tensor& t, int64_t axis) {
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= t.size(d);
  return outer;
}

}  // namespace

void concat(const std::vector<Tensor>& xs, int64_t axis, const Tensor& y) {
  const char* op = "concat";
  CORENN_CHECK(!xs.empty(), op, ": needs at least one tensor, got an empty list");
  check_float32_on(concat_stub, op, "y", y);
  check_writable(op, "y", y);
  const int64_t a = check_axis(op, "y", y, axis);
  std::vector<int64_t> widths;
  const int64_t total = check_pieces(concat_stub, op, "y", y, "tensors", xs, a, &widths);
  CORENN_CHECK(total == y.size(a), op, ": y has size ", y.size(a), " along axis ", axis,
               " but the tensors' sizes there add up to ", total);
  if (y.numel() == 0) return;
  std::vector<const float*> ptrs;
  for (const Tensor& x : xs) ptrs.push_back(x.data<float>());
  concat_stub(y.device())(ptrs, widths, outer_size(y, a), y.data<float>());
}

void split(const Tensor& x, int64_t axis, const std::vector<Tensor>& ys) {
  const char* op = "split";
  CORENN_CHECK(!ys.empty(), op, ": needs at least one output, got an empty list");
  check_float32_on(split_stub, op, "x", x);
  const int64_t a = check_axis(op, "x", x, axis);
  std::vector<int64_t> widths;
  for (size_t i = 0; i < ys.size(); ++i) {
    const std::string arg = "outs[" + std::to_string(i) + "]";
    check_writable(op, arg.c_str(), ys[i]);
    for (size_t j = 0; j < i; ++j)
      check_no_alias(op, arg.c_str(), ys[i], ("outs[" + std::to_string(j) + "]").c_str(), ys[j]);
  }
  const int64_t total = check_pieces(split_stub, op, "x", x, "outs", ys, a, &widths);
  CORENN_CHECK(total == x.size(a), op, ": x has size ", x.size(a), " along axis ", axis,
               " but the outputs' sizes there add up to ", total);
  if (x.numel() == 0) return;
  std::vector<float*> ptrs;
  for (const Tensor& y : ys) ptrs.push_back(y.data<float>());
  split_stub(x.device())(x.data<float>(), ptrs, widths, outer_size(x, a));
}

}  // namespace corenn
