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

// Ftrl (McMahan et al. 2013, Keras 3), with n = acc + g^2 and P(x) = x^(-learning_rate_power):
//   linear += g + 2 l2_shrinkage p - (P(n) - P(acc)) / lr * p
//   p = (clip(linear, -l1, l1) - linear) / (P(n) / lr + 2 (l2 + beta / (2 lr)));  acc = n
void ftrl_update(const TensorList& params, const TensorList& grads, const TensorList& accumulators,
                 const TensorList& linears, const UpdateCommon& common, float learning_rate_power,
                 float l1, float l2, float l2_shrinkage, float beta);

// Lamb (You et al. 2019, Keras 3), t = step + 1: m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
//   u = m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps);  per variable the trust ratio
//   r = ||p|| / ||u|| when both norms are > 0, else 1;  p -= r lr u
void lamb_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                 const TensorList& v, const UpdateCommon& common, float beta_1, float beta_2,
                 float epsilon, int64_t step);

// Adafactor (Shazeer & Stern 2018, Keras 3), t = step + 1: rho = min(lr, 1 / sqrt(t)),
// b = 1 - t^beta_2_decay, q = g^2 + epsilon_1.
//   rank >= 2, factored over the last two axes (..., R, C):  row = b row + (1 - b) mean_C(q);
//     col = b col + (1 - b) mean_R(q);  v = row / mean_R(row) * col   (v is not stored)
//   rank < 2:  v = b v + (1 - b) q
//   u = g / sqrt(v);  p -= max(epsilon_2, rms(p)) rho u / max(1, rms(u) / clip_threshold)
// A factored variable has rows[i] shaped p.shape[:-1], cols[i] shaped p.shape[:-2] + p.shape[-1:]
// and an empty velocities[i] (shape (0,)); any other has velocities[i] shaped like p and empty
// rows[i], cols[i]. rms(p) is taken after the weight decay, as Keras applies it first.
void adafactor_update(const TensorList& params, const TensorList& grads, const TensorList& rows,
                      const TensorList& cols, const TensorList& velocities,
                      const UpdateCommon& common, float beta_2_decay, float epsilon_1,
                      float epsilon_2, float clip_threshold, int64_t step);

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
using FtrlUpdateFn = void (*)(const TensorList& params, const TensorList& grads,
                              const TensorList& accumulators, const TensorList& linears,
                              const UpdateCommon& common, float learning_rate_power, float l1,
                              float l2, float l2_shrinkage, float beta);
using LambUpdateFn = void (*)(const TensorList& params, const TensorList& grads,
                              const TensorList& m, const TensorList& v,
                              const UpdateCommon& common, float beta_1, float beta_2,
                              float epsilon, int64_t step);
using AdafactorUpdateFn = void (*)(const TensorList& params, const TensorList& grads,
                                   const TensorList& rows, const TensorList& cols,
                                   const TensorList& velocities, const UpdateCommon& common,
                                   float beta_2_decay, float epsilon_1, float epsilon_2,
                                   float clip_threshold, int64_t step);
CORENN_DECLARE_DISPATCH(SgdUpdateFn, sgd_update_stub);
CORENN_DECLARE_DISPATCH(AdamUpdateFn, adam_update_stub);
CORENN_DECLARE_DISPATCH(RmspropUpdateFn, rmsprop_update_stub);
CORENN_DECLARE_DISPATCH(AdagradUpdateFn, adagrad_update_stub);
CORENN_DECLARE_DISPATCH(AdamaxUpdateFn, adamax_update_stub);
CORENN_DECLARE_DISPATCH(NadamUpdateFn, nadam_update_stub);
CORENN_DECLARE_DISPATCH(LionUpdateFn, lion_update_stub);
CORENN_DECLARE_DISPATCH(AdadeltaUpdateFn, adadelta_update_stub);
CORENN_DECLARE_DISPATCH(FtrlUpdateFn, ftrl_update_stub);
CORENN_DECLARE_DISPATCH(LambUpdateFn, lamb_update_stub);
CORENN_DECLARE_DISPATCH(AdafactorUpdateFn, adafactor_update_stub);

}  // namespace corenn
