// CUDA embedding lookup and its gradient behind ops/embedding (math in ops/embedding.h). Shapes,
// dtypes and devices validated by the entries; the index VALUES are validated here, on the device
// (the first bad one raises ValueError naming it, as on the CPU: one small copy back per call).
#pragma once

#include "core/tensor.h"
#include "ops/embedding.h"

namespace corenn::cuda {

void embedding_forward(const Tensor& indices, const Tensor& weight, const Tensor& y);
// dweight := scatter-add of dy. atomicAdd per element: repeated indices sum in an order that can
// change from run to run (last-bit differences), unlike the CPU's fixed order.
void embedding_backward(const Tensor& indices, const Tensor& dy, const Tensor& dweight);

}  // namespace corenn::cuda
