#include "core/dispatch.h"

#include <algorithm>

#include "core/check.h"

namespace corenn {

namespace {

std::vector<const DispatchStubBase*>& stub_list() {
  static std::vector<const DispatchStubBase*> stubs;  // built during static init: a local static
  return stubs;
}

constexpr Slot kCpuSlots[] = {Slot::cpu_ref, Slot::avx2, Slot::avx512};

Slot slot_of(Isa isa) {
  switch (isa) {
    case Isa::avx512: return Slot::avx512;
    case Isa::avx2: return Slot::avx2;
    default: return Slot::cpu_ref;
  }
}

}  // namespace

const char* slot_name(Slot slot) {
  switch (slot) {
    case Slot::cpu_ref: return "cpu_ref";
    case Slot::avx2: return "avx2";
    case Slot::avx512: return "avx512";
    default: return "cuda";
  }
}

int DispatchStubBase::cpu_slot(Isa isa) const {
  // The ISAs are ordered ref < avx2 < avx512 and so are their slots: walk down from the active one.
  for (int s = static_cast<int>(slot_of(isa)); s >= 0; --s)
    if (registered_[s]) return s;
  return -1;
}

std::string DispatchStubBase::cpu_reason(Isa isa) const {
  const int s = cpu_slot(isa);
  if (s < 0) return "no CPU kernel";
  const Slot want = slot_of(isa);
  if (s == static_cast<int>(want)) return std::string("the active ISA is ") + isa_name(isa);
  if (!registered_[static_cast<int>(Slot::avx2)] && !registered_[static_cast<int>(Slot::avx512)])
    return "the one CPU kernel (portable code; ISA-specific inner kernels, if any, come from "
           "their own stubs)";
  std::string missing;
  for (int t = static_cast<int>(want); t > s; --t) {
    if (!missing.empty()) missing += " or ";
    missing += slot_name(kCpuSlots[t]);
  }
  return "no " + missing + " kernel registered (active ISA " + isa_name(isa) + ")";
}

std::string DispatchStubBase::registered_list() const {
  std::string out;
  for (int s = 0; s < kSlotCount; ++s) {
    if (!registered_[s]) continue;
    if (!out.empty()) out += ", ";
    out += slot_name(static_cast<Slot>(s));
  }
  return out.empty() ? "none" : out;
}

void throw_no_kernel(const char* op, const Device& device, const std::string& registered) {
  throw NotImplementedError(std::string(op) + ": no kernel for device " + device.str() +
                            " (registered: " + registered + ")");
}

void DispatchStubBase::no_kernel(const Device& device) const {
  throw_no_kernel(op_, device, registered_list());
}

void DispatchStubBase::check_device(const Device& device) const {
  const bool runs = device.is_cpu() ? cpu_slot(active_isa()) >= 0 : registered(Slot::cuda);
  if (!runs) no_kernel(device);
}

void DispatchStubBase::record(Slot slot) {
  registered_[static_cast<int>(slot)] = true;
  add_dispatch_stub(this);
}

bool add_dispatch_stub(const DispatchStubBase* stub) {
  auto& stubs = stub_list();
  if (std::find(stubs.begin(), stubs.end(), stub) == stubs.end()) stubs.push_back(stub);
  return true;
}

const std::vector<const DispatchStubBase*>& dispatch_stubs() { return stub_list(); }

}  // namespace corenn
