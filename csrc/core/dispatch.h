// The per-op dispatch table: one stub per op (or per inner kernel an op picks, such as the GEMM
// micro-kernel or a pooling cell), with one slot per kernel flavour. Modelled on ATen's
// DispatchStub and on BLIS's context, written for corenn.
//
//   slots:  cpu_ref  the portable C++ kernel; every op has one (tests/kernels/test_dispatch.py)
//           avx2     x86-64 AVX2 + FMA          (files *_avx2.cpp, compiled only on x86-64)
//           avx512   x86-64 AVX-512 F/VL/BW/DQ  (files *_avx512.cpp, idem)
//           cuda     csrc/cuda/*.cu             (compiled only with CORENN_CUDA)
//
// Who fills the slots: the kernel files themselves, with CORENN_REGISTER_KERNEL at namespace
// scope (a static initializer). The op entry (csrc/ops/<op>.cpp) defines the stub and asks it for
// the kernel of a device; it never names an instruction set and never tests CORENN_WITH_CUDA.
//
// Why static registration is reliable here: CMakeLists.txt links every object file of csrc/ into
// the one _C module directly (no static library whose unreferenced members the linker could
// drop), and a stub has a constexpr constructor and only pointer / bool members, so it is
// constant-initialized, i.e. set up before any dynamic initializer (a kernel file's registration)
// runs, whatever the order of the object files. The list of stubs is a function-local static.
//
// Which CPU slot runs: the ISA of core/cpu_features (the one place that reads cpuid and
// CORENN_ISA) is asked at each call, so _C.set_isa() takes effect at once. A slot that is empty
// falls back to the next lower ISA, then to cpu_ref: an AVX-512 machine runs the AVX2 kernel of
// an op that has no AVX-512 one. A device with no kernel gets one error text, from no_kernel().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/tensor.h"

namespace corenn {

enum class Slot : int { cpu_ref = 0, avx2 = 1, avx512 = 2, cuda = 3 };
constexpr int kSlotCount = 4;
const char* slot_name(Slot slot);

class DispatchStubBase {
 public:
  constexpr explicit DispatchStubBase(const char* op) : op_(op) {}
  const char* op() const { return op_; }
  bool registered(Slot slot) const { return registered_[static_cast<int>(slot)]; }
  // The CPU slot that runs under `isa`: its own, else the next lower ISA's, else cpu_ref;
  // -1 when the op has no CPU kernel at all.
  int cpu_slot(Isa isa) const;
  // Why cpu_slot(isa) is the one it is, for show_config ("avx2: no avx512 kernel").
  std::string cpu_reason(Isa isa) const;
  // The registered slots, "cpu_ref, avx2" ("none" when empty).
  std::string registered_list() const;
  // NotImplementedError "<op>: no kernel for device <device> (registered: <slots>)".
  [[noreturn]] void no_kernel(const Device& device) const;
  // That error unless a kernel can run on `device`: an entry checks each tensor argument with it
  // before anything else reads them, so a tensor on a device without a kernel never reaches one.
  void check_device(const Device& device) const;

 protected:
  void record(Slot slot);

 private:
  const char* op_;
  bool registered_[kSlotCount] = {};
};

template <typename Fn>
class DispatchStub : public DispatchStubBase {
 public:
  constexpr explicit DispatchStub(const char* op) : DispatchStubBase(op) {}

  // Called by CORENN_REGISTER_KERNEL; a second registration of a slot replaces the first.
  void install(Slot slot, Fn fn) {
    fns_[static_cast<int>(slot)] = fn;
    record(slot);
  }
  // The kernel for the CPU under the active ISA (with the fallbacks above).
  Fn cpu() const {
    const int s = cpu_slot(active_isa());
    if (s < 0) no_kernel(Device{});
    return fns_[s];
  }
  // The kernel for `device`; NotImplementedError when there is none.
  Fn operator()(const Device& device) const {
    if (device.is_cpu()) return cpu();
    const Fn fn = fns_[static_cast<int>(Slot::cuda)];
    if (!fn) no_kernel(device);
    return fn;
  }
  // One slot as registered (nullptr when empty): tests and show_config compare kernels.
  Fn at(Slot slot) const { return fns_[static_cast<int>(slot)]; }

 private:
  Fn fns_[kSlotCount] = {};
};

// The one text for a device an op has no kernel on, raised as NotImplementedError:
// "<op>: no kernel for device <device> (registered: <slots>)". Stubs raise it; so do the entries
// of CPU-only features (check_cpu in ops/elementwise_common.h, registered = "cpu_ref").
[[noreturn]] void throw_no_kernel(const char* op, const Device& device,
                                  const std::string& registered);

// Every stub defined with CORENN_DEFINE_DISPATCH, in definition order (_C.dispatch_table()).
const std::vector<const DispatchStubBase*>& dispatch_stubs();
bool add_dispatch_stub(const DispatchStubBase* stub);  // for CORENN_DEFINE_DISPATCH; idempotent

#define CORENN_DISPATCH_CAT2(a, b) a##b
#define CORENN_DISPATCH_CAT(a, b) CORENN_DISPATCH_CAT2(a, b)

// In a header: extern declaration of a stub whose kernels have type `fn_type` (a function
// pointer type, or a pointer to a const struct of them: a context).
#define CORENN_DECLARE_DISPATCH(fn_type, name) extern ::corenn::DispatchStub<fn_type> name

// In the op entry's .cpp: the stub itself, listed under `op_name` in the dispatch table.
#define CORENN_DEFINE_DISPATCH(fn_type, name, op_name)                               \
  ::corenn::DispatchStub<fn_type> name{op_name};                                     \
  [[maybe_unused]] static const bool CORENN_DISPATCH_CAT(corenn_stub_listed_, __LINE__) = \
      ::corenn::add_dispatch_stub(&name)

// In a kernel file, at namespace scope: puts a kernel (function name, or a captureless lambda
// with a leading +) into one slot of a stub. Only in files compiled for the baseline ISA: it runs at
// load time on every CPU. The _avx2 / _avx512 files export constant tables instead, which
// cpu/isa_registry.cpp installs (cpu/isa_kernels.h).
#define CORENN_REGISTER_KERNEL(stub, slot, ...)                                           \
  [[maybe_unused]] static const bool CORENN_DISPATCH_CAT(corenn_kernel_registered_, __LINE__) = \
      ((stub).install((slot), (__VA_ARGS__)), true)

}  // namespace corenn
