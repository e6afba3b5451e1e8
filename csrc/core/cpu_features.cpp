#include "core/cpu_features.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/check.h"

#if defined(CORENN_X86_64) && (defined(__GNUC__) || defined(__clang__))
#define CORENN_HAVE_CPUID 1
#include <cpuid.h>
#endif

namespace corenn {

namespace {

struct Features {
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512vl = false, avx512bw = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false;
  bool os_avx = false, os_zmm = false;  // XCR0: YMM state / opmask + ZMM state saved by the OS
};

#ifdef CORENN_HAVE_CPUID
// XGETBV through inline assembly: the intrinsic needs -mxsave, and this file is baseline x86-64.
uint64_t xgetbv0() {
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}
#endif

Features read_features() {
  Features f;
#ifdef CORENN_HAVE_CPUID
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  f.sse42 = c & (1u << 20);
  f.fma = c & (1u << 12);
  f.avx = c & (1u << 28);
  f.f16c = c & (1u << 29);
  const bool osxsave = c & (1u << 27);
  if (osxsave) {
    const uint64_t xcr0 = xgetbv0();
    f.os_avx = (xcr0 & 0x6) == 0x6;            // bits 1, 2: SSE and AVX (YMM upper) state
    f.os_zmm = f.os_avx && (xcr0 & 0xE0) == 0xE0;  // bits 5, 6, 7: opmask, ZMM0-15 hi, ZMM16-31
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = b & (1u << 5);
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512vnni = c & (1u << 11);
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx512bf16 = a & (1u << 5);
#endif
  return f;
}

const Features& features() {
  static const Features f = read_features();
  return f;
}

}  // namespace

bool cpu_has_avx2_fma() {
  const Features& f = features();
  return f.avx && f.avx2 && f.fma && f.os_avx;
}

bool cpu_has_avx512() {
  const Features& f = features();
  return cpu_has_avx2_fma() && f.avx512f && f.avx512vl && f.avx512bw && f.avx512dq && f.os_zmm;
}

bool cpu_has_avx512_vnni() { return cpu_has_avx512() && features().avx512vnni; }

std::string cpu_model_name() {
#ifdef CORENN_HAVE_CPUID
  unsigned regs[12] = {};
  unsigned max_ext = __get_cpuid_max(0x80000000u, nullptr);
  if (max_ext < 0x80000004u) return "";
  for (unsigned i = 0; i < 3; ++i)
    __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]);
  char name[49] = {};
  std::memcpy(name, regs, 48);
  std::string s(name);
  const size_t first = s.find_first_not_of(' '), last = s.find_last_not_of(' ');
  return first == std::string::npos ? "" : s.substr(first, last - first + 1);
#else
  return "";
#endif
}

std::vector<std::string> cpu_feature_names() {
  const Features& f = features();
  std::vector<std::string> out;
  const std::pair<bool, const char*> all[] = {
      {f.sse42, "sse4.2"},         {f.avx && f.os_avx, "avx"},
      {f.avx2 && f.os_avx, "avx2"}, {f.fma && f.os_avx, "fma"},
      {f.f16c, "f16c"},            {f.avx512f && f.os_zmm, "avx512f"},
      {f.avx512vl && f.os_zmm, "avx512vl"}, {f.avx512bw && f.os_zmm, "avx512bw"},
      {f.avx512dq && f.os_zmm, "avx512dq"}, {f.avx512vnni && f.os_zmm, "avx512vnni"},
      {f.avx512bf16 && f.os_zmm, "avx512bf16"}};
  for (const auto& [has, name] : all)
    if (has) out.emplace_back(name);
  return out;
}

namespace {

#ifdef CORENN_X86_64
constexpr bool kX86Build = true;
#else
constexpr bool kX86Build = false;
#endif

// Why an ISA cannot run here, for error messages and the CORENN_ISA note.
std::string unsupported_reason(const std::string& name) {
  if (!kX86Build) return "this build has no " + name + " kernels (they exist only for x86-64 CPUs)";
  if (name == "avx2") return "this CPU has no AVX2/FMA";
  return "this CPU (or its OS) has no AVX-512 F/VL/BW/DQ with ZMM state";
}

bool supported(Isa isa) {
  if (isa == Isa::ref) return true;
  if (!kX86Build) return false;
  return isa == Isa::avx2 ? cpu_has_avx2_fma() : cpu_has_avx512();
}

Isa best_isa() {
  if (supported(Isa::avx512)) return Isa::avx512;
  if (supported(Isa::avx2)) return Isa::avx2;
  return Isa::ref;
}

bool parse(const std::string& name, Isa* isa) {
  if (name == "ref") *isa = Isa::ref;
  else if (name == "avx2") *isa = Isa::avx2;
  else if (name == "avx512") *isa = Isa::avx512;
  else return false;
  return true;
}

std::string g_env_note;  // defined before g_isa: detect() writes them during static init
std::string g_reason;

Isa detect() {
  const char* env = std::getenv("CORENN_ISA");
  const std::string forced = env ? env : "";
  if (forced.empty() || forced == "auto") {
    g_reason = forced.empty() ? "auto (best this CPU has)" : "auto (CORENN_ISA=auto)";
    return best_isa();
  }
  Isa want;
  const bool known = parse(forced, &want);
  if (known && supported(want)) {
    g_reason = "forced by CORENN_ISA=" + forced;
    return want;
  }
  const Isa isa = best_isa();
  g_env_note = "corenn: CORENN_ISA=" + forced + " ignored (" +
               (known ? unsupported_reason(forced)
                      : std::string("expected 'ref', 'avx2', 'avx512' or 'auto'")) +
               "); using the '" + isa_name(isa) + "' kernels";
  g_reason = "fallback: " + g_env_note;
  return isa;
}

Isa g_isa = detect();

}  // namespace

Isa active_isa() { return g_isa; }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "ref";
  }
}

const std::string& isa_env_note() { return g_env_note; }
const std::string& isa_reason() { return g_reason; }

void set_isa(const std::string& name) {
  if (name == "auto") {
    g_isa = best_isa();
    g_reason = "auto (set_isa('auto'))";
    return;
  }
  Isa isa;
  if (!parse(name, &isa))
    throw Error("set_isa: unknown ISA '" + name + "', expected 'ref', 'avx2', 'avx512' or 'auto'");
  CORENN_CHECK(supported(isa), "set_isa('" + name + "'): " + unsupported_reason(name));
  g_isa = isa;
  g_reason = "set_isa('" + name + "')";
}

}  // namespace corenn
