#include "bindings/register.h"

namespace corenn::bindings {

void register_loss(py::module_& m) {}

}  // namespace corenn::bindings
