// AVX2 dropout mask: the same SplitMix64 stream as core/rng.h's uniform01, four 64-bit lanes at a
// time, so the mask is bit-identical to the scalar path (dropout.cpp) and to any thread split.
//
// AVX2 has no 64x64-bit multiply; the low 64 bits of a * c are
//   lo(a) lo(c) + ((hi(a) lo(c) + lo(a) hi(c)) << 32)
// from three 32x32->64 multiplies (_mm256_mul_epu32). uniform01 keeps the top 24 bits, which
// convert to float exactly.
#include <immintrin.h>

#include <cstdint>

#include "core/parallel.h"
#include "core/rng.h"
#include "ops/dropout.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx2 {

namespace {

inline __m256i mul64(__m256i a, uint64_t c) {
  const __m256i c_lo = _mm256_set1_epi64x(static_cast<int64_t>(c & 0xffffffffULL));
  const __m256i c_hi = _mm256_set1_epi64x(static_cast<int64_t>(c >> 32));
  const __m256i lo = _mm256_mul_epu32(a, c_lo);
  const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), c_lo),
                                         _mm256_mul_epu32(a, c_hi));
  return _mm256_add_epi64(lo, _mm256_slli_epi64(cross, 32));
}

inline __m256i mix64x4(__m256i z) {
  z = mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)), 0xbf58476d1ce4e5b9ULL);
  z = mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), 0x94d049bb133111ebULL);
  return _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
}

// Top 24 bits of four 64-bit lanes as four int32 in the low 128 bits.
inline __m128i top24(__m256i z) {
  const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
  return _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_srli_epi64(z, 40), idx));
}

}  // namespace

// Elements [lo, hi): mask = u >= rate ? keep_scale : 0, y = x * mask.
void dropout_forward_span(const float* x, float* y, float* mask, int64_t lo, int64_t hi, float rate,
                          float keep_scale, uint64_t seed) {
  const uint64_t golden = 0x9e3779b97f4a7c15ULL;
  const __m256 scale24 = _mm256_set1_ps(1.0f / 16777216.0f);
  const __m256 rate_v = _mm256_set1_ps(rate), keep_v = _mm256_set1_ps(keep_scale);
  const __m256i step = _mm256_set1_epi64x(static_cast<int64_t>(golden * 8));
  // counters seed + golden * (i + 1) for lanes i .. i+3 and i+4 .. i+7
  uint64_t base = seed + golden * static_cast<uint64_t>(lo + 1);
  __m256i c0 = _mm256_setr_epi64x(static_cast<int64_t>(base), static_cast<int64_t>(base + golden),
                                  static_cast<int64_t>(base + 2 * golden), static_cast<int64_t>(base + 3 * golden));
  __m256i c1 = _mm256_add_epi64(c0, _mm256_set1_epi64x(static_cast<int64_t>(golden * 4)));
  int64_t i = lo;
  for (; i + 8 <= hi; i += 8) {
    const __m256i bits = _mm256_set_m128i(top24(mix64x4(c1)), top24(mix64x4(c0)));
    const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(bits), scale24);
    const __m256 m = _mm256_and_ps(_mm256_cmp_ps(u, rate_v, _CMP_GE_OQ), keep_v);
    _mm256_storeu_ps(mask + i, m);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), m));
    c0 = _mm256_add_epi64(c0, step);
    c1 = _mm256_add_epi64(c1, step);
  }
  for (; i < hi; ++i) {
    const float m = uniform01(seed, static_cast<uint64_t>(i)) >= rate ? keep_scale : 0.0f;
    mask[i] = m;
    y[i] = x[i] * m;
  }
}

}  // namespace corenn::cpu::avx2

// The avx2 kernel of dropout_forward_stub (the backward is a plain multiply: cpu_ref serves).
namespace corenn::cpu::avx2 {
namespace {
void forward(const Tensor& xt, const Tensor& yt, const Tensor& maskt, float rate, uint64_t seed) {
  const float* x = xt.data<float>();
  float* y = yt.data<float>();
  float* mask = maskt.data<float>();
  const float keep_scale = 1.0f / (1.0f - rate);
  parallel_for(0, xt.numel(), kDropoutRngGrain, [=](int64_t lo, int64_t hi) {
    dropout_forward_span(x, y, mask, lo, hi, rate, keep_scale, seed);
  });
}
}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const DropoutForwardFn kDropoutForward = forward;
}  // namespace corenn::cpu::avx2
