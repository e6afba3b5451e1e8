// _C bindings for tensor math: binary / unary elementwise, reductions, sum_n / scale,
// concat / split, batched_matmul, and the shape rules the wrappers use to size outputs (wrapped
// by corenn.kernels).
#include <pybind11/stl.h>

#include "bindings/register.h"
#include "ops/batched_matmul.h"
#include "ops/binary.h"
#include "ops/concat.h"
#include "ops/reduce.h"
#include "ops/sum_n.h"
#include "ops/unary.h"

namespace corenn::bindings {

void register_tensor_math(py::module_& m) {
  using release = py::call_guard<py::gil_scoped_release>;
  using py::arg;
  m.def("binary_output_shape", &corenn::binary_output_shape, arg("op"), arg("a"), arg("b"),
        "broadcast(a, b) (NumPy's rule); ValueError naming op");
  m.def("binary_forward", &corenn::binary_forward, arg("kind"), arg("a"), arg("b"), arg("y"),
        release(), "y = a (kind) b with broadcasting");
  m.def("binary_backward", &corenn::binary_backward, arg("kind"), arg("a"), arg("b"), arg("dy"),
        arg("da"), arg("db"), release(), "da, db reduced to a's and b's shapes");
  m.def("unary_forward", &corenn::unary_forward, arg("kind"), arg("x"), arg("y"), release());
  m.def("unary_backward", &corenn::unary_backward, arg("kind"), arg("x"), arg("y"), arg("dy"),
        arg("dx"), release());
  m.def("reduce_output_shape", &corenn::reduce_output_shape, arg("op"), arg("shape"), arg("axes"),
        arg("keepdims"));
  m.def("reduce_forward", &corenn::reduce_forward, arg("kind"), arg("x"), arg("axes"),
        arg("keepdims"), arg("y"), release());
  m.def("reduce_backward", &corenn::reduce_backward, arg("kind"), arg("x"), arg("y"), arg("dy"),
        arg("axes"), arg("keepdims"), arg("dx"), release());
  m.def("sum_n", &corenn::sum_n, arg("xs"), arg("y"), release());
  m.def("scale", &corenn::scale, arg("x"), arg("alpha"), arg("y"), release());
  m.def("sum_n_relu_grad", &corenn::sum_n_relu_grad, arg("dys"), arg("y"), arg("dz"), release());
  m.def("concat", &corenn::concat, arg("xs"), arg("axis"), arg("y"), release());
  m.def("split", &corenn::split, arg("x"), arg("axis"), arg("ys"), release());
  m.def("batched_matmul_output_shape", &corenn::batched_matmul_output_shape, arg("a"), arg("b"),
        arg("trans_a"), arg("trans_b"));
  m.def("batched_matmul", &corenn::batched_matmul, arg("a"), arg("b"), arg("y"), arg("trans_a"),
        arg("trans_b"), release());
}

}  // namespace corenn::bindings
