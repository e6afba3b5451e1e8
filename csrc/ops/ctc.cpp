// Entry for the CTC loss: checks shapes, dtypes, lengths and label values, then the kernel.
#include "ops/ctc.h"

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(CtcLossFn, ctc_loss_stub, "ctc_loss");

void ctc_loss(const Tensor& logits, const Tensor& labels, const Tensor& label_lengths,
              const Tensor& logit_lengths, int64_t blank, const Tensor& loss, const Tensor& grad) {
  const char* op = "ctc_loss";
  check_defined(op, "logits", logits);
  check_float32(op, "logits", logits);
  check_dim(op, "logits", logits, 3);
  ctc_loss_stub.check_device(logits.device());
  const int64_t batch = logits.size(0), time = logits.size(1), classes = logits.size(2);
  CORENN_CHECK(classes >= 1, op, ": logits need at least one class, got shape ", logits.shape_str());
  CORENN_CHECK(blank >= 0 && blank < classes, op, ": the blank index ", blank, " is outside [0, ",
               classes, ")");
  check_dtype(op, "labels", labels, DType::int64);
  check_dim(op, "labels", labels, 2);
  CORENN_CHECK(labels.size(0) == batch, op, ": labels ", labels.shape_str(), " must have one row per ",
               "sample of logits ", logits.shape_str());
  check_dtype(op, "label_lengths", label_lengths, DType::int64);
  check_shape(op, "label_lengths", label_lengths, {batch});
  check_dtype(op, "logit_lengths", logit_lengths, DType::int64);
  check_shape(op, "logit_lengths", logit_lengths, {batch});
  check_float32(op, "loss", loss);
  check_shape(op, "loss", loss, {batch});
  check_float32(op, "grad", grad);
  check_same_shape(op, "logits", logits, "grad", grad);
  for (const auto* t : {&labels, &label_lengths, &logit_lengths, &loss, &grad})
    ctc_loss_stub.check_device(t->device());
  check_writable(op, "loss", loss);
  check_writable(op, "grad", grad);
  check_no_alias(op, "logits", logits, "grad", grad);
  check_no_alias(op, "loss", loss, "grad", grad);
  // The lengths and labels decide which memory the kernel reads: every value is checked here.
  const int64_t max_label = labels.size(1);
  const int64_t* ll = label_lengths.data<int64_t>();
  const int64_t* tl = logit_lengths.data<int64_t>();
  const int64_t* lab = labels.data<int64_t>();
  for (int64_t b = 0; b < batch; ++b) {
    CORENN_CHECK(tl[b] >= 0 && tl[b] <= time, op, ": logit_lengths[", b, "] = ", tl[b],
                 " is outside [0, ", time, "] (the logits' time axis)");
    CORENN_CHECK(ll[b] >= 0 && ll[b] <= max_label, op, ": label_lengths[", b, "] = ", ll[b],
                 " is outside [0, ", max_label, "] (the labels' padded length)");
    for (int64_t i = 0; i < ll[b]; ++i)
      CORENN_CHECK(lab[b * max_label + i] >= 0 && lab[b * max_label + i] < classes, op, ": labels[",
                   b, ", ", i, "] = ", lab[b * max_label + i], " is outside [0, ", classes, ")");
  }
  if (batch == 0) return;
  ctc_loss_stub(logits.device())(logits.data<float>(), lab, ll, tl, blank, loss.data<float>(),
                                 grad.data<float>(), batch, time, classes, max_label);
}

}  // namespace corenn
