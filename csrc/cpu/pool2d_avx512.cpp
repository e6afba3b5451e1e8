// The avx512 slots of max_pool2d_cells_stub and avg_pool2d_cells_stub: cpu/simd/pool_cells.h on
// 16 channels per register, the last nc % 16 under a __mmask16.
#include "cpu/simd/f32_avx512.h"
#include "cpu/simd/pool_cells.h"
#include "ops/pool2d.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx512 {

using Cells = simd::PoolCells<F32>;

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const MaxPoolCells kMaxPoolCells{Cells::max_pool_cell, Cells::max_grad_cell,
                                        Cells::max_grad_row_tiled};
extern const AvgPoolCells kAvgPoolCells{Cells::avg_sum_cell, Cells::avg_grad_cell};

}  // namespace corenn::cpu::avx512
