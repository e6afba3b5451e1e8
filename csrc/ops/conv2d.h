// conv2d: public entries (checks + dispatch by device) of the 2-D convolution and its gradients.
//
// Shapes: x (N, H, W, Cin) NHWC, w (KH, KW, Cin, Cout) as Keras, bias (Cout,),
//         y / dy (N, OH, OW, Cout). Padding is explicit (pad_top, pad_left; the bottom/right
//         padding is whatever the output size implies), so 'valid' and TF's asymmetric 'same'
//         are both decided by the caller (corenn.ops.conv2d_output_shape).
//   y[n, oh, ow, co] = act(bias[co] + sum_{kh, kw, ci} x[n, oh*sh - pt + kh*dh,
//                                                           ow*sw - pl + kw*dw, ci] w[kh, kw, ci, co])
// with x read as 0 outside the image.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/kept_derived.h"
#include "core/tensor.h"

namespace corenn {

// The geometry every conv kernel needs (all sizes > 0 after the checks).
// Grouped convolution (Keras' groups=G): cin and cout are the totals, both divisible by G; w is
// (KH, KW, Cin / G, Cout) and group i's outputs [i*Cout/G, (i+1)*Cout/G) read only its inputs
// [i*Cin/G, (i+1)*Cin/G). The CPU kernels run it per group on a geometry whose cin / cout are one
// group's while x_ld / y_ld keep the channel row lengths of the whole tensors (no copies).
struct Conv2dGeometry {
  int64_t n, h, w, cin;        // input
  int64_t kh, kw, cout;        // kernel
  int64_t oh, ow;              // output
  int64_t sh, sw, pt, pl, dh, dw;  // stride, leading padding, dilation
  int64_t groups = 1;          // G (1: an ordinary conv)
  int64_t x_ld = 0, y_ld = 0;  // floats per pixel of x / y (0: cin / cout; set by group_geometry)
  int64_t pixels() const { return n * oh * ow; }   // GEMM M: output pixels
  int64_t depth() const { return kh * kw * cin / groups; }  // GEMM K: patch length (one group's)
  int64_t xc() const { return x_ld ? x_ld : cin; }
  int64_t yc() const { return y_ld ? y_ld : cout; }
};

// y := act(conv(x, w) + bias); activation "none" | "relu" (fused in the GEMM epilogue).
// keep_w: w is a layer's weight that later calls apply again (inference); the CPU kernels keep
// what they derive from it (the implicit GEMM's packed panels, Winograd's transformed kernel) on
// its storage while its write version stands (core/kept_derived.h). The same bits either way.
void conv2d_forward(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias,
                    const Tensor& y, int64_t stride_h, int64_t stride_w, int64_t pad_top,
                    int64_t pad_left, int64_t dil_h, int64_t dil_w, const std::string& activation,
                    int64_t groups = 1, bool keep_w = false);

// dx := dL/dx given dy = dL/dy (dx is overwritten).
void conv2d_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx, int64_t stride_h,
                          int64_t stride_w, int64_t pad_top, int64_t pad_left, int64_t dil_h,
                          int64_t dil_w, int64_t groups = 1);

// dx := (dL/dx + add) * relu'(relu_of), relu' taken from a relu's output as sum_n_relu_grad does
// (relu_of > 0 ? v : v * relu_of); add / relu_of of dx's shape, either may be absent. For x that
// is a relu's output read by this conv and others (fusion rule 5): `add` holds the other readers'
// gradient, and dx comes out as the gradient of the relu's input, in the pass that stores the
// data gradient (the Winograd output transform) or, on the other algorithms, one pass after it.
void conv2d_backward_data_relu_sum(const Tensor& dy, const Tensor& w, const Tensor& dx,
                                   const std::optional<Tensor>& add,
                                   const std::optional<Tensor>& relu_of, int64_t stride_h,
                                   int64_t stride_w, int64_t pad_top, int64_t pad_left,
                                   int64_t dil_h, int64_t dil_w, int64_t groups = 1);

// dw := dL/dw, and db := column sums of dy when given (both overwritten).
void conv2d_backward_weights(const Tensor& x, const Tensor& dy, const Tensor& dw,
                             const std::optional<Tensor>& db, int64_t stride_h, int64_t stride_w,
                             int64_t pad_top, int64_t pad_left, int64_t dil_h, int64_t dil_w,
                             int64_t groups = 1);

