// Shape rules shared by the tensor-math entries; see tensor_math_common.h.
#include "ops/tensor_math_common.h"

namespace corenn {

std::vector<int64_t> broadcast_shapes(const char* op, const char* arg_a,
                                      const std::vector<int64_t>& a, const char* arg_b,
                                      const std::vector<int64_t>& b) {
  const size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {  // i counts from the last dim
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    CORENN_CHECK(da == db || da == 1 || db == 1, op, ": ", arg_a, " of shape ", shape_str(a),
                 " and ", arg_b, " of shape ", shape_str(b),
                 " do not broadcast (dims must be equal or 1, right-aligned; got ", da, " vs ",
                 db, ")");
    out[rank - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

bool broadcasts_to(const std::vector<int64_t>& shape, const std::vector<int64_t>& out) {
  if (shape.size() > out.size()) return false;
  const size_t pad = out.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] != 1 && shape[i] != out[pad + i]) return false;
  return true;
}

std::vector<bool> reduced_axes(const char* op, int64_t rank, const std::vector<int64_t>& axes) {
  std::vector<bool> flags(static_cast<size_t>(rank), false);
  for (const int64_t axis : axes) {
    CORENN_CHECK(axis >= -rank && axis < rank, op, ": axis ", axis,
                 " is out of range for a tensor of rank ", rank);
    const int64_t a = axis < 0 ? axis + rank : axis;
    CORENN_CHECK(!flags[a], op, ": axis ", axis, " is repeated in the axes list");
    flags[a] = true;
  }
  return flags;
}

std::vector<int64_t> reduced_shape(const std::vector<int64_t>& shape,
                                   const std::vector<bool>& reduced, bool keepdims) {
  std::vector<int64_t> out;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!reduced[d]) out.push_back(shape[d]);
    else if (keepdims) out.push_back(1);
  }
  return out;
}

}  // namespace corenn
