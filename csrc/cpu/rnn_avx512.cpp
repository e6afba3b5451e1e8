// AVX-512 gate math of the recurrent cells (Keras defaults: tanh, sigmoid): simd/rnn_cells.h on
// 16 lanes, the tail under a __mmask16, for the avx512 slot of rnn_default_cells_stub. Compiled
// with -mavx512f/vl/bw/dq.
#include "cpu/isa_kernels.h"
#include "cpu/simd/f32_avx512.h"
#include "cpu/simd/rnn_cells.h"
#include "ops/rnn.h"

namespace corenn::cpu::avx512 {

namespace {
using Cells = simd::RnnCells<F32>;
}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const CellKernels kRnnCells{Cells::lstm_fwd, Cells::lstm_bwd,   Cells::gru_fwd,
                                   Cells::gru_bwd,  Cells::simple_fwd, Cells::simple_bwd};

}  // namespace corenn::cpu::avx512
