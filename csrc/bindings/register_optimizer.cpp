// Fused optimizer updates: _C.sgd_update, adam_update, rmsprop_update, adagrad_update,
// adamax_update, nadam_update, lion_update, adadelta_update, ftrl_update, lamb_update,
// adafactor_update.
// Every one updates all parameters (and state tensors) in place in a single call; the trailing
// weight_decay / clipnorm / clipvalue / global_clipnorm arguments are 0 when off.
#include <pybind11/stl.h>

#include "bindings/register.h"
#include "ops/optimizer.h"

namespace corenn::bindings {

namespace {

UpdateCommon common(float lr, float weight_decay, float clipnorm, float clipvalue,
                    float global_clipnorm) {
  UpdateCommon c;
  c.lr = lr;
  c.weight_decay = weight_decay;
  c.clipnorm = clipnorm;
  c.clipvalue = clipvalue;
  c.global_clipnorm = global_clipnorm;
  return c;
}

}  // namespace

void register_optimizer(py::module_& m) {
  using py::arg;
  const auto release = py::call_guard<py::gil_scoped_release>();

  m.def(
      "sgd_update",
      [](const TensorList& params, const TensorList& grads, const TensorList& momentums, float lr,
         float momentum, bool nesterov, float weight_decay, float clipnorm, float clipvalue,
         float global_clipnorm) {
        sgd_update(params, grads, momentums,
                   common(lr, weight_decay, clipnorm, clipvalue, global_clipnorm), momentum, nesterov);
      },
      arg("params"), arg("grads"), arg("momentums"), arg("lr"), arg("momentum") = 0.0f,
      arg("nesterov") = false, arg("weight_decay") = 0.0f, arg("clipnorm") = 0.0f,
      arg("clipvalue") = 0.0f, arg("global_clipnorm") = 0.0f, release,
      "SGD step over all params in place (momentums empty when momentum == 0).");

  m.def(
      "adam_update",
      [](const TensorList& params, const TensorList& grads, const TensorList& ms,
         const TensorList& vs, const TensorList& vhats, float lr, float beta_1, float beta_2,
         float epsilon, int64_t step, bool amsgrad, float weight_decay, float clipnorm,
         float clipvalue, float global_clipnorm) {
        adam_update(params, grads, ms, vs, vhats,
                    common(lr, weight_decay, clipnorm, clipvalue, global_clipnorm), beta_1, beta_2,
                    epsilon, step, amsgrad);
      },
      arg("params"), arg("grads"), arg("m"), arg("v"), arg("vhat"), arg("lr"), arg("beta_1") = 0.9f,
      arg("beta_2") = 0.999f, arg("epsilon") = 1e-7f, arg("step") = 0, arg("amsgrad") = false,
      arg("weight_decay") = 0.0f, arg("clipnorm") = 0.0f, arg("clipvalue") = 0.0f,
      arg("global_clipnorm") = 0.0f, release,
      "Adam/AdamW step over all params in place; step = iterations done before this one "
      "(bias correction uses step + 1); vhat empty unless amsgrad.");

  m.def(
      "rmsprop_update",
      [](const TensorList& params, const TensorList& grads, const TensorList& velocities,
         const TensorList& momentums, const TensorList& average_grads, float lr, float rho,
         float momentum, float epsilon, bool centered, float weight_decay, float clipnorm,
         float clipvalue, float global_clipnorm) {
        rmsprop_update(params, grads, velocities, momentums, average_grads,
                       common(lr, weight_decay, clipnorm, clipvalue, global_clipnorm), rho,
                       momentum, epsilon, centered);
      },
      arg("params"), arg("grads"), arg("velocities"), arg("momentums"), arg("average_grads"),
      arg("lr"), arg("rho") = 0.9f, arg("momentum") = 0.0f, arg("epsilon") = 1e-7f,
      arg("centered") = false, arg("weight_decay") = 0.0f, arg("clipnorm") = 0.0f,
      arg("clipvalue") = 0.0f, arg("global_clipnorm") = 0.0f, release,
      "RMSprop step over all params in place (momentums empty unless momentum > 0, "
      "average_grads empty unless centered).");

  m.def(
      "adagrad_update",
      [](const TensorList& params, const TensorList& grads, const TensorList& accumulators,
         float lr, float epsilon, float weight_decay, float clipnorm, float clipvalue,
         float global_clipnorm) {
        adagrad_update(params, grads, accumulators,
                       common(lr, weight_decay, clipnorm, clipvalue, global_clipnorm), epsilon);
      },
      arg("params"), arg("grads"), arg("accumulators"), arg("lr"), arg("epsilon") = 1e-7f,
      arg("weight_decay") = 0.0f, arg("clipnorm") = 0.0f, arg("clipvalue") = 0.0f,
      arg("global_clipnorm") = 0.0f, release, "Adagrad step over all params in place.");

  m.def(
      "adamax_update",
      [](const TensorList& params, const TensorList& grads, const TensorList& ms,
         const TensorList& us, float lr, float beta_1, float beta_2, float epsilon, int64_t step,
         float weight_decay, float clipnorm, float clipvalue, float global_clipnorm) {
        adamax_update(params, grads, ms, us,
                      common(lr, weight_decay, clipnorm, clipvalue, global_clipnorm), beta_1,
                      beta_2, epsilon, step);
      },
      arg("params"), arg("grads"), arg("m"), arg("u"), arg("lr"), arg("beta_1") = 0.9f,
      arg("beta_2") = 0.999f, arg("epsilon") = 1e-7f, arg("step") = 0, arg("weight_decay") = 0.0f,
      arg("clipnorm") = 0.0f, arg("clipvalue") = 0.0f, arg("global_clipnorm") = 0.0f, release,
      "Adamax step over all params in place; step = iterations done before this one.");

  m.def(
      "nadam_update",
      [](const TensorList& params, const TensorList& grads, const TensorList& ms,
         const TensorList& vs, float lr, float beta_1, float beta_2, float epsilon, float coef_m,
         float coef_g, float coef_v, float weight_decay, float clipnorm, float clipvalue,
         float global_clipnorm) {
        nadam_update(params, grads, ms, vs,
                     common(lr, weight_decay, clipnorm, clipvalue, global_clipnorm), beta_1, beta_2,
                     epsilon, coef_m, coef_g, coef_v);
      },
      arg("params"), arg("grads"), arg("m"), arg("v"), arg("lr"), arg("beta_1"), arg("beta_2"),
      arg("epsilon"), arg("coef_m"), arg("coef_g"), arg("coef_v"), arg("weight_decay") = 0.0f,
      arg("clipnorm") = 0.0f, arg("clipvalue") = 0.0f, arg("global_clipnorm") = 0.0f, release,
      "Nadam step over all params in place, with the step's coefficients (ops/optimizer.h).");

  m.def(
      "lion_update",
      [](const TensorList& params, const TensorList& grads, const TensorList& ms, float lr,
         float beta_1, float beta_2, float weight_decay, float clipnorm, float clipvalue,
         float global_clipnorm) {
        lion_update(params, grads, ms, common(lr, weight_decay, clipnorm, clipvalue, global_clipnorm),
                    beta_1, beta_2);
      },
      arg("params"), arg("grads"), arg("m"), arg("lr"), arg("beta_1") = 0.9f, arg("beta_2") = 0.99f,
      arg("weight_decay") = 0.0f, arg("clipnorm") = 0.0f, arg("clipvalue") = 0.0f,
      arg("global_clipnorm") = 0.0f, release, "Lion step over all params in place.");

  m.def(
      "adadelta_update",
      [](const TensorList& params, const TensorList& grads, const TensorList& acc_grad,
         const TensorList& acc_delta, float lr, float rho, float epsilon, float weight_decay,
         float clipnorm, float clipvalue, float global_clipnorm) {
        adadelta_update(params, grads, acc_grad, acc_delta,
                        common(lr, weight_decay, clipnorm, clipvalue, global_clipnorm), rho, epsilon);
      },
      arg("params"), arg("grads"), arg("acc_grad"), arg("acc_delta"), arg("lr"), arg("rho") = 0.95f,
      arg("epsilon") = 1e-7f, arg("weight_decay") = 0.0f, arg("clipnorm") = 0.0f,
      arg("clipvalue") = 0.0f, arg("global_clipnorm") = 0.0f, release,
      "Adadelta step over all params in place.");
  m.def(
      "ftrl_update",
      [](const TensorList& params, const TensorList& grads, const TensorList& accumulators,
         const TensorList& linears, float lr, float learning_rate_power, float l1, float l2,
         float l2_shrinkage, float beta, float weight_decay, float clipnorm, float clipvalue,
         float global_clipnorm) {
        ftrl_update(params, grads, accumulators, linears,
                    common(lr, weight_decay, clipnorm, clipvalue, global_clipnorm),
                    learning_rate_power, l1, l2, l2_shrinkage, beta);
      },
      arg("params"), arg("grads"), arg("accumulators"), arg("linears"), arg("lr"),
      arg("learning_rate_power") = -0.5f, arg("l1") = 0.0f, arg("l2") = 0.0f,
      arg("l2_shrinkage") = 0.0f, arg("beta") = 0.0f, arg("weight_decay") = 0.0f,
      arg("clipnorm") = 0.0f, arg("clipvalue") = 0.0f, arg("global_clipnorm") = 0.0f, release,
      "Ftrl step over all params in place.");

  m.def(
      "lamb_update",
      [](const TensorList& params, const TensorList& grads, const TensorList& ms,
         const TensorList& vs, float lr, float beta_1, float beta_2, float epsilon, int64_t step,
         float weight_decay, float clipnorm, float clipvalue, float global_clipnorm) {
        lamb_update(params, grads, ms, vs,
                    common(lr, weight_decay, clipnorm, clipvalue, global_clipnorm), beta_1, beta_2,
                    epsilon, step);
      },
      arg("params"), arg("grads"), arg("m"), arg("v"), arg("lr"), arg("beta_1") = 0.9f,
      arg("beta_2") = 0.999f, arg("epsilon") = 1e-7f, arg("step") = 0, arg("weight_decay") = 0.0f,
      arg("clipnorm") = 0.0f, arg("clipvalue") = 0.0f, arg("global_clipnorm") = 0.0f, release,
      "Lamb step over all params in place; step = iterations done before this one.");

  m.def(
      "adafactor_update",
      [](const TensorList& params, const TensorList& grads, const TensorList& rows,
         const TensorList& cols, const TensorList& velocities, float lr, float beta_2_decay,
         float epsilon_1, float epsilon_2, float clip_threshold, int64_t step, float weight_decay,
         float clipnorm, float clipvalue, float global_clipnorm) {
        adafactor_update(params, grads, rows, cols, velocities,
                         common(lr, weight_decay, clipnorm, clipvalue, global_clipnorm),
                         beta_2_decay, epsilon_1, epsilon_2, clip_threshold, step);
      },
      arg("params"), arg("grads"), arg("rows"), arg("cols"), arg("velocities"), arg("lr"),
      arg("beta_2_decay") = -0.8f, arg("epsilon_1") = 1e-30f, arg("epsilon_2") = 1e-3f,
      arg("clip_threshold") = 1.0f, arg("step") = 0, arg("weight_decay") = 0.0f,
      arg("clipnorm") = 0.0f, arg("clipvalue") = 0.0f, arg("global_clipnorm") = 0.0f, release,
      "Adafactor step over all params in place (factored second moments for rank >= 2).");
}

}  // namespace corenn::bindings
