// Connectionist temporal classification loss (Graves et al., 2006), as tf.nn.ctc_loss with
// logits and keras.ops.ctc_loss: for each sample b, logits x (T, K) over its first T_b steps,
// label l of its first L_b entries, blank class `blank`:
//
//   p = softmax(x) per step;  l' = blank, l1, blank, l2, ..., lL, blank   (S = 2 L_b + 1)
//   alpha[t, s] = p[t, l'_s] * (alpha[t-1, s] + alpha[t-1, s-1] + [skip_s] alpha[t-1, s-2])
//   beta[t, s]  = p[t, l'_s] * (beta[t+1, s] + beta[t+1, s+1] + [skip_{s+2}] beta[t+1, s+2])
//   (skip_s: l'_s is not blank and differs from l'_{s-2}; both recursions run in log space)
//   loss = -log(alpha[T-1, S-1] + alpha[T-1, S-2])
//   d loss / d x[t, k] = p[t, k] - sum_{s: l'_s = k} alpha[t, s] beta[t, s] / (p[t, k] e^-loss)
//
// One pass computes the loss and its gradient w.r.t. the logits (TensorFlow's layout: the
// gradient is produced with the loss, the backward only scales it by dloss). Steps t >= T_b get
// a zero gradient. A label that no path of T_b steps can spell (too long for its repeats) has
// loss +inf and a zero gradient; a NaN logit makes the sample's loss and gradient NaN. Sums run
// in double.
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

// logits (B, T, K) float32; labels (B, L) int64; label_lengths, logit_lengths (B,) int64;
// loss (B,) float32 and grad (B, T, K) float32 are written.
void ctc_loss(const Tensor& logits, const Tensor& labels, const Tensor& label_lengths,
              const Tensor& logit_lengths, int64_t blank, const Tensor& loss, const Tensor& grad);

namespace cpu {
void ctc_loss(const float* logits, const int64_t* labels, const int64_t* label_lengths,
              const int64_t* logit_lengths, int64_t blank, float* loss, float* grad, int64_t batch,
              int64_t time, int64_t classes, int64_t max_label);
}  // namespace cpu

// cpu/ctc.cpp registers cpu_ref.
using CtcLossFn = decltype(&cpu::ctc_loss);
CORENN_DECLARE_DISPATCH(CtcLossFn, ctc_loss_stub);

}  // namespace corenn
