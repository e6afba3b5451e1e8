// The avx2 slot of max_pool2d_cells_stub: cpu/simd/pool_cells.h on 8 channels per register, the
// last nc % 8 under vmaskmovps. Average pooling has no avx2 slot (its reference loops serve).
#include "cpu/simd/f32_avx2.h"
#include "cpu/simd/pool_cells.h"
#include "ops/pool2d.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx2 {

using Cells = simd::PoolCells<F32>;

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const MaxPoolCells kMaxPoolCells{Cells::max_pool_cell, Cells::max_grad_cell,
                                        Cells::max_grad_row_tiled};

}  // namespace corenn::cpu::avx2
