// The kernels of the files compiled with wider ISA flags (*_avx2.cpp, *_avx512.cpp), as
// constant-initialized tables those files define, and cpu/isa_registry.cpp (a baseline file)
// puts into their dispatch slots.
//
// Why the registration is not in the kernel files themselves: whatever runs at load time runs on
// every CPU, and code in an _avx512 file is compiled for AVX-512. A dynamic initializer there (a
// CORENN_REGISTER_KERNEL line, or a table built by a function call) is such code: GCC copied a
// 64-byte kernel table with one zmm store, and with LTO it merged every file's initializers into
// one function, so `import corenn` died of SIGILL on AVX2-only CPUs. The rule: a kernel file
// compiled with -mavx* has no dynamic initialization at all; it defines `extern const` objects
// whose initializers are address constants (static initialization: no code runs), declared here.
// tests/core/test_dispatch.py checks the rule in the sources, and tests/core/test_avx2_machine.py
// imports and trains under valgrind, whose CPU has no AVX-512.
#pragma once

#ifdef CORENN_X86_64

#include "cpu/conv2d_kernels.h"
#include "cpu/depthwise_conv2d_rows.h"
#include "cpu/gemm/gemm.h"
#include "ops/activation.h"
#include "ops/attention.h"
#include "ops/dropout.h"
#include "ops/int8_gemm.h"
#include "ops/layer_norm.h"
#include "ops/loss.h"
#include "ops/pool2d.h"
#include "ops/rms_norm.h"
#include "ops/rnn.h"

namespace corenn::cpu::avx2 {
extern const ActivationForwardFn kActivationForward;    // activation_avx2.cpp
extern const ActivationBackwardFn kActivationBackward;  // activation_avx2.cpp
extern const SoftmaxRowKernels kSoftmaxRows;            // attention_avx2.cpp
extern const DepthwiseRows kDepthwiseRows;              // depthwise_conv2d_avx2.cpp
extern const DropoutForwardFn kDropoutForward;          // dropout_avx2.cpp
extern const Int8GemmRows kInt8GemmRows;                // int8_gemm_avx2.cpp
extern const LayerNormRows kLayerNormRows;              // layer_norm_avx2.cpp
extern const LossRows kLossRows;                        // loss_avx2.cpp
extern const MaxPoolCells kMaxPoolCells;                // pool2d_avx2.cpp
extern const RmsNormRows kRmsNormRows;                  // rms_norm_avx2.cpp
extern const CellKernels kRnnCells;                     // rnn_avx2.cpp
extern const gemm::GemmContext kGemmContext;            // gemm/ukernels/gemm_ukr_avx2_f32_6x16.cpp
}  // namespace corenn::cpu::avx2

namespace corenn::cpu::avx512 {
extern const ActivationForwardFn kActivationForward;    // activation_avx512.cpp
extern const ActivationBackwardFn kActivationBackward;  // activation_avx512.cpp
extern const SoftmaxRowKernels kSoftmaxRows;            // attention_avx512.cpp
extern const ConvKernels kConvKernels;                  // conv2d_avx512.cpp
extern const DepthwiseRows kDepthwiseRows;              // depthwise_conv2d_avx512.cpp
extern const DropoutForwardFn kDropoutForward;          // dropout_avx512.cpp
extern const DropoutBackwardFn kDropoutBackward;        // dropout_avx512.cpp
extern const Int8GemmRows kInt8GemmRows;                // int8_gemm_avx512.cpp
extern const Int8GemmRows kInt8GemmRowsVnni;            // int8_gemm_avx512_vnni.cpp (installed with VNNI)
extern const LayerNormRows kLayerNormRows;              // layer_norm_avx512.cpp
extern const LossRows kLossRows;                        // loss_avx512.cpp
extern const MaxPoolCells kMaxPoolCells;                // pool2d_avx512.cpp
extern const AvgPoolCells kAvgPoolCells;                // pool2d_avx512.cpp
extern const RmsNormRows kRmsNormRows;                  // rms_norm_avx512.cpp
extern const CellKernels kRnnCells;                     // rnn_avx512.cpp
extern const gemm::GemmContext kGemmContext;            // gemm/ukernels/gemm_ukr_avx512_f32_12x32.cpp
}  // namespace corenn::cpu::avx512

namespace corenn::cpu {
// Test hook (_C._set_int8_gemm_vnni): the avx512 slot of int8_gemm.rows gets the VPDPWSSD tiles
// (on, where cpuid reports VNNI) or the VPMADDWD ones, so a VNNI machine tests both. Returns
// whether the VNNI tiles are installed now.
bool set_int8_gemm_vnni(bool on);
}  // namespace corenn::cpu

#endif  // CORENN_X86_64