// Conv2DTranspose, the data gradient of conv2d used as a layer (no new GEMM: the three entries
// below run the conv2d kernels with the roles of x and y swapped). Shapes:
//   x (N, H, W, Cin) plays the conv's dy, y (N, OH, OW, Cout) the conv's dx, and
//   w (KH, KW, Cout, Cin) -- Keras's Conv2DTranspose kernel layout -- is exactly the conv2d kernel
//   (KH, KW, Cin_conv = Cout, Cout_conv = Cin) of the convolution it transposes: no conversion.
//   y[n, h, w, co] = bias[co] + sum over (ih, iw, kh, kw, ci) with h = ih*sh - pt + kh*dh,
//                    w = iw*sw - pl + kw*dw of x[n, ih, iw, ci] w[kh, kw, co, ci]
// forward         y  = conv2d_backward_data(dy = x, w)            (+ bias)
// backward data   dx = conv2d_forward(x = dy, w)
// backward weights dw = conv2d_backward_weights(x = dy, dy = x),  db = column sums of dy
// Padding (pt, pl) is the conv's (leading) padding, decided by the caller from Keras's output-size
// rule (corenn.kernels.conv2d_transpose_output_shape).
void conv2d_transpose_forward(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias,
                              const Tensor& y, int64_t stride_h, int64_t stride_w, int64_t pad_top,
                              int64_t pad_left, int64_t dil_h, int64_t dil_w);
void conv2d_transpose_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                                    int64_t stride_h, int64_t stride_w, int64_t pad_top,
                                    int64_t pad_left, int64_t dil_h, int64_t dil_w);
void conv2d_transpose_backward_weights(const Tensor& x, const Tensor& dy, const Tensor& dw,
                                       const std::optional<Tensor>& db, int64_t stride_h,
                                       int64_t stride_w, int64_t pad_top, int64_t pad_left,
                                       int64_t dil_h, int64_t dil_w);

// The first layer of a classic CNN in one pass: y = max_pool_2x2(relu(conv(x, w) + bias)) with
// stride 1, no dilation, pooling 2x2 / stride 2 / 'valid' over the (conv_oh, conv_ow) conv
// output, which is never written. argmax (int32, y's shape) holds the winner's flat index
// oh * conv_ow + ow, exactly as max_pool2d_forward on the conv output would (first maximum wins,
// relu first: an all-negative window points at its first cell), so max_pool2d_backward applies.
void conv2d_relu_max_pool2d_forward(const Tensor& x, const Tensor& w,
                                    const std::optional<Tensor>& bias, const Tensor& y,
                                    const Tensor& argmax, int64_t conv_oh, int64_t conv_ow,
                                    int64_t pad_top, int64_t pad_left, bool keep_w = false);

// The algorithms the CPU kernels pick for a geometry: {forward, backward_data, backward_weights}
// by name ("winograd_f2x2_3x3", "winograd_f4x4_3x3", "implicit_gemm", "direct", "pointwise_gemm",
// "col2im_gemm", "subpixel_gemm", and "flipped_forward/<forward algorithm of the flipped conv>" for a stride-1 data gradient). For
// tests and for users who want to know why a layer is slow; nothing is computed.
std::vector<std::string> conv2d_algorithms(const Conv2dGeometry& g);

// Its weight gradient for a first layer (no input gradient needed): dw, db (when given) of the
// conv from the POOLED gradient dy, the pooled output y and argmax of the forward above, i.e. of
// dz = max_pool2d_backward(dy * [y > 0], argmax) without forming dz. dy, y, argmax (N, conv_oh/2,
// conv_ow/2, Cout); dw (KH, KW, Cin, Cout); db (Cout,).
void conv2d_relu_max_pool2d_backward_weights(const Tensor& x, const Tensor& dy, const Tensor& y,
                                             const Tensor& argmax, const Tensor& dw,
                                             const std::optional<Tensor>& db, int64_t conv_oh,
                                             int64_t conv_ow, int64_t pad_top, int64_t pad_left);

namespace cpu {
enum class ConvAlgo : int8_t {
  pointwise_gemm,   // 1x1, stride 1, no padding: a plain GEMM on x
  winograd,         // F(2x2, 3x3), cpu/conv2d_winograd.h
  winograd4,        // F(4x4, 3x3), the same file (AVX-512)
  direct,           // small-Cin loops (no GEMM)
  implicit_gemm,    // the GEMM engine with a patch-gathering packer
  flipped_forward,  // data gradient only: the forward conv of dy with the flipped kernel
  col2im_gemm,      // data gradient only: dy @ w^T, then col2im
  subpixel_gemm,    // data gradient only, strided: one implicit GEMM per output phase
};
ConvAlgo conv2d_forward_algo(const Conv2dGeometry& g);
ConvAlgo conv2d_data_algo(const Conv2dGeometry& g);
ConvAlgo conv2d_weights_algo(const Conv2dGeometry& g);
Conv2dGeometry flipped_geometry(const Conv2dGeometry& g);  // dx as a forward conv of dy
// One group of a grouped conv: cin / cout of one group, x_ld / y_ld the whole rows, groups 1.
Conv2dGeometry group_geometry(const Conv2dGeometry& g);
const char* conv_algo_name(ConvAlgo algo);

void conv2d_relu_max_pool2d_forward(const Conv2dGeometry& g, const float* x, const float* w,
                                    const float* bias, float* y, int32_t* argmax,
                                    const Storage* keep_w = nullptr);
// False when some argmax entry is not a cell of its window (its gradient was dropped).
bool conv2d_relu_max_pool2d_backward_weights(const Conv2dGeometry& g, const float* x,
                                             const float* dy, const float* y,
                                             const int32_t* argmax, float* dw, float* db);
// keep_w: the storage of w when what is derived from it may be kept there (ops entry above).
void conv2d_forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias,
                    float* y, bool relu, const Storage* keep_w = nullptr);
