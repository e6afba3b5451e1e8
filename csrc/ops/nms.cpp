// Entry for nms_greedy: checks shapes, dtypes and that every index in order lies in [0, N)
// (the kernel reads boxes[order[i]]), then runs the CPU loop. The math is in ops/nms.h.
#include "ops/nms.h"

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(NmsGreedyFn, nms_greedy_stub, "nms_greedy");

int64_t nms_greedy(const Tensor& boxes, const Tensor& order, const Tensor& keep,
                   int64_t max_output, double iou_threshold) {
  const char* op = "nms_greedy";
  check_float32(op, "boxes", boxes);
  CORENN_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, op,
               ": boxes must be (num_boxes, 4), got shape ", boxes.shape_str());
  check_dtype(op, "order", order, DType::int64);
  check_dtype(op, "keep", keep, DType::int64);
  CORENN_CHECK(order.dim() == 1 && keep.dim() == 1 && keep.size(0) == order.size(0), op,
               ": order and keep must be (K,) of one length, got ", order.shape_str(), " and ",
               keep.shape_str());
  CORENN_CHECK(max_output >= 0, op, ": max_output must be >= 0, got ", max_output);
  check_same_device(op, "boxes", boxes, "order", order);
  check_same_device(op, "boxes", boxes, "keep", keep);
  check_no_alias(op, "order", order, "keep", keep);
  check_writable(op, "keep", keep);
  nms_greedy_stub.check_device(boxes.device());
  const int64_t n = boxes.size(0), k = order.size(0);
  const int64_t* idx = order.data<int64_t>();
  for (int64_t i = 0; i < k; ++i)
    CORENN_CHECK(idx[i] >= 0 && idx[i] < n, op, ": order[", i, "] = ", idx[i],
                 " is not a box index in [0, ", n, ")");
  if (k == 0 || max_output == 0) return 0;
  return nms_greedy_stub(boxes.device())(boxes.data<float>(), idx, k, keep.data<int64_t>(),
                                         max_output, iou_threshold);
}

}  // namespace corenn
