// _C bindings for batch normalization and spatial dropout (wrapped by corenn.ops).
#include <pybind11/stl.h>

#include "bindings/register.h"
#include "ops/batch_norm.h"
#include "ops/group_norm.h"
#include "ops/layer_norm.h"
#include "ops/rms_norm.h"
#include "ops/spatial_dropout.h"
#include "ops/unit_norm.h"

namespace corenn::bindings {

void register_norm(py::module_& m) {
  using release = py::call_guard<py::gil_scoped_release>;
  m.def("batch_norm_forward_train", &corenn::batch_norm_forward_train, py::arg("x"),
        py::arg("gamma"), py::arg("beta"), py::arg("y"), py::arg("mean"), py::arg("inv_std"),
        py::arg("moving_mean"), py::arg("moving_var"), py::arg("momentum"), py::arg("epsilon"),
        release(), "y = gamma * (x - mean) * inv_std + beta with batch statistics (written to "
        "mean, inv_std); updates moving_mean / moving_var when given");
  m.def("batch_norm_forward_infer", &corenn::batch_norm_forward_infer, py::arg("x"),
        py::arg("gamma"), py::arg("beta"), py::arg("moving_mean"), py::arg("moving_var"),
        py::arg("y"), py::arg("epsilon"), release(),
        "y = gamma * (x - moving_mean) / sqrt(moving_var + epsilon) + beta");
  m.def("batch_norm_backward", &corenn::batch_norm_backward, py::arg("dy"), py::arg("x"),
        py::arg("gamma"), py::arg("mean"), py::arg("inv_std"), py::arg("dx"), py::arg("dgamma"),
        py::arg("dbeta"), py::arg("training"), release(),
        "dx, dgamma, dbeta (each optional) of batch normalization");
  m.def("batch_norm_add_relu_forward", &corenn::batch_norm_add_relu_forward, py::arg("x"),
        py::arg("gamma"), py::arg("beta"), py::arg("r"), py::arg("y"), py::arg("mean"),
        py::arg("inv_std"), py::arg("moving_mean"), py::arg("moving_var"), py::arg("momentum"),
        py::arg("epsilon"), py::arg("pooled"), release(),
        "y = relu(gamma * (x - mean) * inv_std + beta + r) with batch statistics (a residual "
        "block's BatchNormalization -> Add -> ReLU); pooled: y's per-image mean too");
  m.def("batch_norm_add_relu_backward", &corenn::batch_norm_add_relu_backward, py::arg("dy"),
        py::arg("x"), py::arg("y"), py::arg("gamma"), py::arg("mean"), py::arg("inv_std"),
        py::arg("dr"), py::arg("dx"), py::arg("dgamma"), py::arg("dbeta"),
        py::arg("dy2") = std::nullopt, release(),
        "dr = (dy [+ dy2]) * relu'(y) (the residual's gradient), then dx, dgamma, dbeta of the "
        "batch normalization from dr; dy (N, C) is the gradient of y's per-image mean");
  m.def("layer_norm_forward", &corenn::layer_norm_forward, py::arg("x"), py::arg("gamma"),
        py::arg("beta"), py::arg("y"), py::arg("mean"), py::arg("inv_std"), py::arg("norm_ndim"),
        py::arg("epsilon"), release(),
        "y = gamma * (x - mean) * inv_std + beta per row over the last norm_ndim axes (writes "
        "mean, inv_std)");
  m.def("layer_norm_backward", &corenn::layer_norm_backward, py::arg("dy"), py::arg("x"),
        py::arg("gamma"), py::arg("mean"), py::arg("inv_std"), py::arg("dx"), py::arg("dgamma"),
        py::arg("dbeta"), py::arg("norm_ndim"), release(),
        "dx, dgamma, dbeta (each optional) of layer normalization");
  m.def("rms_norm_forward", &corenn::rms_norm_forward, py::arg("x"), py::arg("gamma"),
        py::arg("y"), py::arg("inv_rms"), py::arg("norm_ndim"), py::arg("epsilon"), release(),
        "y = gamma * x * inv_rms per row over the last norm_ndim axes, inv_rms = "
        "1 / sqrt(mean x^2 + epsilon) (written)");
  m.def("rms_norm_backward", &corenn::rms_norm_backward, py::arg("dy"), py::arg("x"),
        py::arg("gamma"), py::arg("inv_rms"), py::arg("dx"), py::arg("dgamma"),
        py::arg("norm_ndim"), release(), "dx, dgamma (each optional) of RMS normalization");
  m.def("spatial_dropout_forward", &corenn::spatial_dropout_forward, py::arg("x"), py::arg("y"),
        py::arg("mask"), py::arg("rate"), py::arg("seed"), release(),
        "y[n, ..., c] = x[n, ..., c] * mask[n, c], mask drawn from seed");
  m.def("spatial_dropout_backward", &corenn::spatial_dropout_backward, py::arg("dy"),
        py::arg("mask"), py::arg("dx"), release(), "dx[n, ..., c] = dy[n, ..., c] * mask[n, c]");
  m.def("group_norm_forward", &corenn::group_norm_forward, py::arg("x"), py::arg("gamma"),
        py::arg("beta"), py::arg("y"), py::arg("mean"), py::arg("inv_std"), py::arg("axis"),
        py::arg("groups"), py::arg("epsilon"), release(),
        "y = gamma * (x - mean) * inv_std + beta per (sample, channel group) (writes mean, inv_std)");
  m.def("group_norm_backward", &corenn::group_norm_backward, py::arg("dy"), py::arg("x"),
        py::arg("gamma"), py::arg("mean"), py::arg("inv_std"), py::arg("dx"), py::arg("dgamma"),
        py::arg("dbeta"), py::arg("axis"), py::arg("groups"), release(),
        "dx, dgamma, dbeta (each optional) of group normalization");
  m.def("unit_norm_forward", &corenn::unit_norm_forward, py::arg("x"), py::arg("y"),
        py::arg("first_axis"), py::arg("num_axes"), release(),
        "y = x / sqrt(max(sum x^2, 1e-12)) over axes [first_axis, first_axis + num_axes)");
  m.def("unit_norm_backward", &corenn::unit_norm_backward, py::arg("dy"), py::arg("x"),
        py::arg("dx"), py::arg("first_axis"), py::arg("num_axes"), release(),
        "dx of unit normalization");
}

}  // namespace corenn::bindings
