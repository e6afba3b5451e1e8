// Entry for the recurrent ops: checks every tensor against the shapes of ops/rnn.h (x fixes N, T,
// F; the kernel's columns fix U), then hands a plain RnnProblem to cpu/rnn.cpp.
#include "ops/rnn.h"

#include <vector>

#include "ops/elementwise_common.h"

namespace corenn {

CORENN_DEFINE_DISPATCH(RnnForwardFn, rnn_forward_stub, "rnn_forward");
CORENN_DEFINE_DISPATCH(RnnBackwardFn, rnn_backward_stub, "rnn_backward");
CORENN_DEFINE_DISPATCH(LstmCellForwardFn, lstm_cell_forward_stub, "lstm_cell_forward");
CORENN_DEFINE_DISPATCH(LstmCellBackwardFn, lstm_cell_backward_stub, "lstm_cell_backward");

namespace {

const char* op_name(RnnCell cell, bool forward) {
  switch (cell) {
    case RnnCell::lstm: return forward ? "lstm_forward" : "lstm_backward";
    case RnnCell::gru: return forward ? "gru_forward" : "gru_backward";
    default: return forward ? "simple_rnn_forward" : "simple_rnn_backward";
  }
}

int64_t gate_count(RnnCell cell) { return cell == RnnCell::lstm ? 4 : cell == RnnCell::gru ? 3 : 1; }

cpu::RnnAct parse_act(const char* op, const char* arg, const std::string& name) {
  if (name == "tanh") return cpu::RnnAct::tanh;
  if (name == "sigmoid") return cpu::RnnAct::sigmoid;
  if (name == "relu") return cpu::RnnAct::relu;
  if (name == "linear") return cpu::RnnAct::linear;
  throw NotImplementedError(detail::str_cat(op, ": ", arg, " '", name,
                                            "' is not supported; use tanh, sigmoid, relu or linear"));
}

void check_tensor(const char* op, const char* arg, const Tensor& t, const std::vector<int64_t>& shape,
                  const Tensor& x) {
  check_float32(op, arg, t);
  check_shape(op, arg, t, shape);
  check_same_device(op, "x", x, arg, t);
}

void check_opt(const char* op, const char* arg, const std::optional<Tensor>& t,
               const std::vector<int64_t>& shape, const Tensor& x) {
  if (t) check_tensor(op, arg, *t, shape, x);
}

// Outputs (and the stash the forward fills, the backward's scratch): also written.
void check_out(const char* op, const char* arg, const Tensor& t, const std::vector<int64_t>& shape,
               const Tensor& x) {
  check_tensor(op, arg, t, shape, x);
  check_writable(op, arg, t);
}

void check_opt_out(const char* op, const char* arg, const std::optional<Tensor>& t,
                   const std::vector<int64_t>& shape, const Tensor& x) {
  if (t) check_out(op, arg, *t, shape, x);
}

// Validates x and the weights; returns the problem with every dimension and pointer but the stash.
cpu::RnnProblem make_problem(RnnCell cell, const char* op, const Tensor& x, const Tensor& kernel,
                             const Tensor& recurrent_kernel, const RnnOptions& opt) {
  check_float32(op, "x", x);
  check_dim(op, "x", x, 3);
  check_nonempty(op, "x", x);
  check_float32(op, "kernel", kernel);
  check_dim(op, "kernel", kernel, 2);
  const int64_t g = gate_count(cell);
  const int64_t n = x.size(0), t = x.size(1), f = x.size(2);
  CORENN_CHECK(kernel.size(0) == f && kernel.size(1) > 0 && kernel.size(1) % g == 0, op,
               ": kernel must have shape (", f, ", ", g, " * units) for x of shape ", x.shape_str(),
               ", got ", kernel.shape_str());
  const int64_t u = kernel.size(1) / g;
  check_tensor(op, "kernel", kernel, {f, g * u}, x);
  check_tensor(op, "recurrent_kernel", recurrent_kernel, {u, g * u}, x);
  cpu::RnnProblem p{};
  p.cell = cell;
  p.n = n, p.t = t, p.f = f, p.u = u;
  p.act = parse_act(op, "activation", opt.activation);
  p.ract = parse_act(op, "recurrent_activation", opt.recurrent_activation);
  p.go_backwards = opt.go_backwards;
  p.return_sequences = opt.return_sequences;
  p.output_in_input_order = opt.output_in_input_order;
  p.reset_after = cell != RnnCell::gru || opt.reset_after;
  p.mask = nullptr;
  if (opt.mask) {
    check_tensor(op, "mask", *opt.mask, {n, t}, x);
    p.mask = opt.mask->data<float>();
  }
  if (opt.h0) {
    check_tensor(op, "h0", *opt.h0, {n, u}, x);
    p.h0 = opt.h0->data<float>();
  }
  if (opt.c0) {
    CORENN_CHECK(cell == RnnCell::lstm, op, ": c0 is for LSTM only");
    check_tensor(op, "c0", *opt.c0, {n, u}, x);
    p.c0 = opt.c0->data<float>();
  }
  p.x = x.data<float>();
  p.w = kernel.data<float>();
  p.r = recurrent_kernel.data<float>();
  return p;
}

std::vector<int64_t> bias_shape(RnnCell cell, int64_t u, bool reset_after = true) {
  if (cell == RnnCell::gru && reset_after) return {2, 3 * u};
  return {gate_count(cell) * u};
}

std::vector<int64_t> output_shape(const cpu::RnnProblem& p) {
  if (p.return_sequences) return {p.n, p.t, p.u};
  return {p.n, p.u};
}

// The stash (written by forward, read by backward): gates, hprev and, for LSTM / GRU, cells.
// The forward writes it (`written`), the backward only reads it.
void check_stash(RnnCell cell, const char* op, const Tensor& x, const cpu::RnnProblem& p,
                 const Tensor& gates, const Tensor& hprev, const std::optional<Tensor>& cells,
                 bool written) {
  const auto check = written ? check_out : check_tensor;
  check(op, "gates", gates, {p.n, p.t, p.gu()}, x);
  check(op, "hprev", hprev, {p.n, p.t, p.u}, x);
  if (cell != RnnCell::simple) {
    CORENN_CHECK(cells.has_value(), op, ": cells (", p.n, ", ", p.t, ", ", p.u, ") is required");
    check(op, "cells", *cells, {p.n, p.t, p.u}, x);
  }
}

void check_disjoint(const char* op, const std::vector<std::pair<const char*, const Tensor*>>& ts) {
  for (size_t i = 0; i < ts.size(); ++i)
    for (size_t j = i + 1; j < ts.size(); ++j)
      if (ts[i].second && ts[j].second)
        check_no_alias(op, ts[i].first, *ts[i].second, ts[j].first, *ts[j].second);
}

const Tensor* ptr_of(const std::optional<Tensor>& t) { return t ? &*t : nullptr; }

}  // namespace

void rnn_forward(RnnCell cell, const Tensor& x, const Tensor& kernel, const Tensor& recurrent_kernel,
                 const std::optional<Tensor>& bias, const Tensor& y,
                 const std::optional<Tensor>& h_n, const std::optional<Tensor>& c_n,
                 const Tensor& gates, const Tensor& hprev, const std::optional<Tensor>& cells,
                 const RnnOptions& opt) {
  const char* op = op_name(cell, true);
  cpu::RnnProblem p = make_problem(cell, op, x, kernel, recurrent_kernel, opt);
  rnn_forward_stub.check_device(x.device());
  p.keep_r = recurrent_kernel.storage().get();
  check_opt(op, "bias", bias, bias_shape(cell, p.u, p.reset_after), x);
  check_out(op, "y", y, output_shape(p), x);
  check_opt_out(op, "h_n", h_n, {p.n, p.u}, x);
  CORENN_CHECK(!c_n || cell == RnnCell::lstm, op, ": c_n is for LSTM only");
  check_opt_out(op, "c_n", c_n, {p.n, p.u}, x);
  check_stash(cell, op, x, p, gates, hprev, cells, true);
  const Tensor* cells_p = cell == RnnCell::simple ? nullptr : ptr_of(cells);
  // Outputs must not overlap each other nor the inputs.
  check_disjoint(op, {{"x", &x}, {"kernel", &kernel}, {"recurrent_kernel", &recurrent_kernel},
                        {"bias", ptr_of(bias)}, {"y", &y}, {"h_n", ptr_of(h_n)}, {"c_n", ptr_of(c_n)},
                        {"gates", &gates}, {"hprev", &hprev}, {"cells", cells_p},
                        {"mask", ptr_of(opt.mask)}, {"h0", ptr_of(opt.h0)}, {"c0", ptr_of(opt.c0)}});
  p.b = bias ? bias->data<float>() : nullptr;
  p.gates = gates.data<float>();
  p.hprev = hprev.data<float>();
  p.cells = cells_p ? cells_p->data<float>() : nullptr;
  rnn_forward_stub(x.device())(p, y.data<float>(), h_n ? h_n->data<float>() : nullptr,
                               c_n ? c_n->data<float>() : nullptr);
}

void rnn_backward(RnnCell cell, const Tensor& dy, const Tensor& x, const Tensor& kernel,
                  const Tensor& recurrent_kernel, const Tensor& gates, const Tensor& hprev,
                  const std::optional<Tensor>& cells, const std::optional<Tensor>& dx,
                  const std::optional<Tensor>& dkernel,
                  const std::optional<Tensor>& drecurrent_kernel,
                  const std::optional<Tensor>& dbias, const RnnOptions& opt,
                  const std::optional<Tensor>& dh0, const std::optional<Tensor>& dc0,
                  const std::optional<Tensor>& dc_n) {
  const char* op = op_name(cell, false);
  cpu::RnnProblem p = make_problem(cell, op, x, kernel, recurrent_kernel, opt);
  rnn_backward_stub.check_device(x.device());
  check_tensor(op, "dy", dy, output_shape(p), x);
  check_stash(cell, op, x, p, gates, hprev, cells, false);
  check_opt_out(op, "dx", dx, {p.n, p.t, p.f}, x);
  check_opt_out(op, "dkernel", dkernel, {p.f, p.gu()}, x);
  check_opt_out(op, "drecurrent_kernel", drecurrent_kernel, {p.u, p.gu()}, x);
  check_opt_out(op, "dbias", dbias, bias_shape(cell, p.u, p.reset_after), x);
  CORENN_CHECK(!dh0 || opt.h0, op, ": dh0 (the gradient of h0) needs h0");
  check_opt_out(op, "dh0", dh0, {p.n, p.u}, x);
  CORENN_CHECK(!dc0 || opt.c0, op, ": dc0 (the gradient of c0) needs c0");
  check_opt_out(op, "dc0", dc0, {p.n, p.u}, x);
  CORENN_CHECK(!dc_n || cell == RnnCell::lstm, op, ": dc_n is for LSTM only");
  check_opt(op, "dc_n", dc_n, {p.n, p.u}, x);
  const Tensor* cells_p = cell == RnnCell::simple ? nullptr : ptr_of(cells);
  check_disjoint(op, {{"dy", &dy}, {"x", &x}, {"kernel", &kernel},
                        {"recurrent_kernel", &recurrent_kernel}, {"gates", &gates},
                        {"hprev", &hprev}, {"cells", cells_p},
                        {"dx", ptr_of(dx)}, {"dkernel", ptr_of(dkernel)},
                        {"drecurrent_kernel", ptr_of(drecurrent_kernel)}, {"dbias", ptr_of(dbias)},
                        {"h0", ptr_of(opt.h0)}, {"c0", ptr_of(opt.c0)}, {"dh0", ptr_of(dh0)},
                        {"dc0", ptr_of(dc0)}, {"dc_n", ptr_of(dc_n)}});
  p.b = nullptr;
  p.gates = gates.data<float>();
  p.hprev = hprev.data<float>();
  p.cells = cells_p ? cells_p->data<float>() : nullptr;
  auto out = [](const std::optional<Tensor>& t) { return t ? t->data<float>() : nullptr; };
  rnn_backward_stub(x.device())(p, dy.data<float>(), out(dx), out(dkernel),
                                out(drecurrent_kernel), out(dbias), out(dh0), out(dc0),
                                dc_n ? dc_n->data<float>() : nullptr);
}

namespace {

// z / gates (R, 4U) fix R and U; the activations are parsed as the sequence ops do.
cpu::LstmCellProblem make_cell_problem(const char* op, const char* arg, const Tensor& z,
                                       const std::string& activation,
                                       const std::string& recurrent_activation) {
  check_float32(op, arg, z);
  check_dim(op, arg, z, 2);
  CORENN_CHECK(z.size(1) % 4 == 0, op, ": ", arg, " must have shape (rows, 4 * units), got ",
               z.shape_str());
  return cpu::LstmCellProblem{z.size(0), z.size(1) / 4,
                              parse_act(op, "activation", activation),
                              parse_act(op, "recurrent_activation", recurrent_activation)};
}

}  // namespace

void lstm_cell_forward(const Tensor& z, const std::optional<Tensor>& c_prev, const Tensor& c,
                       const Tensor& h, const std::string& activation,
                       const std::string& recurrent_activation) {
  const char* op = "lstm_cell_forward";
  const cpu::LstmCellProblem p = make_cell_problem(op, "z", z, activation, recurrent_activation);
  lstm_cell_forward_stub.check_device(z.device());
  check_writable(op, "z", z);
  check_opt(op, "c_prev", c_prev, {p.rows, p.u}, z);
  check_out(op, "c", c, {p.rows, p.u}, z);
  check_out(op, "h", h, {p.rows, p.u}, z);
  check_disjoint(op, {{"z", &z}, {"c_prev", ptr_of(c_prev)}, {"c", &c}, {"h", &h}});
  lstm_cell_forward_stub(z.device())(p, z.data<float>(), c_prev ? c_prev->data<float>() : nullptr,
                                     c.data<float>(), h.data<float>());
}

void lstm_cell_backward(const Tensor& gates, const Tensor& c, const std::optional<Tensor>& c_prev,
                        const Tensor& dh, const Tensor& dc, const Tensor& dz,
                        const std::string& activation, const std::string& recurrent_activation) {
  const char* op = "lstm_cell_backward";
  const cpu::LstmCellProblem p =
      make_cell_problem(op, "gates", gates, activation, recurrent_activation);
  lstm_cell_backward_stub.check_device(gates.device());
  check_tensor(op, "c", c, {p.rows, p.u}, gates);
  check_opt(op, "c_prev", c_prev, {p.rows, p.u}, gates);
  check_tensor(op, "dh", dh, {p.rows, p.u}, gates);
  check_out(op, "dc", dc, {p.rows, p.u}, gates);
  check_out(op, "dz", dz, {p.rows, 4 * p.u}, gates);
  check_disjoint(op, {{"gates", &gates}, {"c", &c}, {"c_prev", ptr_of(c_prev)}, {"dh", &dh},
                        {"dc", &dc}, {"dz", &dz}});
  lstm_cell_backward_stub(gates.device())(p, gates.data<float>(), c.data<float>(),
                                          c_prev ? c_prev->data<float>() : nullptr,
                                          dh.data<float>(), dc.data<float>(), dz.data<float>());
}

}  // namespace corenn
