// Data derived from a weight's contents and kept on the weight's Storage: one protocol for every
// such cache (the GEMM's packed B, cpu/gemm/packed_b_cache.cpp; the int8 kernel,
// cpu/int8_kept_kernel.cpp; a conv's Winograd-transformed kernel, cpu/conv2d.cpp).
//
// Why: at inference a layer applies the same weight to every batch, and a kernel that first
// repacks or transforms that weight (GEMM panels, int8 narrowing, Winograd's G w G^T) pays for it
// on every call; ONNX Runtime prepares such forms once per session. A caller that knows its
// operand is a weight asks KeptDerived for the prepared form instead of making its own.
//
// Never stale: the kept value lives in the storage's own derived slot (Storage::DerivedSlot, one
// per cache, so a weight read by two users keeps one value for each and is freed with it) and is
// keyed by the storage's write version (Storage::version: bumped by every op entry that writes the
// storage and at the end of every writable NumPy / DLPack export: set_weights, load_weights,
// assign, an optimizer step all reach it) and by the caller's Key (kernel set, shape, layout:
// whatever decides the value's bits). While the version cannot vouch for the contents (a live
// writable export, memory borrowed from NumPy / DLPack) nothing is kept. An entry of another
// version or key is dropped when a call sees that, so a changed weight does not keep its old copy
// alive; a value is kept only when nothing wrote the storage while it was made.
//
// When to make one (KeepWhen): on the second sight of a (key, version) where making it costs more
// than the caller's per-call path (packing panels the driver would stream, a transform), so that
// fit, whose weights change every step, never pays for it (one comparison a call); on the first
// sight where the caller must make the value anyway (int8 narrowing checks the kernel).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "core/tensor.h"

namespace corenn {

enum class KeepWhen { first_sight, second_sight };

// Counters for tests: hits, values kept, first sights (second_sight caches), untrusted calls.
struct KeptStats {
  uint64_t hits, makes, first_sights, untrusted;
};

template <class Key, class Value>
class KeptDerived {
 public:
  KeptDerived(Storage::DerivedSlot slot, KeepWhen when) : slot_(slot), when_(when) {}

  // The value kept on `storage` for `key` at its current version; else one made now by make()
  // (a std::shared_ptr<Value>; may throw, and then nothing is kept) and kept; else nullptr: the
  // version cannot vouch for the contents, or (second_sight) this is the first sight of the
  // (key, version). On nullptr the caller does its per-call work. Thread-safe; make() runs
  // outside the lock.
  template <class Make>
  std::shared_ptr<const Value> get(const Storage& storage, const Key& key, const Make& make) {
    if (!storage.versions_trusted()) {
      // Its contents may change at any time now: what is kept is of no further use (the end of
      // the export bumps the version anyway, so it could never be hit again).
      if (const std::shared_ptr<Entry> e = entry(storage, false)) {
        std::lock_guard<std::mutex> lock(e->mu);
        e->value.reset();
        e->seen = false;
      }
      untrusted_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    const uint64_t version = storage.version();
    const std::shared_ptr<Entry> e = entry(storage, true);
    {
      std::lock_guard<std::mutex> lock(e->mu);
      if (e->value && e->version == version && e->key == key) {
        hits_.fetch_add(1, std::memory_order_relaxed);
        return e->value;
      }
      e->value.reset();  // another version or key: the old value is of no further use
      if (when_ == KeepWhen::second_sight &&
          !(e->seen && e->seen_version == version && e->seen_key == key)) {
        e->seen = true;
        e->seen_version = version;
        e->seen_key = key;
        first_sights_.fetch_add(1, std::memory_order_relaxed);
        return nullptr;
      }
    }
    std::shared_ptr<const Value> made = make();
    // Kept only when nothing wrote the storage while it was made (a write then is the caller's
    // race, but the cache must not make it permanent).
    if (storage.versions_trusted() && storage.version() == version) {
      std::lock_guard<std::mutex> lock(e->mu);
      e->value = made;
      e->version = version;
      e->key = key;
      makes_.fetch_add(1, std::memory_order_relaxed);
    }
    return made;
  }

  // What is kept on `storage` now (any key or version), or nullptr: for tests' byte counts.
  std::shared_ptr<const Value> peek(const Storage& storage) const {
    const std::shared_ptr<Entry> e = entry(storage, false);
    if (!e) return nullptr;
    std::lock_guard<std::mutex> lock(e->mu);
    return e->value;
  }

  KeptStats stats() const {
    return KeptStats{hits_.load(), makes_.load(), first_sights_.load(), untrusted_.load()};
  }

 private:
  struct Entry {
    std::mutex mu;
    std::shared_ptr<const Value> value;
    Key key{};
    uint64_t version = 0;
    // second_sight: the (key, version) a call saw last without a value
    bool seen = false;
    Key seen_key{};
    uint64_t seen_version = 0;
  };

  // The entry in this cache's slot of `storage` (the slot holds only this cache's Entry type).
  std::shared_ptr<Entry> entry(const Storage& storage, bool create) const {
    std::shared_ptr<void> e = storage.derived(slot_);
    if (!e && create) e = storage.derived_or_make(slot_, [] { return std::make_shared<Entry>(); });
    return std::static_pointer_cast<Entry>(e);
  }

  const Storage::DerivedSlot slot_;
  const KeepWhen when_;
  std::atomic<uint64_t> hits_{0}, makes_{0}, first_sights_{0}, untrusted_{0};
};

}  // namespace corenn
