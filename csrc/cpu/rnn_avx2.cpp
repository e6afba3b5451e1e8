// AVX2/FMA gate math of the recurrent cells (Keras defaults: tanh, sigmoid): simd/rnn_cells.h on
// 8 lanes, registered in the avx2 slot of rnn_default_cells_stub. Compiled with -mavx2 -mfma.
#include "cpu/simd/f32_avx2.h"
#include "cpu/simd/rnn_cells.h"
#include "ops/rnn.h"

namespace corenn::cpu::avx2 {

namespace {
using Cells = simd::RnnCells<F32>;
constexpr CellKernels kAvx2Cells{Cells::lstm_fwd, Cells::lstm_bwd,   Cells::gru_fwd,
                                 Cells::gru_bwd,  Cells::simple_fwd, Cells::simple_bwd};
}  // namespace

CORENN_REGISTER_KERNEL(rnn_default_cells_stub, Slot::avx2, &kAvx2Cells);

}  // namespace corenn::cpu::avx2
