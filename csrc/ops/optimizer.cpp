// Entries of the fused optimizer updates: validate the parameter/gradient/state lists, then
// dispatch by device. The math is documented in optimizer.h; kernels are in cpu/optimizer.cpp.
#include "ops/optimizer.h"

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <string>

namespace corenn {

CORENN_DEFINE_DISPATCH(SgdUpdateFn, sgd_update_stub, "sgd_update");
CORENN_DEFINE_DISPATCH(AdamUpdateFn, adam_update_stub, "adam_update");
CORENN_DEFINE_DISPATCH(RmspropUpdateFn, rmsprop_update_stub, "rmsprop_update");
CORENN_DEFINE_DISPATCH(AdagradUpdateFn, adagrad_update_stub, "adagrad_update");
CORENN_DEFINE_DISPATCH(AdamaxUpdateFn, adamax_update_stub, "adamax_update");
CORENN_DEFINE_DISPATCH(NadamUpdateFn, nadam_update_stub, "nadam_update");
CORENN_DEFINE_DISPATCH(LionUpdateFn, lion_update_stub, "lion_update");
CORENN_DEFINE_DISPATCH(AdadeltaUpdateFn, adadelta_update_stub, "adadelta_update");
CORENN_DEFINE_DISPATCH(FtrlUpdateFn, ftrl_update_stub, "ftrl_update");
CORENN_DEFINE_DISPATCH(LambUpdateFn, lamb_update_stub, "lamb_update");
CORENN_DEFINE_DISPATCH(AdafactorUpdateFn, adafactor_update_stub, "adafactor_update");

namespace {

using Shape = std::vector<int64_t>;

// A named list taking part in one call; `written` lists are updated in place. Its tensors are
// shaped like their parameters unless `shape_for` says otherwise (Adafactor's factors).
struct NamedList {
  const char* name;
  const TensorList* tensors;
  bool written;
  Shape (*shape_for)(const Tensor& param) = nullptr;
};

std::string item(const char* list, size_t i) {
  return std::string(list) + "[" + std::to_string(i) + "]";
}

// Distinct tensors of one call must not overlap unless both are only read (two grads may share
// memory, a param and anything else may not): an in-place update would read what it just wrote.
// Sorting the byte ranges keeps this O(n log n) for models with many parameters.
void check_no_overlap(const char* op, const std::vector<NamedList>& lists) {
  struct Range {
    const char* begin;
    const char* end;
    const char* list;
    size_t index;
    bool written;
  };
  std::vector<Range> ranges;
  for (const NamedList& l : lists) {
    for (size_t i = 0; i < l.tensors->size(); ++i) {
      const Tensor& t = (*l.tensors)[i];
      if (t.nbytes() == 0) continue;
      const char* b = static_cast<const char*>(t.raw_data());
      ranges.push_back({b, b + t.nbytes(), l.name, i, l.written});
    }
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  const Range* furthest_any = nullptr;
  const Range* furthest_written = nullptr;
  for (const Range& r : ranges) {
    const Range* clash = nullptr;
    if (furthest_written && r.begin < furthest_written->end) clash = furthest_written;
    else if (r.written && furthest_any && r.begin < furthest_any->end) clash = furthest_any;
    CORENN_CHECK(!clash, op, ": ", item(clash->list, clash->index), " and ", item(r.list, r.index),
                 " share memory; every parameter and optimizer state needs its own tensor");
    if (!furthest_any || r.end > furthest_any->end) furthest_any = &r;
    if (r.written && (!furthest_written || r.end > furthest_written->end)) furthest_written = &r;
  }
}

// params, grads and the state lists: equal lengths (a state list may be empty only when the
// options make it unused), float32, each shaped like its parameter, all on one device.
void check_lists(const char* op, const TensorList& params, const TensorList& grads,
                 const std::vector<std::pair<NamedList, bool>>& states, const UpdateCommon& common) {
  const size_t n = params.size();
  CORENN_CHECK(grads.size() == n, op, ": got ", n, " params but ", grads.size(),
               " grads; pass one gradient per parameter");
  for (const auto& [s, used] : states) {
    const size_t want = used ? n : 0;
    CORENN_CHECK(s.tensors->size() == want, op, ": ", s.name, " must hold ", want,
                 " tensors (", used ? "one per parameter" : "unused with these options",
                 "), got ", s.tensors->size());
  }
  for (size_t i = 0; i < n; ++i) {
    const std::string p_name = item("params", i), g_name = item("grads", i);
    check_float32(op, p_name.c_str(), params[i]);
    check_writable(op, p_name.c_str(), params[i]);
    check_float32(op, g_name.c_str(), grads[i]);
    check_same_shape(op, p_name.c_str(), params[i], g_name.c_str(), grads[i]);
    check_same_device(op, "params[0]", params[0], p_name.c_str(), params[i]);
    check_same_device(op, p_name.c_str(), params[i], g_name.c_str(), grads[i]);
    for (const auto& [s, used] : states) {
      if (!used) continue;
      const std::string s_name = item(s.name, i);
      const Tensor& t = (*s.tensors)[i];
      check_float32(op, s_name.c_str(), t);
      if (s.written) check_writable(op, s_name.c_str(), t);
      if (s.shape_for) {
        const Shape want = s.shape_for(params[i]);
        CORENN_CHECK(t.shape() == want, op, ": ", s_name, " must have shape ", shape_str(want),
                     " for ", p_name, " of shape ", params[i].shape_str(), ", got ", t.shape_str());
      } else {
        check_same_shape(op, p_name.c_str(), params[i], s_name.c_str(), t);
      }
      check_same_device(op, p_name.c_str(), params[i], s_name.c_str(), t);
    }
  }
  CORENN_CHECK(common.clipnorm >= 0 && common.clipvalue >= 0 && common.global_clipnorm >= 0, op,
               ": clipnorm, clipvalue and global_clipnorm must be >= 0 (0 = off), got ",
               common.clipnorm, ", ", common.clipvalue, ", ", common.global_clipnorm);
  CORENN_CHECK(std::isfinite(common.lr) && std::isfinite(common.weight_decay), op,
               ": learning rate and weight_decay must be finite, got ", common.lr, " and ",
               common.weight_decay);
  std::vector<NamedList> lists{{"params", &params, true}, {"grads", &grads, false}};
  for (const auto& [s, used] : states) lists.push_back(s);
  check_no_overlap(op, lists);
}

// The device of a call: the parameters' (check_lists put every list on it); an empty call runs
// the CPU kernel, which does nothing.
Device device_of(const TensorList& params) { return params.empty() ? Device{} : params[0].device(); }

void check_step(const char* op, int64_t step) {
  // The kernels work with step + 1 (the bias-correction exponent t).
  CORENN_CHECK(step >= 0 && step < INT64_MAX, op,
               ": step (iterations done so far) must be in [0, 2^63 - 1), got ", step);
}

// Adafactor's state shapes: a variable of rank >= 2 keeps its second moments factored over the
// last two axes (row and column means), any other variable keeps them whole.
bool factored(const Tensor& param) { return param.dim() >= 2; }
const Shape kUnused{0};
Shape adafactor_rows(const Tensor& p) {
  return factored(p) ? Shape(p.shape().begin(), p.shape().end() - 1) : kUnused;
}
Shape adafactor_cols(const Tensor& p) {
  if (!factored(p)) return kUnused;
  Shape s(p.shape().begin(), p.shape().end() - 2);
  s.push_back(p.shape().back());
  return s;
}
Shape adafactor_velocity(const Tensor& p) { return factored(p) ? kUnused : p.shape(); }

}  // namespace

void sgd_update(const TensorList& params, const TensorList& grads, const TensorList& momentums,
                const UpdateCommon& common, float momentum, bool nesterov) {
  const char* op = "sgd_update";
  CORENN_CHECK(momentum >= 0, op, ": momentum must be >= 0, got ", momentum);
  check_lists(op, params, grads, {{{"momentums", &momentums, true}, momentum != 0}}, common);
  sgd_update_stub(device_of(params))(params, grads, momentums, common, momentum, nesterov);
}

void adam_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                 const TensorList& v, const TensorList& vhat, const UpdateCommon& common,
                 float beta_1, float beta_2, float epsilon, int64_t step, bool amsgrad) {
  const char* op = "adam_update";
  check_step(op, step);
  CORENN_CHECK(beta_1 >= 0 && beta_1 < 1 && beta_2 >= 0 && beta_2 < 1, op,
               ": beta_1 and beta_2 must lie in [0, 1), got ", beta_1, " and ", beta_2);
  check_lists(op, params, grads,
              {{{"m", &m, true}, true}, {{"v", &v, true}, true}, {{"vhat", &vhat, true}, amsgrad}},
              common);
  adam_update_stub(device_of(params))(params, grads, m, v, vhat, common, beta_1, beta_2, epsilon, step, amsgrad);
}

void rmsprop_update(const TensorList& params, const TensorList& grads, const TensorList& velocities,
                    const TensorList& momentums, const TensorList& average_grads,
                    const UpdateCommon& common, float rho, float momentum, float epsilon,
                    bool centered) {
  const char* op = "rmsprop_update";
  CORENN_CHECK(momentum >= 0, op, ": momentum must be >= 0, got ", momentum);
  check_lists(op, params, grads,
              {{{"velocities", &velocities, true}, true},
               {{"momentums", &momentums, true}, momentum > 0},
               {{"average_grads", &average_grads, true}, centered}},
              common);
  rmsprop_update_stub(device_of(params))(params, grads, velocities, momentums, average_grads,
                                         common, rho, momentum, epsilon, centered);
}

void adagrad_update(const TensorList& params, const TensorList& grads,
                    const TensorList& accumulators, const UpdateCommon& common, float epsilon) {
  const char* op = "adagrad_update";
  check_lists(op, params, grads, {{{"accumulators", &accumulators, true}, true}}, common);
  adagrad_update_stub(device_of(params))(params, grads, accumulators, common, epsilon);
}

void adamax_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                   const TensorList& u, const UpdateCommon& common, float beta_1, float beta_2,
                   float epsilon, int64_t step) {
  const char* op = "adamax_update";
  check_step(op, step);
  CORENN_CHECK(beta_1 >= 0 && beta_1 < 1 && beta_2 >= 0 && beta_2 < 1, op,
               ": beta_1 and beta_2 must lie in [0, 1), got ", beta_1, " and ", beta_2);
  check_lists(op, params, grads, {{{"m", &m, true}, true}, {{"u", &u, true}, true}}, common);
  adamax_update_stub(device_of(params))(params, grads, m, u, common, beta_1, beta_2, epsilon, step);
}

