// exp8 / sigmoid8 / tanh8: the 8-lane (AVX2/FMA) instances of cpu/simd/vec_math.h, under the
// names the AVX2 kernels call. Include only from files compiled with -mavx2 -mfma (*_avx2.cpp).
// The math, its accuracy and its NaN behaviour are documented in cpu/simd/vec_math.h.
#pragma once

#include <immintrin.h>

#include "cpu/simd/f32_avx2.h"
#include "cpu/simd/vec_math.h"

namespace corenn::cpu::avx2 {

inline __m256 exp8(__m256 x) { return simd::exp<F32>(x); }
inline __m256 sigmoid8(__m256 x) { return simd::sigmoid<F32>(x); }
inline __m256 tanh8(__m256 x) { return simd::tanh<F32>(x); }

}  // namespace corenn::cpu::avx2
