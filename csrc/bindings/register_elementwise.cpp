// _C bindings for activations, bias_grad, dropout and regularizers (wrapped by corenn.ops).
#include <pybind11/stl.h>

#include "bindings/register.h"
#include "ops/activation.h"
#include "ops/bias_grad.h"
#include "ops/dropout.h"
#include "ops/noise.h"
#include "ops/regularizer.h"

namespace corenn::bindings {

void register_elementwise(py::module_& m) {
  using release = py::call_guard<py::gil_scoped_release>;
  m.def("activation_forward", &corenn::activation_forward, py::arg("kind"), py::arg("x"),
        py::arg("y"), py::arg("alpha") = 0.0f, release(), "y = f(x) (in place when y is x)");
  m.def("activation_backward", &corenn::activation_backward, py::arg("kind"), py::arg("x"),
        py::arg("y"), py::arg("dy"), py::arg("dx"), py::arg("alpha") = 0.0f, release(),
        "dx = dy * f'(x)");
  m.def("bias_grad", &corenn::bias_grad, py::arg("dy"), py::arg("db"), release(),
        "db[j] = sum over leading axes of dy[..., j]");
  m.def("dropout_forward", &corenn::dropout_forward, py::arg("x"), py::arg("y"), py::arg("mask"),
        py::arg("rate"), py::arg("seed"), release());
  m.def("dropout_backward", &corenn::dropout_backward, py::arg("dy"), py::arg("mask"),
        py::arg("dx"), release());
  m.def("regularizer_penalty", &corenn::regularizer_penalty, py::arg("w"), py::arg("grad"),
        py::arg("l1"), py::arg("l2"), release(),
        "l1 * sum|w| + l2 * sum w^2; adds the gradient into grad when given");
  m.def("gaussian_noise_forward", &corenn::gaussian_noise_forward, py::arg("x"), py::arg("y"),
        py::arg("stddev"), py::arg("seed"), release(), "y = x + stddev * N(0, 1) drawn from seed");
  m.def("gaussian_dropout_forward", &corenn::gaussian_dropout_forward, py::arg("x"), py::arg("y"),
        py::arg("mask"), py::arg("rate"), py::arg("seed"), release(),
        "mask = N(1, rate / (1 - rate)) drawn from seed, y = x * mask");
  m.def("alpha_dropout_forward", &corenn::alpha_dropout_forward, py::arg("x"), py::arg("y"),
        py::arg("mask"), py::arg("rate"), py::arg("seed"), release(),
        "alpha dropout (SELU-preserving); mask = dy/dx");
}

}  // namespace corenn::bindings
