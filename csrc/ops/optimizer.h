// Fused optimizer updates: one call updates every parameter of a model in place.
//
// Each entry takes parallel lists (params[i], grads[i], state[i]...) and applies, per element, in
// this order (Keras 3 semantics, keras/src/optimizers/base_optimizer.py):
//   1. gradient clipping   g = clip(g, -clipvalue, clipvalue)                 (clipvalue > 0)
//                          g *= clipnorm / max(||g_i||_2, clipnorm)  per variable (clipnorm > 0)
//                          g *= gclip / max(||g||_2 over all, gclip)            (global_clipnorm > 0)
//   2. decoupled decay     p -= p * weight_decay * lr                          (weight_decay > 0)
//   3. the optimizer's own update (see each function).
// The gradients are read, never written. All tensors are float32 on one device; every grad and
// state tensor has its parameter's shape and shares memory with no other tensor of the call.
#pragma once

#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

using TensorList = std::vector<Tensor>;

// What every optimizer shares: learning rate, decoupled weight decay, gradient clipping (0 = off).
struct UpdateCommon {
  float lr = 0.001f;
  float weight_decay = 0.0f;
  float clipnorm = 0.0f;
  float clipvalue = 0.0f;
  float global_clipnorm = 0.0f;
};

// momentum == 0:  p -= lr * g                      (momentums must be empty)
// else:           m = momentum * m - lr * g;  p += m   (nesterov: p += momentum * m - lr * g)
void sgd_update(const TensorList& params, const TensorList& grads, const TensorList& momentums,
                const UpdateCommon& common, float momentum, bool nesterov);

// t = step + 1; m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); amsgrad: vhat = max(vhat, v)
// p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v or vhat) + eps)   (vhat empty unless amsgrad)
void adam_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                 const TensorList& v, const TensorList& vhat, const UpdateCommon& common,
                 float beta_1, float beta_2, float epsilon, int64_t step, bool amsgrad);

// v = rho v + (1 - rho) g^2; centered: a = rho a + (1 - rho) g, den = v - a^2, else den = v
// inc = lr g / sqrt(den + eps); momentum > 0: m = momentum m + inc, p -= m; else p -= inc
// (momentums empty unless momentum > 0, average_grads empty unless centered)
void rmsprop_update(const TensorList& params, const TensorList& grads, const TensorList& velocities,
                    const TensorList& momentums, const TensorList& average_grads,
                    const UpdateCommon& common, float rho, float momentum, float epsilon,
                    bool centered);

// acc += g^2; p -= lr g / sqrt(acc + eps)
void adagrad_update(const TensorList& params, const TensorList& grads,
                    const TensorList& accumulators, const UpdateCommon& common, float epsilon);

// t = step + 1; m += (g - m)(1 - b1); u = max(b2 u, |g|); p -= lr / (1 - b1^t) * m / (u + eps)
void adamax_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                   const TensorList& u, const UpdateCommon& common, float beta_1, float beta_2,
                   float epsilon, int64_t step);

// Nadam (Keras 3): m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
// p -= lr (coef_m m + coef_g g) / (sqrt(coef_v v) + eps). The coefficients depend on the step
// only (the momentum schedule mu_t = b1 (1 - 0.5 * 0.96^(0.004 t)) and its running product P_t):
// coef_m = mu_{t+1} / (1 - P_t mu_{t+1}), coef_g = (1 - mu_t) / (1 - P_t), coef_v = 1 / (1 - b2^t).
void nadam_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                  const TensorList& v, const UpdateCommon& common, float beta_1, float beta_2,
                  float epsilon, float coef_m, float coef_g, float coef_v);

// Lion (Chen et al. 2023): p -= lr sign(b1 m + (1 - b1) g); m = b2 m + (1 - b2) g
void lion_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                 const UpdateCommon& common, float beta_1, float beta_2);

// Adadelta (Zeiler 2012): a_g = rho a_g + (1 - rho) g^2; d = g sqrt(a_d + eps) / sqrt(a_g + eps);
// a_d = rho a_d + (1 - rho) d^2; p -= lr d
void adadelta_update(const TensorList& params, const TensorList& grads, const TensorList& acc_grad,
                     const TensorList& acc_delta, const UpdateCommon& common, float rho,
                     float epsilon);

// Kernels behind the entries, same arguments (validated): cpu/optimizer.cpp (cpu_ref and avx2,
// two builds of one loop), cuda/optimizer.cu (cuda). The device is the parameters'.
using SgdUpdateFn = void (*)(const TensorList& params, const TensorList& grads,
                             const TensorList& momentums, const UpdateCommon& common,
                             float momentum, bool nesterov);
using AdamUpdateFn = void (*)(const TensorList& params, const TensorList& grads,
                              const TensorList& m, const TensorList& v, const TensorList& vhat,
                              const UpdateCommon& common, float beta_1, float beta_2,
                              float epsilon, int64_t step, bool amsgrad);
using RmspropUpdateFn = void (*)(const TensorList& params, const TensorList& grads,
                                 const TensorList& velocities, const TensorList& momentums,
                                 const TensorList& average_grads, const UpdateCommon& common,
                                 float rho, float momentum, float epsilon, bool centered);
using AdagradUpdateFn = void (*)(const TensorList& params, const TensorList& grads,
                                 const TensorList& accumulators, const UpdateCommon& common,
                                 float epsilon);
using AdamaxUpdateFn = void (*)(const TensorList& params, const TensorList& grads,
                                const TensorList& m, const TensorList& u,
                                const UpdateCommon& common, float beta_1, float beta_2,
                                float epsilon, int64_t step);
using NadamUpdateFn = void (*)(const TensorList& params, const TensorList& grads,
                               const TensorList& m, const TensorList& v,
                               const UpdateCommon& common, float beta_1, float beta_2,
                               float epsilon, float coef_m, float coef_g, float coef_v);
using LionUpdateFn = void (*)(const TensorList& params, const TensorList& grads,
                              const TensorList& m, const UpdateCommon& common, float beta_1,
                              float beta_2);
using AdadeltaUpdateFn = void (*)(const TensorList& params, const TensorList& grads,
                                  const TensorList& acc_grad, const TensorList& acc_delta,
                                  const UpdateCommon& common, float rho, float epsilon);
CORENN_DECLARE_DISPATCH(SgdUpdateFn, sgd_update_stub);
CORENN_DECLARE_DISPATCH(AdamUpdateFn, adam_update_stub);
CORENN_DECLARE_DISPATCH(RmspropUpdateFn, rmsprop_update_stub);
CORENN_DECLARE_DISPATCH(AdagradUpdateFn, adagrad_update_stub);
CORENN_DECLARE_DISPATCH(AdamaxUpdateFn, adamax_update_stub);
CORENN_DECLARE_DISPATCH(NadamUpdateFn, nadam_update_stub);
CORENN_DECLARE_DISPATCH(LionUpdateFn, lion_update_stub);
CORENN_DECLARE_DISPATCH(AdadeltaUpdateFn, adadelta_update_stub);

}  // namespace corenn
