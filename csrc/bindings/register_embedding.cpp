// _C bindings for the embedding lookup (wrapped by corenn.ops).
#include "bindings/register.h"
#include "ops/embedding.h"

namespace corenn::bindings {

void register_embedding(py::module_& m) {
  using release = py::call_guard<py::gil_scoped_release>;
  m.def("embedding_forward", &corenn::embedding_forward, py::arg("indices"), py::arg("weight"),
        py::arg("y"), release(), "y[..., :] = weight[indices[...], :]; indices checked first");
  m.def("embedding_backward", &corenn::embedding_backward, py::arg("indices"), py::arg("dy"),
        py::arg("dweight"), release(),
        "dweight = 0, then dweight[indices[i]] += dy[i] (overwrites dweight)");
}

}  // namespace corenn::bindings