void nadam_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                  const TensorList& v, const UpdateCommon& common, float beta_1, float beta_2,
                  float epsilon, float coef_m, float coef_g, float coef_v) {
  const char* op = "nadam_update";
  CORENN_CHECK(beta_1 >= 0 && beta_1 < 1 && beta_2 >= 0 && beta_2 < 1, op,
               ": beta_1 and beta_2 must lie in [0, 1), got ", beta_1, " and ", beta_2);
  CORENN_CHECK(std::isfinite(coef_m) && std::isfinite(coef_g) && std::isfinite(coef_v), op,
               ": the step coefficients must be finite, got ", coef_m, ", ", coef_g, ", ", coef_v);
  check_lists(op, params, grads, {{{"m", &m, true}, true}, {{"v", &v, true}, true}}, common);
  nadam_update_stub(device_of(params))(params, grads, m, v, common, beta_1, beta_2, epsilon,
                                       coef_m, coef_g, coef_v);
}

void lion_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                 const UpdateCommon& common, float beta_1, float beta_2) {
  const char* op = "lion_update";
  CORENN_CHECK(beta_1 >= 0 && beta_1 <= 1 && beta_2 >= 0 && beta_2 <= 1, op,
               ": beta_1 and beta_2 must lie in [0, 1], got ", beta_1, " and ", beta_2);
  check_lists(op, params, grads, {{{"m", &m, true}, true}}, common);
  lion_update_stub(device_of(params))(params, grads, m, common, beta_1, beta_2);
}

