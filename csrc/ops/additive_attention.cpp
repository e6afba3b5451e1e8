// Entry for additive attention scores: checks, then cpu/additive_attention.cpp.
#include "ops/additive_attention.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(AdditiveAttentionScoresForwardFn, additive_attention_scores_forward_stub,
                       "additive_attention_scores_forward");
CORENN_DEFINE_DISPATCH(AdditiveAttentionScoresBackwardFn, additive_attention_scores_backward_stub,
                       "additive_attention_scores_backward");

namespace {

using Named = std::pair<const char*, const Tensor*>;

cpu::AdditiveProblem problem(const char* op, const Tensor& query, const Tensor& key,
                             const Tensor& w, double alpha) {
  check_float32(op, "query", query);
  check_float32(op, "key", key);
  check_float32(op, "w", w);
  CORENN_CHECK(query.dim() == 3, op, ": query must be (batch, query steps, features), got ",
               query.shape_str());
  CORENN_CHECK(key.dim() == 3 && key.size(0) == query.size(0) && key.size(2) == query.size(2), op,
               ": key must be (", query.size(0), ", key steps, ", query.size(2),
               ") (the batch and features of query ", query.shape_str(), "), got ", key.shape_str());
  check_shape(op, "w", w, {query.size(2)});
  CORENN_CHECK(std::isfinite(alpha), op, ": alpha must be finite, got ", alpha);
  check_same_device(op, "query", query, "key", key);
  check_same_device(op, "query", query, "w", w);
  // The kernels size their parallel grains from this count; bounding it keeps that int64 math exact.
  checked_product(op, "the number of tanh terms N * Tq * Tv * D",
                  {query.size(0), query.size(1), key.size(1), query.size(2)});
  return {query.size(0), query.size(1), key.size(1), query.size(2), static_cast<float>(alpha)};
}

void check_out(const char* op, const char* arg, const Tensor& t, const std::vector<int64_t>& shape,
               const Tensor& query, const std::vector<Named>& ins) {
  check_float32(op, arg, t);
  check_shape(op, arg, t, shape);
  check_same_device(op, "query", query, arg, t);
  check_writable(op, arg, t);
  for (const auto& [name, in] : ins) check_no_alias(op, name, *in, arg, t);
}

float* wptr(const std::optional<Tensor>& t) { return t ? t->data<float>() : nullptr; }

}  // namespace

void additive_attention_scores_forward(const Tensor& query, const Tensor& key, const Tensor& w,
                                       double alpha, const Tensor& scores) {
  const char* op = "additive_attention_scores_forward";
  const cpu::AdditiveProblem p = problem(op, query, key, w, alpha);
  additive_attention_scores_forward_stub.check_device(query.device());
  check_out(op, "scores", scores, {p.n, p.tq, p.tv}, query,
            {{"query", &query}, {"key", &key}, {"w", &w}});
  if (scores.numel() == 0) return;
  additive_attention_scores_forward_stub(query.device())(p, query.data<float>(), key.data<float>(),
                                                         w.data<float>(), scores.data<float>());
}

void additive_attention_scores_backward(const Tensor& dscores, const Tensor& query,
                                        const Tensor& key, const Tensor& w, double alpha,
                                        const std::optional<Tensor>& dquery,
                                        const std::optional<Tensor>& dkey,
                                        const std::optional<Tensor>& dw,
                                        const std::optional<Tensor>& dalpha) {
  const char* op = "additive_attention_scores_backward";
  const cpu::AdditiveProblem p = problem(op, query, key, w, alpha);
  additive_attention_scores_backward_stub.check_device(query.device());
  check_float32(op, "dscores", dscores);
  check_shape(op, "dscores", dscores, {p.n, p.tq, p.tv});
  check_same_device(op, "query", query, "dscores", dscores);
  const std::vector<Named> ins{{"dscores", &dscores}, {"query", &query}, {"key", &key}, {"w", &w}};
  std::vector<Named> outs;
  if (dquery) check_out(op, "dquery", *dquery, {p.n, p.tq, p.d}, query, ins), outs.push_back({"dquery", &*dquery});
  if (dkey) check_out(op, "dkey", *dkey, {p.n, p.tv, p.d}, query, ins), outs.push_back({"dkey", &*dkey});
  if (dw) check_out(op, "dw", *dw, {p.d}, query, ins), outs.push_back({"dw", &*dw});
  if (dalpha) check_out(op, "dalpha", *dalpha, {}, query, ins), outs.push_back({"dalpha", &*dalpha});
  for (size_t i = 0; i < outs.size(); ++i)
    for (size_t j = i + 1; j < outs.size(); ++j)
      check_no_alias(op, outs[i].first, *outs[i].second, outs[j].first, *outs[j].second);
  additive_attention_scores_backward_stub(query.device())(p, dscores.data<float>(),
                                                          query.data<float>(), key.data<float>(),
                                                          w.data<float>(), wptr(dquery), wptr(dkey),
                                                          wptr(dw), wptr(dalpha));
}

}  // namespace corenn
