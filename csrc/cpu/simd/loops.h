// Loops over a span in whole vectors of a traits type V (f32_avx2.h, f32_avx512.h). The body is
// written once, as a generic lambda taking a block: full blocks load and store plainly, the last
// n % V::lanes elements go through the same body under a lane mask (masked loads fill zeros,
// masked stores leave the rest of memory untouched), so there is no scalar remainder loop and no
// access past the span. Templates over V only, for the reason in f32_avx2.h.
#pragma once

#include <cstdint>

namespace corenn::cpu::simd {

// V::lanes elements at offset i.
template <class V>
struct FullBlock {
  int64_t i;
  typename V::reg load(const float* p) const { return V::loadu(p + i); }
  void store(float* p, typename V::reg v) const { V::storeu(p + i, v); }
};

// The first `count` (< V::lanes) elements at offset i, under mask m.
template <class V>
struct TailBlock {
  int64_t i;
  typename V::mask m;
  typename V::reg load(const float* p) const { return V::load(p + i, m); }
  void store(float* p, typename V::reg v) const { V::store(p + i, v, m); }
};

// body(block) for every V::lanes-wide block of [0, n); the last one a TailBlock when n % lanes.
template <class V, class Body>
inline void for_each_block(int64_t n, const Body& body) {
  int64_t i = 0;
  for (; i + V::lanes <= n; i += V::lanes) body(FullBlock<V>{i});
  if (i < n) body(TailBlock<V>{i, V::first(n - i)});
}

}  // namespace corenn::cpu::simd
