// _C bindings for losses and accuracy counts (wrapped by corenn.ops).
#include <pybind11/stl.h>

#include "bindings/register.h"
#include "ops/accuracy.h"
#include "ops/ctc.h"
#include "ops/loss.h"

namespace corenn::bindings {

void register_loss(py::module_& m) {
  using release = py::call_guard<py::gil_scoped_release>;
  m.def("loss_forward", &corenn::loss_forward, py::arg("kind"), py::arg("y_pred"),
        py::arg("y_true"), py::arg("grad"), py::arg("from_logits") = false,
        py::arg("delta") = 1.0, py::arg("sample_weight") = py::none(),
        py::arg("per_sample") = py::none(), py::arg("focal_alpha") = 0.25,
        py::arg("focal_gamma") = 2.0, py::arg("class_balancing") = false, release(),
        "Mean-reduced Keras loss; writes d(loss)/d(y_pred) into grad and the unweighted "
        "per-row losses into per_sample when given");
  m.def("accuracy_count", &corenn::accuracy_count, py::arg("kind"), py::arg("y_pred"),
        py::arg("y_true"), py::arg("threshold") = 0.5, py::arg("k") = 5,
        py::arg("per_row") = py::none(), release());
  m.def("ctc_loss", &corenn::ctc_loss, py::arg("logits"), py::arg("labels"), py::arg("label_lengths"),
        py::arg("logit_lengths"), py::arg("blank"), py::arg("loss"), py::arg("grad"), release(),
        "CTC loss per sample of logits (B, T, K) and its gradient w.r.t. the logits (written to "
        "loss (B,) and grad (B, T, K))");
  m.def("confusion_counts", &corenn::confusion_counts, py::arg("y_pred"), py::arg("y_true"),
        py::arg("thresholds"), py::arg("soft_labels") = false,
        py::arg("sample_weight") = py::none(), release(),
        "[tp, fp, tn, fn] per ascending threshold, flattened (4 * T doubles)");
}

}  // namespace corenn::bindings
