// conv3d: public entries (checks + dispatch by device) of the 3-D convolution, its gradients and
// Conv3DTranspose (Keras' Conv3D / Conv3DTranspose).
//
// Shapes: x (N, D, H, W, Cin) NDHWC, w (KD, KH, KW, Cin / G, Cout) as Keras, bias (Cout,),
//         y / dy (N, OD, OH, OW, Cout). Padding is explicit (the leading padding of each axis;
//         the trailing padding is whatever the output size implies), decided by the caller from
//         Keras' 'valid' / 'same' rule (corenn.kernels.conv3d_output_shape).
//   y[n, od, oh, ow, co] = bias[co] + sum_{kd, kh, kw, ci} w[kd, kh, kw, ci, co]
//                          x[n, od*sd - pf + kd*dd, oh*sh - pt + kh*dh, ow*sw - pl + kw*dw, g*Cin/G + ci]
// with x read as 0 outside the volume and g = co / (Cout / G) the group of output channel co.
//
// Conv3DTranspose is the data gradient of the conv whose kernel it holds, as Conv2DTranspose:
// x (N, D, H, W, Cin_t) plays that conv's dy, y (N, OD, OH, OW, Cout_t) its dx, and Keras' kernel
// (KD, KH, KW, Cout_t, Cin_t) is exactly that conv's (KD, KH, KW, Cin, Cout):
//   forward          y  = conv3d_backward_data(dy = x, w) + bias
//   backward data    dx = conv3d_forward(x = dy, w)
//   backward weights dw = conv3d_backward_weights(x = dy, dy = x), db = column sums of dy
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/dispatch.h"
#include "core/tensor.h"

namespace corenn {

// The geometry every conv3d kernel needs (all sizes > 0 after the checks; cin / cout are the
// totals over the groups).
struct Conv3dGeometry {
  int64_t n, d, h, w, cin;          // input
  int64_t kd, kh, kw, cout;         // kernel
  int64_t od, oh, ow;               // output
  int64_t sd, sh, sw;               // strides
  int64_t pf, pt, pl;               // leading padding (front, top, left)
  int64_t dd, dh, dw;               // dilation
  int64_t groups = 1;
  int64_t pixels() const { return n * od * oh * ow; }                // GEMM M
  int64_t depth() const { return kd * kh * kw * (cin / groups); }    // GEMM K (one group's)
};

// strides, padding (leading) and dilation are (D, H, W) triples.
void conv3d_forward(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias,
                    const Tensor& y, const std::vector<int64_t>& strides,
                    const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation,
                    int64_t groups = 1);
// dx := dL/dx given dy (overwritten).
void conv3d_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                          const std::vector<int64_t>& strides, const std::vector<int64_t>& padding,
                          const std::vector<int64_t>& dilation, int64_t groups = 1);
// dw := dL/dw, db := column sums of dy when given (both overwritten).
void conv3d_backward_weights(const Tensor& x, const Tensor& dy, const Tensor& dw,
                             const std::optional<Tensor>& db, const std::vector<int64_t>& strides,
                             const std::vector<int64_t>& padding,
                             const std::vector<int64_t>& dilation, int64_t groups = 1);

// Conv3DTranspose (see the top of this file); padding is the transposed conv's leading padding.
void conv3d_transpose_forward(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias,
                              const Tensor& y, const std::vector<int64_t>& strides,
                              const std::vector<int64_t>& padding,
                              const std::vector<int64_t>& dilation);
void conv3d_transpose_backward_data(const Tensor& dy, const Tensor& w, const Tensor& dx,
                                    const std::vector<int64_t>& strides,
                                    const std::vector<int64_t>& padding,
                                    const std::vector<int64_t>& dilation);
void conv3d_transpose_backward_weights(const Tensor& x, const Tensor& dy, const Tensor& dw,
                                       const std::optional<Tensor>& db,
                                       const std::vector<int64_t>& strides,
                                       const std::vector<int64_t>& padding,
                                       const std::vector<int64_t>& dilation);

namespace cpu {
// y := conv(x, w) + bias (bias may be null).
void conv3d_forward(const Conv3dGeometry& g, const float* x, const float* w, const float* bias,
                    float* y);
// dx := dL/dx given dy; then dx += bias on every pixel when bias is not null (Conv3DTranspose).
void conv3d_backward_data(const Conv3dGeometry& g, const float* dy, const float* w,
                          const float* bias, float* dx);
// dw := dL/dw; db (may be null) := column sums of dy, or of x when db_from_x (Conv3DTranspose,
// whose output gradient is the conv's x).
void conv3d_backward_weights(const Conv3dGeometry& g, const float* x, const float* dy, float* dw,
                             float* db, bool db_from_x);
}  // namespace cpu

// ---- kernels (dispatch table) -------------------------------------------------------------------
// cpu/conv3d.cpp (cpu_ref: implicit GEMM on gemm_packed, whose micro-kernel follows the ISA) and
// cuda/conv3d.cu (cuda: implicit GEMM on the tiled kernel, groups refused by name).
// Conv3DTranspose runs through the same three stubs with the roles of x and y swapped.
using Conv3dForwardFn = void (*)(const Tensor& like, const Conv3dGeometry& g, const float* x,
                                 const float* w, const float* bias, float* y);
using Conv3dBackwardDataFn = void (*)(const Tensor& like, const Conv3dGeometry& g, const float* dy,
                                      const float* w, const float* bias, float* dx);
using Conv3dBackwardWeightsFn = void (*)(const Tensor& like, const Conv3dGeometry& g,
                                         const float* x, const float* dy, float* dw, float* db,
                                         bool db_from_x);
CORENN_DECLARE_DISPATCH(Conv3dForwardFn, conv3d_forward_stub);
CORENN_DECLARE_DISPATCH(Conv3dBackwardDataFn, conv3d_backward_data_stub);
CORENN_DECLARE_DISPATCH(Conv3dBackwardWeightsFn, conv3d_backward_weights_stub);

}  // namespace corenn
