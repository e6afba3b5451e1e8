#include "bindings/register.h"

namespace corenn::bindings {

void register_elementwise(py::module_& m) {}

}  // namespace corenn::bindings
