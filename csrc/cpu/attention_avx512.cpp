// AVX-512 rows of the fused masked softmax: attention_avx2.cpp on 16 lanes, with the last n % 16
// entries of a row under a lane mask instead of a scalar std::exp tail (cpu/attention.cpp holds
// the reference loops, ops/attention.h the contract). exp16 from cpu/vec_math_avx512.h.
#include <immintrin.h>

#include <cmath>
#include <limits>

#include "cpu/vec_math_avx512.h"
#include "ops/attention.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx512 {

namespace {

void softmax_row(const float* row, float* out, int64_t n, float mx) {
  const __m512 vmx = _mm512_set1_ps(mx);
  const __m512 vninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 acc = _mm512_setzero_ps();
  for_each16(n, [&](int64_t j, __mmask16 m) {
    const __m512 x = _mm512_maskz_loadu_ps(m, row + j);
    // exp16 never returns 0 (its input is clamped), so masked-out entries (-inf) and the lanes
    // past the row are zeroed explicitly
    const __mmask16 keep = _mm512_mask_cmp_ps_mask(m, x, vninf, _CMP_NEQ_UQ);
    const __m512 e = _mm512_maskz_mov_ps(keep, exp16(_mm512_sub_ps(x, vmx)));
    _mm512_mask_storeu_ps(out + j, m, e);
    acc = _mm512_add_ps(acc, e);
  });
  const __m512 inv = _mm512_set1_ps(1.0f / hsum(acc));
  for_each16(n, [&](int64_t j, __mmask16 m) {
    _mm512_mask_storeu_ps(out + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, out + j), inv));
  });
}

void softmax_grad_row(const float* p, const float* g, float* out, int64_t n, float scale) {
  __m512 acc = _mm512_setzero_ps();
  for_each16(n, [&](int64_t j, __mmask16 m) {
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, p + j), _mm512_maskz_loadu_ps(m, g + j), acc);
  });
  const __m512 dot = _mm512_set1_ps(hsum(acc)), s = _mm512_set1_ps(scale);
  for_each16(n, [&](int64_t j, __mmask16 m) {
    const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, g + j), dot);
    _mm512_mask_storeu_ps(out + j, m, _mm512_mul_ps(_mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, p + j)), d));
  });
}

}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const SoftmaxRowKernels kSoftmaxRows{softmax_row, softmax_grad_row};

}  // namespace corenn::cpu::avx512
