// Entry of the fused masked softmax (MultiHeadAttention): checks, then cpu/attention.cpp.
#include "ops/attention.h"

#include <cmath>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(MaskedSoftmaxForwardFn, masked_softmax_forward_stub,
                       "masked_softmax_forward");
CORENN_DEFINE_DISPATCH(MaskedSoftmaxBackwardFn, masked_softmax_backward_stub,
                       "masked_softmax_backward");

namespace {

void check_scores(const DispatchStubBase& stub, const char* op, const char* arg, const Tensor& t) {
  check_float32(op, arg, t);
  stub.check_device(t.device());
  CORENN_CHECK(t.dim() == 4, op, ": ", arg, " must have shape (batch, heads, query_steps, ",
               "key_steps), got ", t.shape_str());
}

void check_mask(const DispatchStubBase& stub, const char* op, const char* arg,
                const std::optional<Tensor>& t, const std::vector<int64_t>& shape) {
  if (!t) return;
  check_float32(op, arg, *t);
  stub.check_device(t->device());
  check_shape(op, arg, *t, shape);
}

void check_rate(const char* op, double rate) {
  CORENN_CHECK(rate >= 0.0 && rate < 1.0, op, ": dropout rate must be in [0, 1), got ", rate);
}

cpu::SoftmaxProblem problem(const Tensor& s, double scale) {
  return cpu::SoftmaxProblem{s.size(0), s.size(1), s.size(2), s.size(3), nullptr, nullptr, nullptr,
                             false, static_cast<float>(scale)};
}

}  // namespace

void masked_softmax_forward(const Tensor& scores, const Tensor& probs,
                            const std::optional<Tensor>& attention_mask,
                            const std::optional<Tensor>& query_mask,
                            const std::optional<Tensor>& key_mask, bool causal, double scale,
                            double dropout_rate, uint64_t seed,
                            const std::optional<Tensor>& dropped) {
  const char* op = "masked_softmax_forward";
  check_scores(masked_softmax_forward_stub, op, "scores", scores);
  check_float32(op, "probs", probs);
  check_same_shape(op, "scores", scores, "probs", probs);
  check_writable(op, "probs", probs);
  check_same_or_disjoint(op, "scores", scores, "probs", probs);
  const int64_t b = scores.size(0), tq = scores.size(2), tk = scores.size(3);
  const bool am_per_head = attention_mask && attention_mask->dim() == 4;
  check_mask(masked_softmax_forward_stub, op, "attention_mask", attention_mask,
             am_per_head ? std::vector<int64_t>{b, scores.size(1), tq, tk}
                         : std::vector<int64_t>{b, tq, tk});
  check_mask(masked_softmax_forward_stub, op, "query_mask", query_mask, {b, tq});
  check_mask(masked_softmax_forward_stub, op, "key_mask", key_mask, {b, tk});
  CORENN_CHECK(std::isfinite(scale), op, ": scale must be finite, got ", scale);
  check_rate(op, dropout_rate);
  CORENN_CHECK(dropout_rate == 0.0 || dropped.has_value(), op,
               ": dropout_rate > 0 needs a dropped output of shape ", scores.shape_str());
  if (dropped) {
    check_float32(op, "dropped", *dropped);
    check_same_shape(op, "scores", scores, "dropped", *dropped);
    check_writable(op, "dropped", *dropped);
    check_no_alias(op, "probs", probs, "dropped", *dropped);
    check_no_alias(op, "scores", scores, "dropped", *dropped);
  }
  for (const auto* m : {&attention_mask, &query_mask, &key_mask})
    if (*m) check_no_alias(op, "probs", probs, "mask", **m);
  cpu::SoftmaxProblem p = problem(scores, scale);
  p.am = attention_mask ? attention_mask->data<float>() : nullptr;
  p.am_per_head = am_per_head;
  p.qm = query_mask ? query_mask->data<float>() : nullptr;
  p.km = key_mask ? key_mask->data<float>() : nullptr;
  p.causal = causal;
  if (scores.numel() == 0) return;
  masked_softmax_forward_stub(scores.device())(
      p, scores.data<float>(), probs.data<float>(), static_cast<float>(dropout_rate), seed,
      dropped && dropout_rate > 0.0 ? dropped->data<float>() : nullptr);
}

void masked_softmax_backward(const Tensor& probs, const Tensor& dprobs, const Tensor& dscores,
                             double scale, double dropout_rate,
                             const std::optional<Tensor>& dropped) {
  const char* op = "masked_softmax_backward";
  check_scores(masked_softmax_backward_stub, op, "probs", probs);
  check_float32(op, "dprobs", dprobs);
  check_float32(op, "dscores", dscores);
  check_same_shape(op, "probs", probs, "dprobs", dprobs);
  check_same_shape(op, "probs", probs, "dscores", dscores);
  check_writable(op, "dscores", dscores);
  check_same_or_disjoint(op, "dprobs", dprobs, "dscores", dscores);
  check_no_alias(op, "probs", probs, "dscores", dscores);
  CORENN_CHECK(std::isfinite(scale), op, ": scale must be finite, got ", scale);
  check_rate(op, dropout_rate);
  CORENN_CHECK(dropout_rate == 0.0 || dropped.has_value(), op,
               ": dropout_rate > 0 needs the dropped probs the forward wrote");
  if (dropped) {
    check_float32(op, "dropped", *dropped);
    check_same_shape(op, "probs", probs, "dropped", *dropped);
    check_no_alias(op, "dropped", *dropped, "dscores", dscores);
  }
  if (probs.numel() == 0) return;
  masked_softmax_backward_stub(probs.device())(
      problem(probs, scale), probs.data<float>(), dprobs.data<float>(), dscores.data<float>(),
      static_cast<float>(dropout_rate),
      dropped && dropout_rate > 0.0 ? dropped->data<float>() : nullptr);
}

}  // namespace corenn