void conv2d_backward_data(const Conv2dGeometry& g, const float* dy, const float* w, float* dx);
// conv2d_backward_data_relu_sum above: add / relu_of may be nullptr.
void conv2d_backward_data_relu_sum(const Conv2dGeometry& g, const float* dy, const float* w,
                                   float* dx, const float* add, const float* relu_of);
// Counters of the Winograd kernels kept on conv weights (conv2d.cpp), for tests.
KeptStats winograd_kernel_stats();
// y (rows, cols) += bias (cols,) on every row (Conv2DTranspose's bias after the data gradient).
void add_bias_rows(float* y, const float* bias, int64_t rows, int64_t cols);
// db (Cout,) = column sums of dy, computed in the same pass when not nullptr.
void conv2d_backward_weights(const Conv2dGeometry& g, const float* x, const float* dy, float* dw,
                             float* db);
}  // namespace cpu

// ---- kernels (dispatch table) -------------------------------------------------------------------
// cpu/conv2d.cpp (cpu_ref: the algorithms above, each running the per-ISA inner kernels of
// conv2d_isa_kernels_stub), cuda/conv2d.cu (cuda). Arguments as in cpu:: above; `like` names the
// device. The Conv2DTranspose kernels are the conv kernels with x and y swapped.
using Conv2dForwardFn = void (*)(const Tensor& like, const Conv2dGeometry& g, const float* x,
                                 const float* w, const float* bias, float* y, bool relu,
                                 const Storage* keep_w);
using Conv2dBackwardDataFn = void (*)(const Tensor& like, const Conv2dGeometry& g, const float* dy,
                                      const float* w, float* dx);
using Conv2dBackwardDataReluSumFn = void (*)(const Tensor& like, const Conv2dGeometry& g,
                                             const float* dy, const float* w, float* dx,
                                             const float* add, const float* relu_of);
using Conv2dBackwardWeightsFn = void (*)(const Tensor& like, const Conv2dGeometry& g,
                                         const float* x, const float* dy, float* dw, float* db);
using Conv2dReluMaxPoolForwardFn = void (*)(const Tensor& like, const Conv2dGeometry& g,
                                            const float* x, const float* w, const float* bias,
                                            float* y, int32_t* argmax, const Storage* keep_w);
using Conv2dReluMaxPoolBackwardWeightsFn = bool (*)(const Tensor& like, const Conv2dGeometry& g,
                                                    const float* x, const float* dy,
                                                    const float* y, const int32_t* argmax,
                                                    float* dw, float* db);
CORENN_DECLARE_DISPATCH(Conv2dForwardFn, conv2d_forward_stub);
CORENN_DECLARE_DISPATCH(Conv2dBackwardDataFn, conv2d_backward_data_stub);
CORENN_DECLARE_DISPATCH(Conv2dBackwardDataReluSumFn, conv2d_backward_data_relu_sum_stub);  // CPU
CORENN_DECLARE_DISPATCH(Conv2dBackwardWeightsFn, conv2d_backward_weights_stub);
CORENN_DECLARE_DISPATCH(Conv2dReluMaxPoolForwardFn, conv2d_relu_max_pool2d_forward_stub);
CORENN_DECLARE_DISPATCH(Conv2dReluMaxPoolBackwardWeightsFn,
                        conv2d_relu_max_pool2d_backward_weights_stub);
// Conv2DTranspose: forward = data gradient of the conv + bias on its rows; backward_data = the
// conv's forward; backward_weights = the conv's weight gradient with x and dy swapped + db.
using Conv2dTransposeForwardFn = void (*)(const Tensor& like, const Conv2dGeometry& g,
                                          const float* x, const float* w, const float* bias,
                                          float* y);
using Conv2dTransposeBackwardWeightsFn = void (*)(const Tensor& like, const Conv2dGeometry& g,
                                                  const float* x, const float* dy, float* dw,
                                                  float* db);
CORENN_DECLARE_DISPATCH(Conv2dTransposeForwardFn, conv2d_transpose_forward_stub);
CORENN_DECLARE_DISPATCH(Conv2dBackwardDataFn, conv2d_transpose_backward_data_stub);
CORENN_DECLARE_DISPATCH(Conv2dTransposeBackwardWeightsFn, conv2d_transpose_backward_weights_stub);

}  // namespace corenn
