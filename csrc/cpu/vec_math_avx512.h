// exp16 / sigmoid16 / tanh16, the 16-lane (AVX-512F) instances of cpu/simd/vec_math.h (same
// reduction, polynomials, clamps, accuracy and NaN behaviour as the AVX2 ones: one definition),
// and the masked-tail loop helpers the *_avx512.cpp kernels share. Include only from files
// compiled with -mavx512f/vl/bw/dq. Tails: for_each16 hands the last n % 16 elements to the same
// code with a lane mask (masked loads fill zeros, masked stores leave the rest of memory
// untouched); kernels written over the traits use simd::for_each_block (cpu/simd/loops.h).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "cpu/simd/f32_avx512.h"
#include "cpu/simd/vec_math.h"

namespace corenn::cpu::avx512 {

inline __m512 exp16(__m512 x) { return simd::exp<F32>(x); }
inline __m512 sigmoid16(__m512 x) { return simd::sigmoid<F32>(x); }
inline __m512 tanh16(__m512 x) { return simd::tanh<F32>(x); }

// Lane mask for the first k (0..16) lanes.
inline __mmask16 first_lanes(int64_t k) { return F32::first(k); }

// f(i, mask) for every 16-lane block of [0, n); the last block's mask covers the n % 16 tail.
template <class F>
inline void for_each16(int64_t n, const F& f) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) f(i, static_cast<__mmask16>(0xFFFF));
  if (i < n) f(i, static_cast<__mmask16>((1u << (n - i)) - 1u));
}

inline __m512 load(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline void store(float* p, __m512 v, __mmask16 m) { _mm512_mask_storeu_ps(p, m, v); }

inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

}  // namespace corenn::cpu::avx512
