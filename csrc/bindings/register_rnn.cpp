// _C bindings for the recurrent ops (wrapped by corenn.ops: lstm_*, gru_*, simple_rnn_*).
#include <pybind11/stl.h>

#include "bindings/register.h"
#include "ops/rnn.h"

namespace corenn::bindings {

namespace {

using OptTensor = std::optional<Tensor>;

RnnOptions options(const std::string& activation, const std::string& recurrent_activation,
                   bool go_backwards, bool return_sequences, bool output_in_input_order,
                   bool reset_after, const OptTensor& mask, const OptTensor& h0,
                   const OptTensor& c0) {
  return RnnOptions{activation, recurrent_activation, go_backwards, return_sequences,
                    output_in_input_order, reset_after, mask, h0, c0};
}

void def_cell(py::module_& m, RnnCell cell, const char* name) {
  using release = py::call_guard<py::gil_scoped_release>;
  const std::string fwd = std::string(name) + "_forward", bwd = std::string(name) + "_backward";
  m.def(fwd.c_str(),
        [cell](const Tensor& x, const Tensor& kernel, const Tensor& recurrent_kernel,
               const OptTensor& bias, const Tensor& y, const OptTensor& h_n, const OptTensor& c_n,
               const Tensor& gates, const Tensor& hprev, const OptTensor& cells,
               const std::string& activation, const std::string& recurrent_activation,
               bool go_backwards, bool return_sequences, bool output_in_input_order,
               bool reset_after, const OptTensor& mask, const OptTensor& h0, const OptTensor& c0) {
          rnn_forward(cell, x, kernel, recurrent_kernel, bias, y, h_n, c_n, gates, hprev, cells,
                      options(activation, recurrent_activation, go_backwards, return_sequences,
                              output_in_input_order, reset_after, mask, h0, c0));
        },
        py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"), py::arg("bias"), py::arg("y"),
        py::arg("h_n"), py::arg("c_n"), py::arg("gates"), py::arg("hprev"), py::arg("cells"),
        py::arg("activation"), py::arg("recurrent_activation"), py::arg("go_backwards"),
        py::arg("return_sequences"), py::arg("output_in_input_order"),
        py::arg("reset_after") = true, py::arg("mask") = py::none(), py::arg("h0") = py::none(),
        py::arg("c0") = py::none(), release(),
        "whole-sequence forward (from h0 / c0 when given, else zeros); writes y, the final states "
        "and the stash backward reads");
  m.def(bwd.c_str(),
        [cell](const Tensor& dy, const Tensor& x, const Tensor& kernel,
               const Tensor& recurrent_kernel, const Tensor& gates, const Tensor& hprev,
               const OptTensor& cells, const OptTensor& dx, const OptTensor& dkernel, const OptTensor& drecurrent_kernel,
               const OptTensor& dbias, const std::string& activation,
               const std::string& recurrent_activation, bool go_backwards, bool return_sequences,
               bool output_in_input_order, bool reset_after, const OptTensor& mask,
               const OptTensor& h0, const OptTensor& c0, const OptTensor& dh0, const OptTensor& dc0,
               const OptTensor& dc_n) {
          rnn_backward(cell, dy, x, kernel, recurrent_kernel, gates, hprev, cells, dx, dkernel, drecurrent_kernel, dbias,
                       options(activation, recurrent_activation, go_backwards, return_sequences,
                               output_in_input_order, reset_after, mask, h0, c0),
                       dh0, dc0, dc_n);
        },
        py::arg("dy"), py::arg("x"), py::arg("kernel"), py::arg("recurrent_kernel"),
        py::arg("gates"), py::arg("hprev"), py::arg("cells"), py::arg("dx"), py::arg("dkernel"), py::arg("drecurrent_kernel"),
        py::arg("dbias"), py::arg("activation"), py::arg("recurrent_activation"),
        py::arg("go_backwards"), py::arg("return_sequences"), py::arg("output_in_input_order"),
        py::arg("reset_after") = true, py::arg("mask") = py::none(), py::arg("h0") = py::none(),
        py::arg("c0") = py::none(), py::arg("dh0") = py::none(), py::arg("dc0") = py::none(),
        py::arg("dc_n") = py::none(), release(),
        "backpropagation through time: dx, dkernel, drecurrent_kernel, dbias, dh0, dc0 (each "
        "optional); dc_n seeds the final LSTM c");
}

}  // namespace

void register_rnn(py::module_& m) {
  def_cell(m, RnnCell::simple, "simple_rnn");
  def_cell(m, RnnCell::lstm, "lstm");
  def_cell(m, RnnCell::gru, "gru");
  using release = py::call_guard<py::gil_scoped_release>;
  m.def("lstm_cell_forward", &lstm_cell_forward, py::arg("z"), py::arg("c_prev"), py::arg("c"),
        py::arg("h"), py::arg("activation"), py::arg("recurrent_activation"), release(),
        "LSTM gate math over rows: z (R, 4U) activated in place, writes c and h (R, U)");
  m.def("lstm_cell_backward", &lstm_cell_backward, py::arg("gates"), py::arg("c"),
        py::arg("c_prev"), py::arg("dh"), py::arg("dc"), py::arg("dz"), py::arg("activation"),
        py::arg("recurrent_activation"), release(),
        "gradient of lstm_cell_forward: writes dz (R, 4U); dc carries dL/dc to the previous step");
}

}  // namespace corenn::bindings
