// _C bindings for pooling and zero padding (wrapped by corenn.ops).
#include <pybind11/stl.h>

#include "bindings/register.h"
#include "ops/pad2d.h"
#include "ops/pool2d.h"
#include "ops/pool3d.h"

namespace corenn::bindings {

void register_pool(py::module_& m) {
  using release = py::call_guard<py::gil_scoped_release>;
  m.def("max_pool2d_forward", &corenn::max_pool2d_forward, py::arg("x"), py::arg("y"),
        py::arg("argmax"), py::arg("pool_size"), py::arg("strides"), py::arg("padding"), release(),
        "y = window max of x (NHWC); argmax = h*W + w of the first max");
  m.def("max_pool2d_backward", &corenn::max_pool2d_backward, py::arg("dy"), py::arg("argmax"),
        py::arg("dx"), py::arg("pool_size"), py::arg("strides"), py::arg("padding"), release(),
        "dx = dy routed to each window's argmax (overwrites dx)");
  m.def("avg_pool2d_forward", &corenn::avg_pool2d_forward, py::arg("x"), py::arg("y"),
        py::arg("pool_size"), py::arg("strides"), py::arg("padding"), release(),
        "y = window mean of x over real (unpadded) cells");
  m.def("avg_pool2d_backward", &corenn::avg_pool2d_backward, py::arg("dy"), py::arg("dx"),
        py::arg("pool_size"), py::arg("strides"), py::arg("padding"), release());
  m.def("pool2d_output_hw",
        [](int64_t h, int64_t w, const std::vector<int64_t>& pool_size,
           const std::vector<int64_t>& strides, const std::string& padding, const std::string& op) {
          return corenn::pool2d_output_hw(op.c_str(), h, w, pool_size, strides, padding);
        },
        py::arg("h"), py::arg("w"), py::arg("pool_size"), py::arg("strides"), py::arg("padding"),
        py::arg("op") = "pool2d", "(OH, OW); raises naming op when the window does not fit");
  // 3-D pooling (ops/pool3d.h): pool_size and strides are (D, H, W) triples.
  m.def("max_pool3d_forward", &corenn::max_pool3d_forward, py::arg("x"), py::arg("y"),
        py::arg("argmax"), py::arg("pool_size"), py::arg("strides"), py::arg("padding"), release(),
        "y = window max of x (NDHWC); argmax = (d*H + h)*W + w of the first max");
  m.def("max_pool3d_backward", &corenn::max_pool3d_backward, py::arg("dy"), py::arg("argmax"),
        py::arg("dx"), py::arg("pool_size"), py::arg("strides"), py::arg("padding"), release(),
        "dx = dy routed to each window's argmax (overwrites dx)");
  m.def("avg_pool3d_forward", &corenn::avg_pool3d_forward, py::arg("x"), py::arg("y"),
        py::arg("pool_size"), py::arg("strides"), py::arg("padding"), release(),
        "y = mean over each window's real cells of x (NDHWC)");
  m.def("avg_pool3d_backward", &corenn::avg_pool3d_backward, py::arg("dy"), py::arg("dx"),
        py::arg("pool_size"), py::arg("strides"), py::arg("padding"), release(),
        "dx = sum over covering windows of dy / count (overwrites dx)");
  m.def("pool3d_output_dhw",
        [](const std::vector<int64_t>& dhw, const std::vector<int64_t>& pool_size,
           const std::vector<int64_t>& strides, const std::string& padding, const std::string& op) {
          return corenn::pool3d_output_dhw(op.c_str(), dhw, pool_size, strides, padding);
        },
        py::arg("dhw"), py::arg("pool_size"), py::arg("strides"), py::arg("padding"),
        py::arg("op") = "pool3d", "(OD, OH, OW); raises naming op when the window does not fit");
  m.def("global_avg_pool2d_forward", &corenn::global_avg_pool2d_forward, py::arg("x"), py::arg("y"),
        release());
  m.def("global_avg_pool2d_backward", &corenn::global_avg_pool2d_backward, py::arg("dy"),
        py::arg("dx"), release());
  m.def("global_max_pool2d_forward", &corenn::global_max_pool2d_forward, py::arg("x"), py::arg("y"),
        py::arg("argmax"), release());
  m.def("global_max_pool2d_backward", &corenn::global_max_pool2d_backward, py::arg("dy"),
        py::arg("argmax"), py::arg("dx"), release());
  m.def("zero_pad2d_forward", &corenn::zero_pad2d_forward, py::arg("x"), py::arg("y"),
        py::arg("top"), py::arg("bottom"), py::arg("left"), py::arg("right"), release());
  m.def("zero_pad2d_backward", &corenn::zero_pad2d_backward, py::arg("dy"), py::arg("dx"),
        py::arg("top"), py::arg("bottom"), py::arg("left"), py::arg("right"), release());
}

}  // namespace corenn::bindings
