// CUDA 2-D convolution behind ops/conv2d (implicit GEMM, see conv2d.cu). Inputs validated;
// every pointer is on `like`'s device.
#pragma once

#include "core/tensor.h"
#include "ops/conv2d.h"

namespace corenn::cuda {

void conv2d_forward(const Tensor& like, const Conv2dGeometry& g, const float* x, const float* w,
                    const float* bias, float* y, bool relu, const Storage* keep_w);
void conv2d_backward_data(const Tensor& like, const Conv2dGeometry& g, const float* dy,
                          const float* w, float* dx);
// db (Cout,) = column sums of dy when not null.
void conv2d_backward_weights(const Tensor& like, const Conv2dGeometry& g, const float* x,
                             const float* dy, float* dw, float* db);
// y = max_pool_2x2(relu(conv(x, w) + bias)), argmax as max_pool2d_forward on the conv output.
void conv2d_relu_max_pool2d_forward(const Tensor& like, const Conv2dGeometry& g, const float* x,
                                    const float* w, const float* bias, float* y, int32_t* argmax,
                                    const Storage* keep_w);

}  // namespace corenn::cuda
