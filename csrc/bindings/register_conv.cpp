// _C.conv2d_*: see ops/conv2d.h. Tensors are converted with the GIL held, kernels run without it.
#include <pybind11/stl.h>

#include "bindings/register.h"
#include "ops/conv2d.h"
#include "ops/conv3d.h"
#include "ops/depthwise_conv2d.h"
#include "ops/prelu.h"

namespace corenn::bindings {

void register_conv(py::module_& m) {
  // Test hook of the Winograd kernels kept on conv weights (cpu/conv2d.cpp, core/kept_derived.h).
  m.def("_winograd_kernel_stats", [] {
    const KeptStats s = cpu::winograd_kernel_stats();
    py::dict d;
    d["hits"] = s.hits;
    d["makes"] = s.makes;
    d["first_sights"] = s.first_sights;
    d["untrusted"] = s.untrusted;
    return d;
  });
  m.def("conv2d_forward", &corenn::conv2d_forward, py::arg("x"), py::arg("w"), py::arg("bias"),
        py::arg("y"), py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"),
        py::arg("pad_left"), py::arg("dil_h"), py::arg("dil_w"), py::arg("activation"),
        py::arg("groups") = 1, py::arg("keep_w") = false, py::call_guard<py::gil_scoped_release>(),
        "y := act(conv2d(x, w) + bias), NHWC, w (KH, KW, Cin / groups, Cout); in place on y. "
        "keep_w: w is a weight later calls apply again; what the kernel derives from it (packed "
        "panels, a Winograd transform) is kept on it while its write version stands.");
  m.def("conv2d_backward_data_relu_sum", &corenn::conv2d_backward_data_relu_sum, py::arg("dy"),
        py::arg("w"), py::arg("dx"), py::arg("add"), py::arg("relu_of"), py::arg("stride_h"),
        py::arg("stride_w"), py::arg("pad_top"), py::arg("pad_left"), py::arg("dil_h"),
        py::arg("dil_w"), py::arg("groups") = 1, py::call_guard<py::gil_scoped_release>(),
        "dx := (dL/dx of conv2d given dy + add) * relu'(relu_of) (add, relu_of optional): a relu "
        "output's gradient summed over its readers and taken through the relu, fusion rule 5");
  m.def("conv2d_backward_data", &corenn::conv2d_backward_data, py::arg("dy"), py::arg("w"),
        py::arg("dx"), py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"),
        py::arg("pad_left"), py::arg("dil_h"), py::arg("dil_w"), py::arg("groups") = 1,
        py::call_guard<py::gil_scoped_release>(), "dx := dL/dx of conv2d given dy; in place.");
  m.def("conv2d_backward_weights", &corenn::conv2d_backward_weights, py::arg("x"), py::arg("dy"),
        py::arg("dw"), py::arg("db"), py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"),
        py::arg("pad_left"), py::arg("dil_h"), py::arg("dil_w"), py::arg("groups") = 1,
        py::call_guard<py::gil_scoped_release>(),
        "dw := dL/dw of conv2d given dy, db := column sums of dy (when given); in place.");
  m.def("conv2d_transpose_forward", &corenn::conv2d_transpose_forward, py::arg("x"), py::arg("w"),
        py::arg("bias"), py::arg("y"), py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"),
        py::arg("pad_left"), py::arg("dil_h"), py::arg("dil_w"),
        py::call_guard<py::gil_scoped_release>(),
        "y := conv2d_transpose(x, w) + bias, w (KH, KW, Cout, Cin) as Keras; in place on y.");
  m.def("conv2d_transpose_backward_data", &corenn::conv2d_transpose_backward_data, py::arg("dy"),
        py::arg("w"), py::arg("dx"), py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"),
        py::arg("pad_left"), py::arg("dil_h"), py::arg("dil_w"),
        py::call_guard<py::gil_scoped_release>(),
        "dx := dL/dx of conv2d_transpose given dy (the conv2d forward of dy); in place.");
  m.def("conv2d_transpose_backward_weights", &corenn::conv2d_transpose_backward_weights,
        py::arg("x"), py::arg("dy"), py::arg("dw"), py::arg("db"), py::arg("stride_h"),
        py::arg("stride_w"), py::arg("pad_top"), py::arg("pad_left"), py::arg("dil_h"),
        py::arg("dil_w"), py::call_guard<py::gil_scoped_release>(),
        "dw := dL/dw of conv2d_transpose, db := column sums of dy (when given); in place.");
  m.def("conv2d_relu_max_pool2d_forward", &corenn::conv2d_relu_max_pool2d_forward, py::arg("x"),
        py::arg("w"), py::arg("bias"), py::arg("y"), py::arg("argmax"), py::arg("conv_oh"),
        py::arg("conv_ow"), py::arg("pad_top"), py::arg("pad_left"), py::arg("keep_w") = false,
        py::call_guard<py::gil_scoped_release>(),
        "y, argmax := max_pool_2x2(relu(conv2d(x, w) + bias)), stride 1; in place (keep_w: as "
        "conv2d_forward).");
  m.def("conv2d_relu_max_pool2d_backward_weights", &corenn::conv2d_relu_max_pool2d_backward_weights,
        py::arg("x"), py::arg("dy"), py::arg("y"), py::arg("argmax"), py::arg("dw"), py::arg("db"),
        py::arg("conv_oh"), py::arg("conv_ow"), py::arg("pad_top"), py::arg("pad_left"),
        py::call_guard<py::gil_scoped_release>(),
        "dw, db := weight gradient of conv + relu + 2x2 max pool from the pooled gradient; in place.");
  // Conv3D / Conv3DTranspose (ops/conv3d.h): strides, padding (leading) and dilation are
  // (D, H, W) triples.
  m.def("conv3d_forward", &corenn::conv3d_forward, py::arg("x"), py::arg("w"), py::arg("bias"),
        py::arg("y"), py::arg("strides"), py::arg("padding"), py::arg("dilation"),
        py::arg("groups") = 1, py::call_guard<py::gil_scoped_release>(),
        "y := conv3d(x, w) + bias, NDHWC, w (KD, KH, KW, Cin / groups, Cout); in place on y.");
  m.def("conv3d_backward_data", &corenn::conv3d_backward_data, py::arg("dy"), py::arg("w"),
        py::arg("dx"), py::arg("strides"), py::arg("padding"), py::arg("dilation"),
        py::arg("groups") = 1, py::call_guard<py::gil_scoped_release>(),
        "dx := dL/dx of conv3d given dy; in place.");
  m.def("conv3d_backward_weights", &corenn::conv3d_backward_weights, py::arg("x"), py::arg("dy"),
        py::arg("dw"), py::arg("db"), py::arg("strides"), py::arg("padding"), py::arg("dilation"),
        py::arg("groups") = 1, py::call_guard<py::gil_scoped_release>(),
        "dw := dL/dw of conv3d given dy, db := column sums of dy (when given); in place.");
  m.def("conv3d_transpose_forward", &corenn::conv3d_transpose_forward, py::arg("x"), py::arg("w"),
        py::arg("bias"), py::arg("y"), py::arg("strides"), py::arg("padding"), py::arg("dilation"),
        py::call_guard<py::gil_scoped_release>(),
        "y := conv3d_transpose(x, w) + bias, w (KD, KH, KW, Cout, Cin) as Keras; in place on y.");
  m.def("conv3d_transpose_backward_data", &corenn::conv3d_transpose_backward_data, py::arg("dy"),
        py::arg("w"), py::arg("dx"), py::arg("strides"), py::arg("padding"), py::arg("dilation"),
        py::call_guard<py::gil_scoped_release>(), "dx := dL/dx of conv3d_transpose; in place.");
  m.def("conv3d_transpose_backward_weights", &corenn::conv3d_transpose_backward_weights,
        py::arg("x"), py::arg("dy"), py::arg("dw"), py::arg("db"), py::arg("strides"),
        py::arg("padding"), py::arg("dilation"), py::call_guard<py::gil_scoped_release>(),
        "dw, db := weight and bias gradients of conv3d_transpose; in place.");
  m.def("depthwise_conv2d_forward", &corenn::depthwise_conv2d_forward, py::arg("x"), py::arg("w"),
        py::arg("bias"), py::arg("y"), py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"),
        py::arg("pad_left"), py::arg("dil_h"), py::arg("dil_w"),
        py::call_guard<py::gil_scoped_release>(),
        "y := depthwise_conv2d(x, w) + bias, w (KH, KW, C, DM); in place on y.");
  m.def("depthwise_conv2d_backward_data", &corenn::depthwise_conv2d_backward_data, py::arg("dy"),
        py::arg("w"), py::arg("dx"), py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"),
        py::arg("pad_left"), py::arg("dil_h"), py::arg("dil_w"),
        py::call_guard<py::gil_scoped_release>(), "dx := dL/dx of depthwise_conv2d; in place.");
  m.def("depthwise_conv2d_backward_weights", &corenn::depthwise_conv2d_backward_weights,
        py::arg("x"), py::arg("dy"), py::arg("dw"), py::arg("db"), py::arg("stride_h"),
        py::arg("stride_w"), py::arg("pad_top"), py::arg("pad_left"), py::arg("dil_h"),
        py::arg("dil_w"), py::call_guard<py::gil_scoped_release>(),
        "dw := dL/dw of depthwise_conv2d, db := column sums of dy (when given); in place.");
  // PReLU lives here with the other layers added for issue 13 (one registration family).
  m.def("prelu_forward", &corenn::prelu_forward, py::arg("x"), py::arg("alpha"), py::arg("y"),
        py::call_guard<py::gil_scoped_release>(), "y := x > 0 ? x : alpha * x; in place on y.");
  m.def("prelu_backward", &corenn::prelu_backward, py::arg("x"), py::arg("alpha"), py::arg("dy"),
        py::arg("dx"), py::arg("dalpha"), py::call_guard<py::gil_scoped_release>(),
        "dx := dy * (x > 0 ? 1 : alpha), dalpha := reduced dy * x * [x <= 0]; in place.");
  m.def(
      "conv2d_algorithms",
      [](int64_t n, int64_t h, int64_t w, int64_t cin, int64_t kh, int64_t kw, int64_t cout,
         int64_t oh, int64_t ow, int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t dh,
         int64_t dw, int64_t groups) {
        corenn::Conv2dGeometry g{n, h, w, cin, kh, kw, cout, oh, ow, sh, sw, pt, pl, dh, dw};
        g.groups = groups;
        return corenn::conv2d_algorithms(g);
      },
      py::arg("n"), py::arg("h"), py::arg("w"), py::arg("cin"), py::arg("kh"), py::arg("kw"),
      py::arg("cout"), py::arg("oh"), py::arg("ow"), py::arg("sh"), py::arg("sw"), py::arg("pt"),
      py::arg("pl"), py::arg("dh"), py::arg("dw"), py::arg("groups") = 1,
      "[forward, backward_data, backward_weights] algorithm names the CPU kernels pick.");
}

}  // namespace corenn::bindings
