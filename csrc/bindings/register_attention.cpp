// _C bindings for the attention kernels (wrapped by corenn.kernels.masked_softmax_*).
#include <pybind11/stl.h>

#include "bindings/register.h"
#include "ops/additive_attention.h"
#include "ops/attention.h"

namespace corenn::bindings {

void register_attention(py::module_& m) {
  using release = py::call_guard<py::gil_scoped_release>;
  m.def("masked_softmax_forward", &corenn::masked_softmax_forward, py::arg("scores"),
        py::arg("probs"), py::arg("attention_mask"), py::arg("query_mask"), py::arg("key_mask"),
        py::arg("causal"), py::arg("scale"), py::arg("dropout_rate"), py::arg("seed"),
        py::arg("dropped"), release(),
        "probs = softmax(scale * scores) over the allowed keys of each row (masks, causal), 0 "
        "elsewhere; dropped = probs with dropout when dropout_rate > 0");
  m.def("masked_softmax_backward", &corenn::masked_softmax_backward, py::arg("probs"),
        py::arg("dprobs"), py::arg("dscores"), py::arg("scale"), py::arg("dropout_rate"),
        py::arg("dropped"), release(), "dscores of masked_softmax_forward");
  m.def("additive_attention_scores_forward", &corenn::additive_attention_scores_forward,
        py::arg("query"), py::arg("key"), py::arg("w"), py::arg("alpha"), py::arg("scores"),
        release(), "scores[n,i,j] = sum_d w[d] tanh(alpha (query[n,i,d] + key[n,j,d]))");
  m.def("additive_attention_scores_backward", &corenn::additive_attention_scores_backward,
        py::arg("dscores"), py::arg("query"), py::arg("key"), py::arg("w"), py::arg("alpha"),
        py::arg("dquery"), py::arg("dkey"), py::arg("dw"), py::arg("dalpha"), release(),
        "dquery, dkey, dw, dalpha (each optional) of additive_attention_scores_forward");
}

}  // namespace corenn::bindings
