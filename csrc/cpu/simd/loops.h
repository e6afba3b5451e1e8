// Loops over a span in whole vectors of a traits type V (f32_avx2.h, f32_avx512.h). The body is
// written once, as a generic lambda taking a block: full blocks load and store plainly, the last
// n % V::lanes elements go through the same body under a lane mask (masked loads fill zeros,
// masked stores leave the rest of memory untouched), so there is no scalar remainder loop and no
// access past the span. Templates over V only, for the reason in f32_avx2.h.
#pragma once

#include <cstdint>

namespace corenn::cpu::simd {

// V::lanes elements at offset i. The members a body uses on a block: load / store (floats),
// iload / istore (int32), load(p, fill) (a tail's dead lanes read `fill`, not 0), load_where(p,
// hit) (lanes where hit read p, the rest 0), live(hit) (hit without a tail's dead lanes); `tail`
// tells the two apart at compile time for what only a tail needs.
template <class V>
struct FullBlock {
  static constexpr bool tail = false;
  int64_t i;
  typename V::reg load(const float* p) const { return V::loadu(p + i); }
  typename V::reg load(const float* p, typename V::reg) const { return V::loadu(p + i); }
  void store(float* p, typename V::reg v) const { V::storeu(p + i, v); }
  typename V::ireg iload(const int32_t* p) const { return V::iloadu(p + i); }
  void istore(int32_t* p, typename V::ireg v) const { V::istoreu(p + i, v); }
  typename V::reg load_where(const float* p, typename V::pred hit) const {
    return V::load_where(p + i, hit);
  }
  typename V::pred live(typename V::pred p) const { return p; }
};

// The first `count` (< V::lanes) elements at offset i, under mask m.
template <class V>
struct TailBlock {
  static constexpr bool tail = true;
  int64_t i;
  typename V::mask m;
  typename V::reg load(const float* p) const { return V::load(p + i, m); }
  typename V::reg load(const float* p, typename V::reg fill) const { return V::load(p + i, m, fill); }
  void store(float* p, typename V::reg v) const { V::store(p + i, v, m); }
  typename V::ireg iload(const int32_t* p) const { return V::iload(p + i, m); }
  void istore(int32_t* p, typename V::ireg v) const { V::istore(p + i, v, m); }
  typename V::reg load_where(const float* p, typename V::pred hit) const {
    return V::load_where(p + i, hit, m);
  }
  typename V::pred live(typename V::pred p) const { return V::within(p, m); }
};

// body(block) for every V::lanes-wide block of [0, n); the last one a TailBlock when n % lanes.
template <class V, class Body>
inline void for_each_block(int64_t n, const Body& body) {
  int64_t i = 0;
  for (; i + V::lanes <= n; i += V::lanes) body(FullBlock<V>{i});
  if (i < n) body(TailBlock<V>{i, V::first(n - i)});
}

}  // namespace corenn::cpu::simd
