// The per-ISA kernel set of conv2d (a BLIS-style context in conv2d_kernels_stub, "conv2d.kernels").
// conv2d.cpp chooses the algorithm and runs the entries; the kernel files fill the slots:
//   cpu_ref  all null (conv2d.cpp): the implicit GEMM on the GEMM engine's portable micro-kernel
//   avx2     conv2d.cpp's x86-64 block (target("avx2,fma")), conv2d_winograd_avx2.cpp
//   avx512   conv2d_avx512.cpp, conv2d_winograd_avx512.cpp
// A null member means that ISA has no such kernel: the algorithm choice then falls back to the
// implicit GEMM (whose micro-kernel the GEMM engine picks from its own stub), or to the scalar
// loop for pack_a_rows.
#pragma once

#include <cstdint>
#include <functional>

#include "core/dispatch.h"
#include "cpu/conv2d_winograd.h"
#include "cpu/gemm/gemm.h"
#include "ops/conv2d.h"

namespace corenn::cpu {

struct ConvKernels {
  // dst[p * MR + r] = src[r][p] for p < len (one A panel of patch rows), MR = pack_a_rows_mr; used
  // only when that is the GEMM kernel's mr (the two stubs follow the same ISA). May write 2
  // floats past the panel.
  void (*pack_a_rows)(const float* const* src, int64_t len, float* dst);
  int pack_a_rows_mr;
  // Winograd F(2x2, 3x3) for geometries with winograd_shape_ok (conv2d_winograd.h).
  void (*winograd_forward)(const Conv2dGeometry& g, const float* x, const float* w,
                           const float* bias, float* y, const WinogradEpilogue& ep);
  void (*winograd_backward_weights)(const Conv2dGeometry& g, const float* x, const float* dy,
                                    float* dw, float* db);
  // Direct loops for short patches (small Cin), taken where direct_ok(g).
  bool (*direct_ok)(const Conv2dGeometry& g);
  void (*direct_forward)(const Conv2dGeometry& g, const float* x, const float* w,
                         const float* bias, float* y, bool relu);
  void (*direct_weights)(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                         float* db);
  // conv + relu + 2x2 max pool in one pass (direct_ok, Cout % 16 == 0, stride and dilation 1).
  void (*direct_relu_pool_forward)(const Conv2dGeometry& g, const float* x, const float* w,
                                   const float* bias, float* y, int32_t* argmax);
  // Its weight gradient straight from the pooled gradient (direct_ok); false when an argmax entry
  // was not a cell of its window.
  bool (*direct_relu_pool_weights)(const Conv2dGeometry& g, const float* x, const float* dy,
                                   const float* y, const int32_t* argmax, float* dw, float* db);
  // The weight gradient's GEMM over pixel ranges [p_lo, p_hi) into a dw (K, Cout) partial, with
  // its own packing workspace (workspace_floats(g) floats per part).
  int64_t (*weights_workspace_floats)(const Conv2dGeometry& g);
  void (*weights_gemm_part)(const Conv2dGeometry& g, const float* x, const float* dy, int64_t p_lo,
                            int64_t p_hi, float* dw_part, float* ws);
  // The data gradient's scatter (conv2d.cpp's col2im has the contract); null: that portable loop.
  void (*col2im)(const Conv2dGeometry& g, const float* dcols, int64_t images, float* dx);
  // Winograd F(4x4, 3x3) (winograd4_shape_ok; null where the ISA has no such kernel, so the
  // choice falls back to F(2x2, 3x3)).
  void (*winograd4_forward)(const Conv2dGeometry& g, const float* x, const float* w,
                            const float* bias, float* y, const WinogradEpilogue& ep) = nullptr;
  void (*winograd4_backward_weights)(const Conv2dGeometry& g, const float* x, const float* dy,
                                     float* dw, float* db) = nullptr;
  // winograd_forward in two halves (null where the ISA does not split it: its winograd_forward
  // then transforms the kernel on every call): the transformed kernel U of
  // winograd_kernel_floats(g) floats from w, and the forward from U. Inference keeps U on the
  // weight (conv2d.cpp, core/kept_derived.h). avx2 only so far: the avx512 kernels (F(2x2) and
  // F(4x4)) could not be run on the machine where the split was made.
  int64_t (*winograd_kernel_floats)(const Conv2dGeometry& g) = nullptr;
  void (*winograd_transform_kernel)(const Conv2dGeometry& g, const float* w, float* u) = nullptr;
  void (*winograd_forward_transformed)(const Conv2dGeometry& g, const float* x, const float* u,
                                       const float* bias, float* y,
                                       const WinogradEpilogue& ep) = nullptr;
};
using ConvKernelsRef = const ConvKernels*;
CORENN_DECLARE_DISPATCH(ConvKernelsRef, conv2d_kernels_stub);

#ifdef CORENN_X86_64
// The driver of the direct weight-gradient kernels (conv2d.cpp): runs taps(nt, r_lo, r_hi, t0,
// off, part_dw, part_db) over `rows` output rows split across threads, in passes of at most
// max_taps taps (off[k]: tap k's offset from the patch origin in x), each thread into its own
// partial dw / db (part_db only on the pass with t0 == 0), summed in thread order.
using DirectTapsFn = std::function<void(int nt, int64_t r_lo, int64_t r_hi, int64_t t0,
                                        const int64_t* off, float* part_dw, float* part_db)>;
void direct_dw_run(const Conv2dGeometry& g, int64_t rows, int64_t work, int max_taps, float* dw,
                   float* db, const DirectTapsFn& taps);
// off[k] = offset of tap k = (kh, kw, ci) from the patch origin in x, in a buffer of the calling
// thread (valid until its next call). Kernel files compiled with wider ISA flags get such helpers
// from here rather than instantiating std::vector themselves: a template instantiated in an
// _avx512 file is a weak symbol the linker may pick for every other file too.
const int64_t* direct_tap_offsets(const Conv2dGeometry& g);

// Prefetches rows [lo, hi) of a row-major tensor (row_floats floats per row) into L2. The direct
// weight-gradient loops ask for dy's rows two blocks ahead of the block they work on: inside a
// training step dy comes from DRAM, and a block takes less time to compute than to load. Measured
// on the 2-core Zen 5 (AVX-512), 64x28x28x1 -> 32 3x3 'same' with dy not in cache, fresh
// processes alternated: 0.71-1.10 ms without, 0.39-0.60 ms with (0.20-0.30 ms with dy in cache).
// Static: included by the AVX2 and AVX-512 files, so no weak symbol (the COMDAT rule).
static inline void prefetch_rows(const float* base, int64_t row_floats, int64_t lo, int64_t hi) {
  const char* p = reinterpret_cast<const char*>(base + lo * row_floats);
  const char* end = reinterpret_cast<const char*>(base + hi * row_floats);
  for (; p < end; p += 64) __builtin_prefetch(p, 0, 2);  // T1: into L2
}

// The weight gradient's A^T panels (mr consecutive patch positions k, one panel per mr): the
// positions of one panel, for one pixel whose patch is inside the image, are `count` runs of
// consecutive floats of x; run j fills the panel rows whose bits are set in mask[j] from
// x_patch_origin + shifted_off[j] + row. One entry per panel, in a buffer of the calling thread.
struct DwPanelRuns {
  int count = 0;
  uint32_t mask[gemm::kMaxMR] = {};
  int64_t shifted_off[gemm::kMaxMR] = {};
  // Per row of the panel (a position past the depth: tap_h = INT32_MIN / 2, never inside): its
  // tap's kh * dh and kw * dw, for border pixels, whose rows are bounds-checked lane by lane and
  // then loaded as the same runs under that mask.
  int32_t tap_h[gemm::kMaxMR] = {};
  int32_t tap_w[gemm::kMaxMR] = {};
};
const DwPanelRuns* dw_panel_runs(const Conv2dGeometry& g, int mr);
#endif

}  // namespace corenn::cpu
