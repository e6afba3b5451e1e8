// Entry for repeat_vector: x / dx (N, D), y / dy (N, n, D), float32, CPU.
#include "ops/repeat_vector.h"

#include <algorithm>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(RepeatVectorForwardFn, repeat_vector_forward_stub, "repeat_vector_forward");
CORENN_DEFINE_DISPATCH(RepeatVectorBackwardFn, repeat_vector_backward_stub,
                       "repeat_vector_backward");

namespace {
void check_pair(const char* op, const char* small_arg, const Tensor& small, const char* big_arg,
                const Tensor& big) {
  check_float32(op, small_arg, small);
  check_float32(op, big_arg, big);
  check_dim(op, small_arg, small, 2);
  CORENN_CHECK(big.dim() == 3, op, ": ", big_arg, " must be (N, n, D) (rank 3), got shape ",
               big.shape_str());
  CORENN_CHECK(big.size(0) == small.size(0) && big.size(2) == small.size(1), op, ": ", big_arg,
               " ", big.shape_str(), " must be (N, n, D) for ", small_arg, " (N, D) = ",
               small.shape_str());
  check_same_device(op, small_arg, small, big_arg, big);
  check_no_alias(op, small_arg, small, big_arg, big);
}
}  // namespace

void repeat_vector_forward(const Tensor& x, const Tensor& y) {
  const char* op = "repeat_vector_forward";
  check_pair(op, "x", x, "y", y);
  repeat_vector_forward_stub.check_device(x.device());
  check_writable(op, "y", y);
  if (y.numel() == 0) return;
  repeat_vector_forward_stub(x.device())(x.data<float>(), y.data<float>(), x.size(0), y.size(1),
                                         x.size(1));
}

void repeat_vector_backward(const Tensor& dy, const Tensor& dx) {
  const char* op = "repeat_vector_backward";
  check_pair(op, "dx", dx, "dy", dy);
  repeat_vector_backward_stub.check_device(dx.device());
  check_writable(op, "dx", dx);
  if (dx.numel() == 0) return;
  if (dy.size(1) == 0) {  // a sum over no repeats
    std::fill(dx.data<float>(), dx.data<float>() + dx.numel(), 0.0f);
    return;
  }
  repeat_vector_backward_stub(dx.device())(dy.data<float>(), dx.data<float>(), dx.size(0),
                                           dy.size(1), dx.size(1));
}

}  // namespace corenn
