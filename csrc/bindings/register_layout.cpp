// _C bindings for the data-movement ops (wrapped by corenn.kernels): transpose, repeat_vector,
// upsample2d. Tensors are converted with the GIL held, kernels run without it.
#include <pybind11/stl.h>

#include "bindings/register.h"
#include "ops/repeat_vector.h"
#include "ops/transpose.h"
#include "ops/upsample2d.h"

namespace corenn::bindings {

void register_layout(py::module_& m) {
  using release = py::call_guard<py::gil_scoped_release>;
  m.def("transpose", &corenn::transpose, py::arg("x"), py::arg("perm"), py::arg("y"), release(),
        "y := x with its axes permuted: y.shape[d] = x.shape[perm[d]]; in place on y.");
  m.def("repeat_vector_forward", &corenn::repeat_vector_forward, py::arg("x"), py::arg("y"),
        release(), "y[b, r, :] := x[b, :] for x (N, D), y (N, n, D).");
  m.def("repeat_vector_backward", &corenn::repeat_vector_backward, py::arg("dy"), py::arg("dx"),
        release(), "dx[b, :] := sum_r dy[b, r, :].");
  m.def("upsample2d_forward", &corenn::upsample2d_forward, py::arg("x"), py::arg("y"),
        py::arg("sh"), py::arg("sw"), py::arg("interpolation"), release(),
        "y := x (N, H, W, C) upsampled to (N, H*sh, W*sw, C), 'nearest' or 'bilinear'.");
  m.def("upsample2d_backward", &corenn::upsample2d_backward, py::arg("dy"), py::arg("dx"),
        py::arg("sh"), py::arg("sw"), py::arg("interpolation"), release(),
        "dx := gradient of upsample2d_forward given dy.");
}

}  // namespace corenn::bindings
