#include "core/cpu_features.h"

#include <cstdlib>

#include "core/check.h"

namespace corenn {

bool cpu_has_avx2_fma() {
#if defined(CORENN_X86_64) && (defined(__GNUC__) || defined(__clang__))
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
#else
  return false;
#endif
}

namespace {
Isa detect() {
  const char* forced = std::getenv("CORENN_ISA");
  if (forced && std::string(forced) == "ref") return Isa::ref;
  return cpu_has_avx2_fma() ? Isa::avx2 : Isa::ref;
}
Isa g_isa = detect();
}  // namespace

Isa active_isa() { return g_isa; }

const char* isa_name(Isa isa) { return isa == Isa::avx2 ? "avx2" : "ref"; }

void set_isa(const std::string& name) {
  if (name == "ref") {
    g_isa = Isa::ref;
  } else if (name == "avx2") {
    CORENN_CHECK(cpu_has_avx2_fma(), "set_isa: this CPU has no AVX2/FMA");
    g_isa = Isa::avx2;
  } else if (name == "auto") {
    g_isa = cpu_has_avx2_fma() ? Isa::avx2 : Isa::ref;
  } else {
    throw Error("set_isa: unknown ISA '" + name + "', expected 'ref', 'avx2' or 'auto'");
  }
}

}  // namespace corenn
