#include "core/cpu_features.h"

#include <cstdlib>

#include "core/check.h"

namespace corenn {

bool cpu_has_avx2_fma() {
#if defined(CORENN_X86_64) && (defined(__GNUC__) || defined(__clang__))
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
#else
  return false;  // no AVX2 kernels in this build (they are compiled only on x86-64)
#endif
}

namespace {

// Why AVX2 cannot run here, for error messages and the CORENN_ISA note.
std::string no_avx2_reason() {
#ifdef CORENN_X86_64
  return "this CPU has no AVX2/FMA";
#else
  return "this build has no AVX2 kernels (they exist only for x86-64 CPUs)";
#endif
}

Isa best_isa() { return cpu_has_avx2_fma() ? Isa::avx2 : Isa::ref; }

std::string g_env_note;  // defined before g_isa: detect() writes it during static init

Isa detect() {
  const char* env = std::getenv("CORENN_ISA");
  const std::string forced = env ? env : "";
  if (forced.empty() || forced == "auto") return best_isa();
  if (forced == "ref") return Isa::ref;
  if (forced == "avx2" && cpu_has_avx2_fma()) return Isa::avx2;
  const Isa isa = best_isa();
  g_env_note = "corenn: CORENN_ISA=" + forced + " ignored (" +
               (forced == "avx2" ? no_avx2_reason()
                                 : std::string("expected 'ref', 'avx2' or 'auto'")) +
               "); using the '" + isa_name(isa) + "' kernels";
  return isa;
}

Isa g_isa = detect();

}  // namespace

Isa active_isa() { return g_isa; }

const char* isa_name(Isa isa) { return isa == Isa::avx2 ? "avx2" : "ref"; }

const std::string& isa_env_note() { return g_env_note; }

void set_isa(const std::string& name) {
  if (name == "ref") {
    g_isa = Isa::ref;
  } else if (name == "avx2") {
    CORENN_CHECK(cpu_has_avx2_fma(), "set_isa('avx2'): " + no_avx2_reason());
    g_isa = Isa::avx2;
  } else if (name == "auto") {
    g_isa = best_isa();
  } else {
    throw Error("set_isa: unknown ISA '" + name + "', expected 'ref', 'avx2' or 'auto'");
  }
}

}  // namespace corenn
