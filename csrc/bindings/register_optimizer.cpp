#include "bindings/register.h"

namespace corenn::bindings {

void register_optimizer(py::module_& m) {}

}  // namespace corenn::bindings
