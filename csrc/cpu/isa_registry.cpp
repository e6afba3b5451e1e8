// Puts the kernels of the _avx2 and _avx512 files into their dispatch slots. This file is compiled
// for the baseline ISA: registration runs at load time on every CPU, so it must not run code
// compiled for wider vectors (cpu/isa_kernels.h). The tables it reads are constant-initialized in
// their own files, so the order in which the files' initializers run does not matter. Kernels
// written in baseline files with target attributes (conv2d.cpp's avx2 block) register themselves.
#include "cpu/isa_kernels.h"

#ifdef CORENN_X86_64

namespace corenn::cpu {
namespace {

void install_isa_kernels() {
  activation_forward_stub.install(Slot::avx2, avx2::kActivationForward);
  activation_backward_stub.install(Slot::avx2, avx2::kActivationBackward);
  attention_softmax_rows_stub.install(Slot::avx2, &avx2::kSoftmaxRows);
  depthwise_rows_stub.install(Slot::avx2, &avx2::kDepthwiseRows);
  dropout_forward_stub.install(Slot::avx2, avx2::kDropoutForward);
  int8_gemm_rows_stub.install(Slot::avx2, &avx2::kInt8GemmRows);
  layer_norm_rows_stub.install(Slot::avx2, &avx2::kLayerNormRows);
  loss_rows_stub.install(Slot::avx2, &avx2::kLossRows);
  max_pool2d_cells_stub.install(Slot::avx2, &avx2::kMaxPoolCells);
  rms_norm_rows_stub.install(Slot::avx2, &avx2::kRmsNormRows);
  rnn_default_cells_stub.install(Slot::avx2, &avx2::kRnnCells);
  gemm::sgemm_context_stub.install(Slot::avx2, &avx2::kGemmContext);
  gemm::gemm_packed_context_stub.install(Slot::avx2, &avx2::kGemmContext);

  activation_forward_stub.install(Slot::avx512, avx512::kActivationForward);
  activation_backward_stub.install(Slot::avx512, avx512::kActivationBackward);
  attention_softmax_rows_stub.install(Slot::avx512, &avx512::kSoftmaxRows);
  conv2d_kernels_stub.install(Slot::avx512, &avx512::kConvKernels);
  depthwise_rows_stub.install(Slot::avx512, &avx512::kDepthwiseRows);
  dropout_forward_stub.install(Slot::avx512, avx512::kDropoutForward);
  dropout_backward_stub.install(Slot::avx512, avx512::kDropoutBackward);
  int8_gemm_rows_stub.install(Slot::avx512, &avx512::kInt8GemmRows);
  // a second install replaces the first: VPDPWSSD where cpuid reports AVX512_VNNI
  if (cpu_has_avx512_vnni()) int8_gemm_rows_stub.install(Slot::avx512, &avx512::kInt8GemmRowsVnni);
  layer_norm_rows_stub.install(Slot::avx512, &avx512::kLayerNormRows);
  loss_rows_stub.install(Slot::avx512, &avx512::kLossRows);
  max_pool2d_cells_stub.install(Slot::avx512, &avx512::kMaxPoolCells);
  avg_pool2d_cells_stub.install(Slot::avx512, &avx512::kAvgPoolCells);
  rms_norm_rows_stub.install(Slot::avx512, &avx512::kRmsNormRows);
  rnn_default_cells_stub.install(Slot::avx512, &avx512::kRnnCells);
  gemm::sgemm_context_stub.install(Slot::avx512, &avx512::kGemmContext);
  gemm::gemm_packed_context_stub.install(Slot::avx512, &avx512::kGemmContext);
}

[[maybe_unused]] const bool isa_kernels_installed = (install_isa_kernels(), true);

}  // namespace

bool set_int8_gemm_vnni(bool on) {
  const bool vnni = on && cpu_has_avx512_vnni();
  int8_gemm_rows_stub.install(Slot::avx512, vnni ? &avx512::kInt8GemmRowsVnni : &avx512::kInt8GemmRows);
  return vnni;
}
}  // namespace corenn::cpu

#endif  // CORENN_X86_64
