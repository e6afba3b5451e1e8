// CUDA losses behind ops/loss_forward (math in loss.cu). Inputs validated by the entry.
#pragma once

#include "core/tensor.h"
#include "ops/loss.h"

namespace corenn::cuda {

// pb's pointers are device pointers; `like` names the device. Same contract as cpu::loss_forward.
cpu::LossResult loss_forward(const cpu::LossProblem& pb, const Tensor& like);

}  // namespace corenn::cuda
