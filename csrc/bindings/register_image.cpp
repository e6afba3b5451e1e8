// _C bindings for the image preprocessing ops (wrapped by corenn.kernels): resize2d,
// image_transform and the greedy NMS loop of tf.image.non_max_suppression. Tensors are converted with the GIL held, kernels run without it.
#include "bindings/register.h"
#include "ops/image_transform.h"
#include "ops/nms.h"
#include "ops/resize2d.h"

namespace corenn::bindings {

void register_image(py::module_& m) {
  using release = py::call_guard<py::gil_scoped_release>;
  m.def("resize2d_forward", &corenn::resize2d_forward, py::arg("x"), py::arg("y"), py::arg("top"),
        py::arg("left"), py::arg("height"), py::arg("width"), py::arg("interpolation"), release(),
        "y := the window (top, left, height, width) of x (N, H, W, C) resized to y's (OH, OW).");
  m.def("resize2d_backward", &corenn::resize2d_backward, py::arg("dy"), py::arg("dx"),
        py::arg("top"), py::arg("left"), py::arg("height"), py::arg("width"),
        py::arg("interpolation"), release(), "dx := gradient of resize2d_forward given dy.");
  m.def("image_transform_forward", &corenn::image_transform_forward, py::arg("x"),
        py::arg("transforms"), py::arg("y"), py::arg("interpolation"), py::arg("fill_mode"),
        py::arg("fill_value"), release(),
        "y := x (N, H, W, C) warped by one projective transform (N, 8) per sample.");
  m.def("image_transform_backward", &corenn::image_transform_backward, py::arg("dy"),
        py::arg("transforms"), py::arg("dx"), py::arg("interpolation"), py::arg("fill_mode"),
        release(), "dx := gradient of image_transform_forward with respect to x, given dy.");
  m.def("nms_greedy", &corenn::nms_greedy, py::arg("boxes"), py::arg("order"), py::arg("keep"),
        py::arg("max_output"), py::arg("iou_threshold"), release(),
        "keep[:count] := the candidates (order, best first) greedy NMS keeps; returns count.");
}

}  // namespace corenn::bindings
