// The avx2 slot of rms_norm_rows_stub: cpu/simd/layer_norm_rows.h's RmsNormRowKernels on 8
// floats per step (two 4-lane double accumulators for the row sums), the last d % 8
// features under vmaskmovps.
#include "cpu/simd/f32_avx2.h"
#include "cpu/simd/layer_norm_rows.h"
#include "ops/rms_norm.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx2 {

using Rows = simd::RmsNormRowKernels<F32>;

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const RmsNormRows kRmsNormRows{Rows::forward_row, Rows::backward_row};

}  // namespace corenn::cpu::avx2
