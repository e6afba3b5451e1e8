// Dropout over a vector-traits type V (dropout_forward_stub's avx2 / avx512 slots, the backward
// multiply for avx512), instantiated by dropout_avx2.cpp and dropout_avx512.cpp.
//
// The mask comes from the same SplitMix64 stream as core/rng.h's uniform01 (the counter of
// element i is seed + golden (i + 1)), V::lanes / 2 64-bit lanes per V::u64, two of them per
// V::lanes floats, so the mask is bit-identical to the scalar path (cpu/dropout.cpp), to every
// other ISA and to any thread split. uniform01 keeps the top 24 bits, which convert to float
// exactly. The last n % V::lanes elements of a span run through the same body under a lane mask
// (their hashes are computed and the dead lanes' discarded), never a scalar loop and never
// touching memory past the span.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "core/parallel.h"
#include "cpu/simd/loops.h"
#include "ops/dropout.h"

namespace corenn::cpu::simd {

template <class V>
struct Dropout {
  using reg = typename V::reg;
  using u64 = typename V::u64;
  static constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
  static constexpr int64_t kMulGrain = 32768;

  static u64 mix64(u64 z) {
    z = V::u64_mul(V::u64_xor(z, V::template u64_srli<30>(z)), 0xbf58476d1ce4e5b9ULL);
    z = V::u64_mul(V::u64_xor(z, V::template u64_srli<27>(z)), 0x94d049bb133111ebULL);
    return V::u64_xor(z, V::template u64_srli<31>(z));
  }

  // Elements [lo, hi): mask = u >= rate ? keep_scale : 0, y = x * mask.
  static void forward_span(const float* x, float* y, float* mask, int64_t lo, int64_t hi,
                           float rate, float keep_scale, uint64_t seed) {
    constexpr int half = V::lanes / 2;
    const reg scale24 = V::set1(1.0f / 16777216.0f);
    const reg rate_v = V::set1(rate), keep_v = V::set1(keep_scale);
    const u64 step = V::u64_set1(kGolden * V::lanes);
    // counters of elements lo .. lo + half - 1 in c0, the next half in c1
    u64 c0 = V::u64_iota(seed + kGolden * static_cast<uint64_t>(lo + 1), kGolden);
    u64 c1 = V::u64_add(c0, V::u64_set1(kGolden * half));
    float* const ys = y + lo;
    float* const masks = mask + lo;
    const float* const xs = x + lo;
    for_each_block<V>(hi - lo, [&](const auto& b) {
      const reg u = V::mul(V::u64_top24_ps(mix64(c0), mix64(c1)), scale24);
      const reg m = V::zero_unless(V::template cmp<_CMP_GE_OQ>(u, rate_v), keep_v);
      b.store(masks, m);
      b.store(ys, V::mul(b.load(xs), m));
      c0 = V::u64_add(c0, step);
      c1 = V::u64_add(c1, step);
    });
  }

  static void forward(const Tensor& xt, const Tensor& yt, const Tensor& maskt, float rate,
                      uint64_t seed) {
    const float* x = xt.data<float>();
    float* y = yt.data<float>();
    float* mask = maskt.data<float>();
    const float keep_scale = 1.0f / (1.0f - rate);
    parallel_for(0, xt.numel(), kDropoutRngGrain, [=](int64_t lo, int64_t hi) {
      forward_span(x, y, mask, lo, hi, rate, keep_scale, seed);
    });
  }

  // dx = dy * mask.
  static void backward(const Tensor& dyt, const Tensor& maskt, const Tensor& dxt) {
    const float* dy = dyt.data<float>();
    const float* mask = maskt.data<float>();
    float* dx = dxt.data<float>();
    parallel_for(0, dyt.numel(), kMulGrain, [=](int64_t lo, int64_t hi) {
      for_each_block<V>(hi - lo, [&](const auto& b) {
        b.store(dx + lo, V::mul(b.load(dy + lo), b.load(mask + lo)));
      });
    });
  }
};

}  // namespace corenn::cpu::simd