void adadelta_update(const TensorList& params, const TensorList& grads, const TensorList& acc_grad,
                     const TensorList& acc_delta, const UpdateCommon& common, float rho,
                     float epsilon) {
  const char* op = "adadelta_update";
  CORENN_CHECK(rho >= 0 && rho <= 1, op, ": rho must lie in [0, 1], got ", rho);
  check_lists(op, params, grads,
              {{{"acc_grad", &acc_grad, true}, true}, {{"acc_delta", &acc_delta, true}, true}}, common);
  adadelta_update_stub(device_of(params))(params, grads, acc_grad, acc_delta, common, rho, epsilon);
}

void ftrl_update(const TensorList& params, const TensorList& grads, const TensorList& accumulators,
                 const TensorList& linears, const UpdateCommon& common, float learning_rate_power,
                 float l1, float l2, float l2_shrinkage, float beta) {
  const char* op = "ftrl_update";
  CORENN_CHECK(learning_rate_power <= 0, op, ": learning_rate_power must be <= 0, got ",
               learning_rate_power);
  CORENN_CHECK(l1 >= 0 && l2 >= 0 && l2_shrinkage >= 0 && beta >= 0, op,
               ": l1, l2, l2_shrinkage and beta must be >= 0, got ", l1, ", ", l2, ", ",
               l2_shrinkage, ", ", beta);
  check_lists(op, params, grads,
              {{{"accumulators", &accumulators, true}, true}, {{"linears", &linears, true}, true}},
              common);
  ftrl_update_stub(device_of(params))(params, grads, accumulators, linears, common,
                                      learning_rate_power, l1, l2, l2_shrinkage, beta);
}

