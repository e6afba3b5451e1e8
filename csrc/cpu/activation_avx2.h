// AVX2/FMA versions of the exp-heavy activations (activation_avx2.cpp, which registers them as the
// avx2 slot of activation_forward/backward_stub); activation.cpp holds the reference each of these
// must match.
#pragma once

#include <cstdint>

#include "ops/activation.h"

namespace corenn::cpu::avx2 {

// y[0:n] = f(x[0:n]) for act in {sigmoid, tanh, gelu, swish, softplus}.
void activation_forward_span(Activation act, const float* x, float* y, int64_t n);
// y = x > 0 ? scale x : scale alpha (e^x - 1)   (elu: scale 1; selu: its two constants)
void elu_forward_span(const float* x, float* y, int64_t n, float alpha, float scale);
// dx = y * (dy - sum(dy * y)) per row.
void softmax_backward_rows(const float* y, const float* dy, float* dx, int64_t lo, int64_t hi,
                           int64_t cols);
// dx = y > 0 ? dy : dy * y (relu backward from y: NaN in dy or y reaches dx; activation.cpp).
void relu_backward_span(const float* y, const float* dy, float* dx, int64_t n);
// dx = x > 0 ? dy : dy * (x <= 0 ? alpha : x)   (leaky_relu backward; x NaN gives NaN)
void leaky_relu_backward_span(const float* x, const float* dy, float* dx, int64_t n, float alpha);
// dx = dy * f'(x) for act in {gelu, softplus, swish} (the kinds whose derivative needs x).
void activation_backward_span(Activation act, const float* x, const float* dy, float* dx, int64_t n);
// Rows [lo, hi) of a (rows, cols) softmax / log_softmax over the last axis.
void softmax_rows(const float* x, float* y, int64_t lo, int64_t hi, int64_t cols, bool log);
// dx = dy - exp(y) * sum(dy) per row.
void log_softmax_backward_rows(const float* y, const float* dy, float* dx, int64_t lo, int64_t hi,
                               int64_t cols);

}  // namespace corenn::cpu::avx2
