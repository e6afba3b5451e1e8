// The packed-weight cache: op(B) packed once and kept on the weight's Storage.
//
// Why: at inference a Dense layer multiplies every batch by the same kernel, and the driver
// packs that kernel (K x N: 784 x 512 is 1.6 MB) on every call; ONNX Runtime packs it once when
// the session is made. A caller that knows B is such a weight (gemm(..., keep_b_packed=true), an
// implicit-GEMM conv's kernel, an RNN's recurrent kernel) gets the packing done once and reused
// for as long as the weight is unchanged.
//
// The protocol (never stale, freed with the weight, bypassed while the storage's version cannot
// vouch for its contents) is core/kept_derived.h's, in the storage's gemm_packed_b slot, keyed by
// the kernel set, depth step, shape, leading dimension and transpose it was packed for. A (key,
// version) is packed into the cache only when a call sees it a second time (KeepWhen::
// second_sight): a training step changes its weights every step, so fit never packs into the
// cache (it costs one comparison); predict packs on its second batch and reuses from then on.
// Size: k * round_up(n, NR) floats per weight (gemm.h, PackedB).
#include <memory>

#include "core/kept_derived.h"
#include "core/tensor.h"
#include "cpu/gemm/gemm.h"

namespace corenn::cpu::gemm {

namespace {
KeptDerived<PackedBKey, PackedB>& cache() {
  static KeptDerived<PackedBKey, PackedB> c(Storage::DerivedSlot::gemm_packed_b, KeepWhen::second_sight);
  return c;
}
}  // namespace

std::shared_ptr<const PackedB> kept_packed_b(const Storage& storage, const PackedBKey& key) {
  return cache().get(storage, key, [&key] {
    auto packed = std::make_shared<PackedB>();
    pack_whole_b(*key.ctx, key, *packed);
    return packed;
  });
}

PackedBStats packed_b_stats() {
  const KeptStats s = cache().stats();
  return PackedBStats{s.hits, s.makes, s.first_sights, s.untrusted};
}

size_t packed_b_bytes(const Storage& storage) {
  const std::shared_ptr<const PackedB> p = cache().peek(storage);
  return p ? static_cast<size_t>(p->key.k * p->np) * sizeof(float) : 0;
}

}  // namespace corenn::cpu::gemm
