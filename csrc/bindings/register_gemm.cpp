// _C.gemm: see ops/gemm.h. Tensors are converted with the GIL held, the kernel runs without it.
#include <pybind11/stl.h>

#include "bindings/register.h"
#include "ops/gemm.h"

namespace corenn::bindings {

void register_gemm(py::module_& m) {
  m.def("gemm", &corenn::gemm, py::arg("a"), py::arg("b"), py::arg("c"), py::arg("trans_a"),
        py::arg("trans_b"), py::arg("alpha"), py::arg("beta"), py::arg("bias"),
        py::arg("activation"), py::call_guard<py::gil_scoped_release>(),
        "C := act(alpha * op(A) @ op(B) + beta * C + bias), in place on c.");
}

}  // namespace corenn::bindings
