// AVX-512 dropout: the mask from the same SplitMix64 stream as core/rng.h's uniform01, eight
// 64-bit lanes per vector (AVX-512DQ has the 64 x 64-bit multiply AVX2 lacks), two vectors per 16
// floats, so the mask is bit-identical to the scalar path (dropout.cpp), to the AVX2 one and to
// any thread split; and the backward multiply. The last n % 16 elements run under a lane mask.
#include <immintrin.h>

#include <cstdint>

#include "core/parallel.h"
#include "cpu/vec_math_avx512.h"
#include "ops/dropout.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx512 {

namespace {

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
constexpr int64_t kMulGrain = 32768;

inline __m512i mix64x8(__m512i z) {
  z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)),
                         _mm512_set1_epi64(static_cast<int64_t>(0xbf58476d1ce4e5b9ULL)));
  z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)),
                         _mm512_set1_epi64(static_cast<int64_t>(0x94d049bb133111ebULL)));
  return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

// Elements [lo, hi): mask = u >= rate ? keep_scale : 0, y = x * mask.
void forward_span(const float* x, float* y, float* mask, int64_t lo, int64_t hi, float rate,
                  float keep_scale, uint64_t seed) {
  const __m512 scale24 = _mm512_set1_ps(1.0f / 16777216.0f);
  const __m512 rate_v = _mm512_set1_ps(rate), keep_v = _mm512_set1_ps(keep_scale);
  const __m512i step = _mm512_set1_epi64(static_cast<int64_t>(kGolden * 16));
  // counter of element i is seed + golden * (i + 1): lanes lo .. lo+7 in c0, lo+8 .. lo+15 in c1
  const __m512i lane = _mm512_setr_epi64(1, 2, 3, 4, 5, 6, 7, 8);
  __m512i c0 = _mm512_add_epi64(
      _mm512_set1_epi64(static_cast<int64_t>(seed + kGolden * static_cast<uint64_t>(lo))),
      _mm512_mullo_epi64(lane, _mm512_set1_epi64(static_cast<int64_t>(kGolden))));
  __m512i c1 = _mm512_add_epi64(c0, _mm512_set1_epi64(static_cast<int64_t>(kGolden * 8)));
  for_each16(hi - lo, [&](int64_t k, __mmask16 m) {
    const int64_t i = lo + k;
    // top 24 bits of each hash, narrowed to int32 (exact in float)
    const __m256i b0 = _mm512_cvtepi64_epi32(_mm512_srli_epi64(mix64x8(c0), 40));
    const __m256i b1 = _mm512_cvtepi64_epi32(_mm512_srli_epi64(mix64x8(c1), 40));
    const __m512i bits = _mm512_inserti64x4(_mm512_castsi256_si512(b0), b1, 1);
    const __m512 u = _mm512_mul_ps(_mm512_cvtepi32_ps(bits), scale24);
    const __m512 mk = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(u, rate_v, _CMP_GE_OQ), keep_v);
    _mm512_mask_storeu_ps(mask + i, m, mk);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), mk));
    c0 = _mm512_add_epi64(c0, step);
    c1 = _mm512_add_epi64(c1, step);
  });
}

void forward(const Tensor& xt, const Tensor& yt, const Tensor& maskt, float rate, uint64_t seed) {
  const float* x = xt.data<float>();
  float* y = yt.data<float>();
  float* mask = maskt.data<float>();
  const float keep_scale = 1.0f / (1.0f - rate);
  parallel_for(0, xt.numel(), kDropoutRngGrain, [=](int64_t lo, int64_t hi) {
    forward_span(x, y, mask, lo, hi, rate, keep_scale, seed);
  });
}

void backward(const Tensor& dyt, const Tensor& maskt, const Tensor& dxt) {
  const float* dy = dyt.data<float>();
  const float* mask = maskt.data<float>();
  float* dx = dxt.data<float>();
  parallel_for(0, dyt.numel(), kMulGrain, [=](int64_t lo, int64_t hi) {
    for_each16(hi - lo, [&](int64_t k, __mmask16 m) {
      const int64_t i = lo + k;
      _mm512_mask_storeu_ps(dx + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dy + i),
                                                     _mm512_maskz_loadu_ps(m, mask + i)));
    });
  });
}

}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const DropoutForwardFn kDropoutForward = forward;
extern const DropoutBackwardFn kDropoutBackward = backward;

}  // namespace corenn::cpu::avx512
