// The avx512 slots of dropout_forward_stub and dropout_backward_stub: cpu/simd/dropout.h on 16
// floats per step (two vectors of eight 64-bit hashes, AVX-512DQ's 64 x 64-bit multiply), the
// last n % 16 under a __mmask16.
#include "cpu/simd/dropout.h"
#include "cpu/simd/f32_avx512.h"
#include "ops/dropout.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx512 {

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const DropoutForwardFn kDropoutForward = simd::Dropout<F32>::forward;
extern const DropoutBackwardFn kDropoutBackward = simd::Dropout<F32>::backward;

}  // namespace corenn::cpu::avx512
