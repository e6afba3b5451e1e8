// The avx2 slot of attention_softmax_rows_stub: cpu/simd/softmax_rows.h on 8 lanes, the last
// n % 8 entries of a row under a lane mask (vmaskmovps).
#include "cpu/simd/f32_avx2.h"
#include "cpu/simd/softmax_rows.h"
#include "ops/attention.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx2 {

using Rows = simd::SoftmaxRows<F32>;

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const SoftmaxRowKernels kSoftmaxRows{Rows::softmax_row, Rows::softmax_grad_row};

}  // namespace corenn::cpu::avx2
