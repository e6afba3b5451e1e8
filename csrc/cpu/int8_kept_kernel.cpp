// The kept int8 kernel: an int8-quantized layer kernel (an int8 Tensor) packed into the pair
// panels of the active int8_gemm.rows kernel once, and kept on the kernel's Storage.
//
// Why: the AVX2 / AVX-512 rows kernels read B as 16-bit pairs of depth steps (ops/int8_gemm.h);
// without this, quantized_matmul packed the kernel's K x N values into them on every call, which
// made a quantized model predict slower than the float one (until the twentieth session the
// kernel was a float32 weight of whole numbers, which every call also checked and narrowed). With
// it a call reads the kept panels, as the float GEMM reads the panels kept by
// cpu/gemm/packed_b_cache.cpp. The reference rows kernel reads the int8 kernel in place, so
// nothing is kept for it.
//
// The protocol (never stale, freed with the weight, bypassed while the storage's version cannot
// vouch for its contents) is core/kept_derived.h's, in the storage's int8_kernel slot, keyed by
// the rows kernel it was made for and (k, n).
//
// Kept on the first sight (KeepWhen::first_sight), where the packed-B cache waits for the second:
// every call has to pack the kernel anyway before the int8 product can run, so keeping it costs
// no work, and an int8 kernel is not trained (Keras freezes it), so its version stands from call
// to call.
//
// Size: ceil(n / nr) nr ceil(k / 2) int32 words: about 2 bytes per kernel entry, twice the int8
// weight itself (reading 8-bit panels and widening them in the tiles would halve it: not done).
#include <memory>

#include "core/kept_derived.h"
#include "core/tensor.h"
#include "ops/int8_gemm.h"

namespace corenn::cpu {

namespace {

struct Int8Key {
  const Int8GemmRows* rows = nullptr;
  int64_t k = 0, n = 0;
  bool operator==(const Int8Key& o) const { return rows == o.rows && k == o.k && n == o.n; }
};

KeptDerived<Int8Key, Int8Operand>& cache() {
  static KeptDerived<Int8Key, Int8Operand> c(Storage::DerivedSlot::int8_kernel, KeepWhen::first_sight);
  return c;
}

}  // namespace

std::shared_ptr<const Int8Operand> kept_int8_operand(const Storage& storage, const Int8GemmRows* rows,
                                                     int64_t k, int64_t n,
                                                     const std::function<std::shared_ptr<Int8Operand>()>& make) {
  std::shared_ptr<const Int8Operand> kept = cache().get(storage, Int8Key{rows, k, n}, make);
  return kept ? kept : make();  // untrusted: this call's own, not kept
}

Int8KeptStats int8_kept_stats() {
  const KeptStats s = cache().stats();
  return Int8KeptStats{s.hits, s.makes, s.untrusted};
}

size_t int8_kept_bytes(const Storage& storage) {
  const std::shared_ptr<const Int8Operand> kept = cache().peek(storage);
  return kept ? kept->bytes() : 0;
}

}  // namespace corenn::cpu
