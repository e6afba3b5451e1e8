// The kept int8 kernel: an int8-quantized layer kernel narrowed (and packed into the pair panels
// of the active int8_gemm.rows kernel) once, and kept on the kernel's Storage.
//
// Why: a Tensor holds no int8 (core/tensor.h), so an int8 Dense / EinsumDense kernel is a float32
// weight of whole numbers; without this, quantized_matmul narrowed it (K x N checks and
// conversions) and packed its pairs on every call, which made a quantized model predict slower
// than the float one. With it a call reads the kept panels, as the float GEMM reads the panels
// kept by cpu/gemm/packed_b_cache.cpp.
//
// The same design as that cache: the entry lives in the storage's own derived slot
// (Storage::DerivedSlot::int8_kernel), so it is freed with the weight, and is keyed by the
// storage's write version (bumped by every op entry that writes the storage and by the end of
// every writable NumPy / DLPack export: set_weights, load_weights, a .keras file, assign, an
// optimizer step all reach it) and by the rows kernel it was made for and (k, n). While the
// version cannot vouch for the contents (a live writable export, borrowed memory) nothing is kept
// and each call makes its own. An entry of another version or key is dropped when a call sees
// that, so a changed weight does not keep its old copy alive; an entry is kept only when nothing
// wrote the storage while it was made.
//
// One difference: the packed-B cache packs on the second sight of a (key, version), so that fit,
// whose weights change every step, never packs into it. Here the first call keeps what it made:
// every call has to narrow the kernel anyway (the kernel must be checked and converted before the
// int8 product can run), so keeping it costs no work, and an int8 kernel is not trained (Keras
// freezes it), so its version stands from call to call.
//
// Size: with an ISA kernel (nr > 0) only the pair panels, ceil(n / nr) nr ceil(k / 2) int32
// words: about 2 bytes per kernel entry, half the float32 weight; the reference kernel keeps the
// k n int8 values (1 byte per entry).
#include <atomic>
#include <memory>
#include <mutex>

#include "core/tensor.h"
#include "ops/int8_gemm.h"

namespace corenn::cpu {

namespace {

struct Slot {
  std::mutex mu;
  std::shared_ptr<const Int8Operand> kept;
};

std::atomic<uint64_t> n_hits{0}, n_makes{0}, n_untrusted{0};

std::shared_ptr<Slot> slot_of(const Storage& storage, bool create) {
  constexpr Storage::DerivedSlot kSlot = Storage::DerivedSlot::int8_kernel;
  std::shared_ptr<void> slot = storage.derived(kSlot);
  if (!slot && create) slot = storage.derived_or_make(kSlot, [] { return std::make_shared<Slot>(); });
  return std::static_pointer_cast<Slot>(slot);
}

}  // namespace

std::shared_ptr<const Int8Operand> kept_int8_operand(const Storage& storage, const Int8GemmRows* rows,
                                                     int64_t k, int64_t n,
                                                     const std::function<std::shared_ptr<Int8Operand>()>& make) {
  if (!storage.versions_trusted()) {
    // Its contents may change at any time now: what is kept is of no further use (the end of the
    // export bumps the version anyway, so it could never be hit again).
    if (const std::shared_ptr<Slot> slot = slot_of(storage, false)) {
      std::lock_guard<std::mutex> lock(slot->mu);
      slot->kept.reset();
    }
    n_untrusted.fetch_add(1, std::memory_order_relaxed);
    return make();
  }
  const uint64_t version = storage.version();
  const std::shared_ptr<Slot> slot = slot_of(storage, true);
  {
    std::lock_guard<std::mutex> lock(slot->mu);
    const std::shared_ptr<const Int8Operand>& kept = slot->kept;
    if (kept && kept->version == version && kept->rows == rows && kept->k == k && kept->n == n) {
      n_hits.fetch_add(1, std::memory_order_relaxed);
      return kept;
    }
    slot->kept.reset();  // another version or key: the old copy is of no further use
  }
  std::shared_ptr<Int8Operand> made = make();  // outside the lock; may throw (nothing kept then)
  made->version = version;
  // Kept only when nothing wrote the storage while it was made (a write then is the caller's
  // race, but the cache must not make it permanent).
  if (storage.versions_trusted() && storage.version() == version) {
    std::lock_guard<std::mutex> lock(slot->mu);
    slot->kept = made;
    n_makes.fetch_add(1, std::memory_order_relaxed);
  }
  return made;
}

Int8KeptStats int8_kept_stats() { return Int8KeptStats{n_hits.load(), n_makes.load(), n_untrusted.load()}; }

size_t int8_kept_bytes(const Storage& storage) {
  const std::shared_ptr<Slot> slot = slot_of(storage, false);
  if (!slot) return 0;
  std::lock_guard<std::mutex> lock(slot->mu);
  return slot->kept ? slot->kept->bytes() : 0;
}

}  // namespace corenn::cpu
