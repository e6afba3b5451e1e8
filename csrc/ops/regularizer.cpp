// Entry for regularizer_penalty: w is any shape; grad (optional) has w's shape.
#include "ops/regularizer.h"

#include <cmath>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(RegularizerPenaltyFn, regularizer_penalty_stub, "regularizer");

double regularizer_penalty(const Tensor& w, const std::optional<Tensor>& grad, double l1, double l2) {
  const char* op = "regularizer";
  CORENN_CHECK(std::isfinite(l1) && std::isfinite(l2) && l1 >= 0.0 && l2 >= 0.0, op,
               ": l1 and l2 must be finite and >= 0, got l1=", l1, ", l2=", l2);
  check_float32(op, "w", w);
  float* g = nullptr;
  if (grad) {
    check_float32(op, "grad", *grad);
    check_writable(op, "grad", *grad);
    check_same_shape(op, "w", w, "grad", *grad);
    check_same_device(op, "w", w, "grad", *grad);
    check_no_alias(op, "w", w, "grad", *grad);
    g = grad->data<float>();
  }
  if (w.numel() == 0 || (l1 == 0.0 && l2 == 0.0)) return 0.0;
  return regularizer_penalty_stub(w.device())(w, w.data<float>(), g, w.numel(),
                                              static_cast<float>(l1), static_cast<float>(l2));
}

}  // namespace corenn
