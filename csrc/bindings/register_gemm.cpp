// _C.gemm: see ops/gemm.h. Tensors are converted with the GIL held, the kernel runs without it.
#include <pybind11/stl.h>

#include "bindings/register.h"
#include "core/tensor.h"
#include "cpu/gemm/gemm.h"
#include "cpu/isa_kernels.h"
#include "ops/gemm.h"
#include "ops/int8_gemm.h"

namespace corenn::bindings {

void register_gemm(py::module_& m) {
  m.def("gemm", &corenn::gemm, py::arg("a"), py::arg("b"), py::arg("c"), py::arg("trans_a"),
        py::arg("trans_b"), py::arg("alpha"), py::arg("beta"), py::arg("bias"),
        py::arg("activation"), py::arg("keep_b_packed") = false,
        py::call_guard<py::gil_scoped_release>(),
        "C := act(alpha * op(A) @ op(B) + beta * C + bias), in place on c. keep_b_packed: b is a "
        "weight multiplied again by later calls; its packed panels are kept on it, keyed by its "
        "write version (the result is the same).");
  m.def("int8_gemm", &corenn::int8_gemm, py::arg("a"), py::arg("b"), py::arg("c"),
        py::call_guard<py::gil_scoped_release>(),
        "c = a @ b exactly: a (M, K), b (K, N) int8 tensors (or int32 tensors of int8 values), c (M, N) int32.");
  m.def("quantized_matmul", &corenn::quantized_matmul, py::arg("x"), py::arg("kernel"),
        py::arg("kernel_scale"), py::arg("bias"), py::arg("y"), py::arg("keep") = false,
        py::arg("relu") = false, py::call_guard<py::gil_scoped_release>(),
        "y = (q(x) @ kernel) / (s_x * kernel_scale) + bias (then relu when relu): x's rows abs-max quantized to int8, "
        "kernel the int8 Tensor of an int8-quantized kernel (ops/int8_gemm.h). keep: kernel "
        "is a weight read again by later calls; its packed form is kept on it, keyed by its write "
        "version (the result is the same).");
#ifdef CORENN_X86_64
  m.def("_set_int8_gemm_vnni", &cpu::set_int8_gemm_vnni, py::arg("on"),
        "Test hook: the avx512 int8 tiles with VPDPWSSD (on, where the CPU has VNNI) or VPMADDWD; "
        "returns whether VNNI is in use.");
#endif
  // Test hooks of the packed-weight cache (cpu/gemm/packed_b_cache.cpp).
  m.def("_packed_b_stats", [] {
    const cpu::gemm::PackedBStats s = cpu::gemm::packed_b_stats();
    py::dict d;
    d["hits"] = s.hits;
    d["packs"] = s.packs;
    d["first_sights"] = s.first_sights;
    d["untrusted"] = s.untrusted;
    return d;
  });
  m.def("_packed_b_bytes",
        [](const Tensor& t) { return t.storage() ? cpu::gemm::packed_b_bytes(*t.storage()) : 0; },
        py::arg("tensor"), "Bytes of the packed copy kept on this tensor's storage (0: none).");
  // ... and of the kept int8 kernels (cpu/int8_kept_kernel.cpp).
  m.def("_int8_kept_stats", [] {
    const cpu::Int8KeptStats s = cpu::int8_kept_stats();
    py::dict d;
    d["hits"] = s.hits;
    d["makes"] = s.makes;
    d["untrusted"] = s.untrusted;
    return d;
  });
  m.def("_int8_kept_bytes",
        [](const Tensor& t) { return t.storage() ? cpu::int8_kept_bytes(*t.storage()) : 0; },
        py::arg("tensor"), "Bytes of the int8 kernel kept on this tensor's storage (0: none).");
}

}  // namespace corenn::bindings
