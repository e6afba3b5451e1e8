// The packed-weight cache: op(B) packed once and kept on the weight's Storage.
//
// Why: at inference a Dense layer multiplies every batch by the same kernel, and the driver
// packs that kernel (K x N: 784 x 512 is 1.6 MB) on every call; ONNX Runtime packs it once when
// the session is made. A caller that knows B is such a weight (gemm(..., keep_b_packed=true))
// gets the packing done once and reused for as long as the weight is unchanged.
//
// Never stale: an entry is keyed by the storage (it lives in the storage's gemm_packed_b derived slot, so it
// is freed with the weight), the storage's write version (Storage::version: every op entry that
// writes the storage bumps it in check_writable, and so does the end of every writable NumPy or
// DLPack export) and the kernel set, depth step, shape, leading dimension and transpose it was
// packed for. While the version cannot vouch for the contents (a writable export is alive, or
// the memory is borrowed from NumPy / DLPack and its owner may write it) the cache is bypassed.
//
// Not wasteful: a (key, version) is packed into the cache only when a call sees it a second
// time. A training step changes its weights every step, so fit never packs into the cache (it
// costs one comparison); predict packs on its second batch and reuses from then on. An entry of
// another version or key is dropped when a call sees that, so a changed weight does not keep its
// old copy alive. Size: k * round_up(n, NR) floats per weight (gemm.h, PackedB).
#include <atomic>
#include <memory>
#include <mutex>

#include "core/tensor.h"
#include "cpu/gemm/gemm.h"

namespace corenn::cpu::gemm {

namespace {

// What one storage keeps: the entry in use, and the (key, version) a call saw last without one.
struct Slot {
  std::mutex mu;
  std::shared_ptr<const PackedB> packed;
  PackedBKey seen_key;
  uint64_t seen_version = 0;
  bool seen = false;
};

std::atomic<uint64_t> n_hits{0}, n_packs{0}, n_first_sights{0}, n_untrusted{0};

std::shared_ptr<Slot> slot_of(const Storage& storage, bool create) {
  std::shared_ptr<void> slot = storage.derived(Storage::DerivedSlot::gemm_packed_b);
  if (!slot && create) {
    slot = storage.derived_or_make(Storage::DerivedSlot::gemm_packed_b, [] { return std::make_shared<Slot>(); });
  }
  return std::static_pointer_cast<Slot>(slot);
}

}  // namespace

std::shared_ptr<const PackedB> kept_packed_b(const Storage& storage, const PackedBKey& key) {
  if (!storage.versions_trusted()) {
    // Its contents may change at any time now: whatever is kept is of no further use (the end
    // of the export bumps the version anyway, so it could never be hit again).
    if (const std::shared_ptr<Slot> slot = slot_of(storage, false)) {
      std::lock_guard<std::mutex> lock(slot->mu);
      slot->packed.reset();
      slot->seen = false;
    }
    n_untrusted.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  const uint64_t version = storage.version();
  const std::shared_ptr<Slot> slot = slot_of(storage, true);
  {
    std::lock_guard<std::mutex> lock(slot->mu);
    if (slot->packed && slot->packed->version == version && slot->packed->key == key) {
      n_hits.fetch_add(1, std::memory_order_relaxed);
      return slot->packed;
    }
    slot->packed.reset();  // another version or key: the old copy is of no further use
    if (!(slot->seen && slot->seen_version == version && slot->seen_key == key)) {
      slot->seen = true;
      slot->seen_version = version;
      slot->seen_key = key;
      n_first_sights.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
  }
  auto packed = std::make_shared<PackedB>();
  pack_whole_b(*key.ctx, key, *packed);
  packed->version = version;
  // Kept only when nothing wrote the storage while it was packed (a write then is the caller's
  // race, but the cache must not make it permanent).
  if (storage.versions_trusted() && storage.version() == version) {
    std::lock_guard<std::mutex> lock(slot->mu);
    slot->packed = packed;
    n_packs.fetch_add(1, std::memory_order_relaxed);
  }
  return packed;
}

PackedBStats packed_b_stats() {
  return PackedBStats{n_hits.load(), n_packs.load(), n_first_sights.load(), n_untrusted.load()};
}

size_t packed_b_bytes(const Storage& storage) {
  const std::shared_ptr<Slot> slot = slot_of(storage, false);
  if (!slot) return 0;
  std::lock_guard<std::mutex> lock(slot->mu);
  return slot->packed ? static_cast<size_t>(slot->packed->key.k * slot->packed->np) * sizeof(float)
                      : 0;
}

}  // namespace corenn::cpu::gemm
