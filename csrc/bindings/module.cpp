// corenn._C: the compiled core. Only python/corenn/ops.py (and the Tensor re-export in
// __init__.py) import it; everything else goes through corenn.ops.
#include "bindings/register.h"
#include "core/check.h"

namespace py = pybind11;

PYBIND11_MODULE(_C, m) {
  m.doc() = "corenn compiled core (C++ kernels); use corenn.ops instead of importing this directly";

  // corenn::Error and its subclasses become the Python exceptions users expect. Most-derived first.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const corenn::TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const corenn::NotImplementedError& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what());
    } catch (const corenn::RuntimeError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const corenn::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  corenn::bindings::register_tensor(m);
  corenn::bindings::register_gemm(m);
  corenn::bindings::register_elementwise(m);
  corenn::bindings::register_loss(m);
  corenn::bindings::register_optimizer(m);
  corenn::bindings::register_norm(m);
  corenn::bindings::register_conv(m);
  corenn::bindings::register_pool(m);
  corenn::bindings::register_embedding(m);
  corenn::bindings::register_rnn(m);
  corenn::bindings::register_layout(m);
  corenn::bindings::register_tensor_math(m);
  corenn::bindings::register_attention(m);
  corenn::bindings::register_image(m);
}
