// The avx2 slot of dropout_forward_stub: cpu/simd/dropout.h on 8 floats per step (two vectors of
// four 64-bit hashes, the 64 x 64-bit multiply built from three 32 x 32-bit ones), the last
// n % 8 under vmaskmovps. The backward is a plain multiply: cpu_ref serves it.
#include "cpu/simd/dropout.h"
#include "cpu/simd/f32_avx2.h"
#include "ops/dropout.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx2 {

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const DropoutForwardFn kDropoutForward = simd::Dropout<F32>::forward;

}  // namespace corenn::cpu::avx2
