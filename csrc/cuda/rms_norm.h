// CUDA RMS normalization behind ops/rms_norm (math in ops/rms_norm.h). Inputs validated by the
// entries: float32, x / y / dy / dx (rows, d) contiguous with rows, d > 0, gamma / dgamma (d,),
// inv_rms (rows,), all on like's device; y may be x and dx may be dy.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace corenn::cuda {

void rms_norm_forward(const Tensor& like, const float* x, const float* gamma, float* y,
                      float* inv_rms, int64_t rows, int64_t d, double epsilon);
void rms_norm_backward(const Tensor& like, const float* dy, const float* x, const float* gamma,
                       const float* inv_rms, float* dx, float* dgamma, int64_t rows, int64_t d);

}  // namespace corenn::cuda
