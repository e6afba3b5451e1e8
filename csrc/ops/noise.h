// Noise layers' forward kernels (Keras 3 GaussianNoise, GaussianDropout, AlphaDropout), active in
// training only (the layers skip them otherwise). Every random number comes from core/rng.h's
// counter-based generator: element i's draw depends on (seed, i) alone, so a seed gives the same
// tensor for any thread count. A standard normal z_i is made by Box-Muller from two uniforms:
//   z_i = sqrt(-2 ln(1 - u(seed, 2i))) * cos(2 pi u(seed, 2i + 1))
//
//   gaussian_noise    y = x + stddev * z                       (backward: dx = dy)
//   gaussian_dropout  mask = 1 + sqrt(rate / (1 - rate)) * z,  y = x * mask
//   alpha_dropout     keep = u(seed, i) >= rate,  mask = keep ? a : 0
//                     y = keep ? a * x + b : a * alpha' + b
//                     alpha' = -1.6732632423543772 * 1.0507009873554805 (SELU's negative limit),
//                     a = ((1 - rate) * (1 + rate * alpha'^2))^-1/2,  b = -a * alpha' * rate
// The two dropouts keep dy/dx in `mask` (dx = dy * mask), so their backward is dropout_backward.
// Reference for alpha dropout: Klambauer et al., "Self-Normalizing Neural Networks", NeurIPS 2017.
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

// y may be x (in place); mask must not overlap either.
void gaussian_noise_forward(const Tensor& x, const Tensor& y, double stddev, uint64_t seed);
void gaussian_dropout_forward(const Tensor& x, const Tensor& y, const Tensor& mask, double rate,
                              uint64_t seed);
void alpha_dropout_forward(const Tensor& x, const Tensor& y, const Tensor& mask, double rate,
                           uint64_t seed);

namespace cpu {
void gaussian_noise_forward(const float* x, float* y, int64_t n, float stddev, uint64_t seed);
void gaussian_dropout_forward(const float* x, float* y, float* mask, int64_t n, float stddev,
                              uint64_t seed);
void alpha_dropout_forward(const float* x, float* y, float* mask, int64_t n, float rate,
                           uint64_t seed);
}  // namespace cpu

// The kernels behind the entries above (dispatch table): cpu/noise.cpp registers cpu_ref.
using GaussianNoiseForwardFn = decltype(&cpu::gaussian_noise_forward);
CORENN_DECLARE_DISPATCH(GaussianNoiseForwardFn, gaussian_noise_forward_stub);
using GaussianDropoutForwardFn = decltype(&cpu::gaussian_dropout_forward);
CORENN_DECLARE_DISPATCH(GaussianDropoutForwardFn, gaussian_dropout_forward_stub);
using AlphaDropoutForwardFn = decltype(&cpu::alpha_dropout_forward);
CORENN_DECLARE_DISPATCH(AlphaDropoutForwardFn, alpha_dropout_forward_stub);

}  // namespace corenn
