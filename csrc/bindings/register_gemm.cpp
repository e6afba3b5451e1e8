#include "bindings/register.h"

namespace corenn::bindings {

void register_gemm(py::module_& m) {}

}  // namespace corenn::bindings
