// conv2d's AVX-512 kernel set (conv2d_kernels.h), registered in the avx512 slot of
// conv2d.kernels. It starts from the avx2 set and replaces the kernels that have AVX-512 versions:
//   pack_a_rows   12-row panels for the 12 x 32 GEMM kernel (gemm/pack_avx512.cpp)
//   winograd_*    conv2d_winograd_avx512.cpp
// Compiled with -mavx512f/vl/bw/dq (file name carries _avx512).
#include "cpu/conv2d_kernels.h"
#include "cpu/conv2d_winograd.h"
#include "cpu/gemm/gemm.h"
#include "cpu/gemm/kernels_x86.h"

namespace corenn::cpu {

namespace {

ConvKernels make_avx512_set() {
  ConvKernels k = avx2_conv_kernels();
  k.pack_a_rows = gemm::pack_a_rows_avx512;
  k.pack_a_rows_mr = gemm::kMR512;
  k.winograd_forward = winograd_forward_avx512;
  k.winograd_backward_weights = winograd_backward_weights_avx512;
  return k;
}

// Filled by this dynamic initializer before the registration below reads its address; the avx2
// set it copies is constant-initialized, so the order of the object files does not matter.
const ConvKernels kAvx512ConvKernels = make_avx512_set();

}  // namespace

CORENN_REGISTER_KERNEL(conv2d_kernels_stub, Slot::avx512, &kAvx512ConvKernels);

}  // namespace corenn::cpu
