// CUDA activation kernels behind ops/activation (math in activation.cu). Inputs validated.
#pragma once

#include "core/tensor.h"
#include "ops/activation.h"

namespace corenn::cuda {

void activation_forward(Activation act, const Tensor& x, const Tensor& y, float alpha);
void activation_backward(Activation act, const Tensor& x, const Tensor& y, const Tensor& dy,
                         const Tensor& dx, float alpha);

}  // namespace corenn::cuda
