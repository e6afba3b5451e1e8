// Entry for bias_grad: dy is (..., C), db is (C,).
#include "ops/bias_grad.h"

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(BiasGradFn, bias_grad_stub, "bias_grad");

void bias_grad(const Tensor& dy, const Tensor& db) {
  const char* op = "bias_grad";
  check_float32(op, "dy", dy);
  check_float32(op, "db", db);
  check_writable(op, "db", db);
  check_min_dim(op, "dy", dy, 1);
  CORENN_CHECK(db.dim() == 1 && db.size(0) == dy.size(-1), op, ": db must have shape (",
               dy.size(-1), ",) to match the last axis of dy ", dy.shape_str(), ", got ",
               db.shape_str());
  check_same_device(op, "dy", dy, "db", db);
  check_no_alias(op, "dy", dy, "db", db);
  if (db.numel() == 0) return;
  bias_grad_stub(dy.device())(dy, dy.data<float>(), db.data<float>(), dy.rows(), dy.cols());
}

}  // namespace corenn