void lamb_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                 const TensorList& v, const UpdateCommon& common, float beta_1, float beta_2,
                 float epsilon, int64_t step) {
  const char* op = "lamb_update";
  check_step(op, step);
  CORENN_CHECK(beta_1 >= 0 && beta_1 < 1 && beta_2 >= 0 && beta_2 < 1, op,
               ": beta_1 and beta_2 must lie in [0, 1), got ", beta_1, " and ", beta_2);
  check_lists(op, params, grads, {{{"m", &m, true}, true}, {{"v", &v, true}, true}}, common);
  lamb_update_stub(device_of(params))(params, grads, m, v, common, beta_1, beta_2, epsilon, step);
}

void adafactor_update(const TensorList& params, const TensorList& grads, const TensorList& rows,
                      const TensorList& cols, const TensorList& velocities,
                      const UpdateCommon& common, float beta_2_decay, float epsilon_1,
                      float epsilon_2, float clip_threshold, int64_t step) {
  const char* op = "adafactor_update";
  check_step(op, step);
  CORENN_CHECK(beta_2_decay <= 0, op, ": beta_2_decay must be <= 0, got ", beta_2_decay);
  CORENN_CHECK(epsilon_1 >= 0 && epsilon_2 >= 0 && clip_threshold > 0, op,
               ": epsilon_1 and epsilon_2 must be >= 0 and clip_threshold > 0, got ", epsilon_1,
               ", ", epsilon_2, ", ", clip_threshold);
  check_lists(op, params, grads,
              {{{"rows", &rows, true, adafactor_rows}, true},
               {{"cols", &cols, true, adafactor_cols}, true},
               {{"velocities", &velocities, true, adafactor_velocity}, true}},
              common);
  adafactor_update_stub(device_of(params))(params, grads, rows, cols, velocities, common,
                                           beta_2_decay, epsilon_1, epsilon_2, clip_threshold,
                                           step);
}

}  // namespace corenn
