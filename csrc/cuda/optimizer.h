// CUDA fused optimizer updates behind ops/optimizer (math in ops/optimizer.h). Inputs validated:
// all tensors float32 on params[0]'s device, shapes matching.
#pragma once

#include "ops/optimizer.h"

namespace corenn::cuda {

void sgd_update(const TensorList& params, const TensorList& grads, const TensorList& momentums,
                const UpdateCommon& common, float momentum, bool nesterov);
void adam_update(const TensorList& params, const TensorList& grads, const TensorList& m,
                 const TensorList& v, const TensorList& vhat, const UpdateCommon& common,
                 float beta_1, float beta_2, float epsilon, int64_t step, bool amsgrad);

}  // namespace corenn::cuda
