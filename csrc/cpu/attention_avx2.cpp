// AVX2 rows of the fused masked softmax (cpu/attention.cpp holds the reference loops they match).
#include <cmath>
#include <limits>

#include "cpu/vec_math_avx2.h"
#include "ops/attention.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx2 {

namespace {
inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
}  // namespace

void softmax_row(const float* row, float* out, int64_t n, float mx) {
  const float ninf = -std::numeric_limits<float>::infinity();
  const __m256 vmx = _mm256_set1_ps(mx), vninf = _mm256_set1_ps(ninf);
  __m256 acc = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 x = _mm256_loadu_ps(row + j);
    // exp8 never returns 0 (its input is clamped), so masked lanes (-inf) are zeroed explicitly
    const __m256 e = _mm256_andnot_ps(_mm256_cmp_ps(x, vninf, _CMP_EQ_OQ), exp8(_mm256_sub_ps(x, vmx)));
    _mm256_storeu_ps(out + j, e);
    acc = _mm256_add_ps(acc, e);
  }
  float sum = hsum(acc);
  for (; j < n; ++j) {
    const float e = row[j] == ninf ? 0.0f : std::exp(row[j] - mx);
    out[j] = e;
    sum += e;
  }
  const float inv = 1.0f / sum;
  const __m256 vinv = _mm256_set1_ps(inv);
  for (j = 0; j + 8 <= n; j += 8) _mm256_storeu_ps(out + j, _mm256_mul_ps(_mm256_loadu_ps(out + j), vinv));
  for (; j < n; ++j) out[j] *= inv;
}

void softmax_grad_row(const float* p, const float* g, float* out, int64_t n, float scale) {
  __m256 acc = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(p + j), _mm256_loadu_ps(g + j), acc);
  float dot = hsum(acc);
  for (; j < n; ++j) dot += p[j] * g[j];
  const __m256 vdot = _mm256_set1_ps(dot), vs = _mm256_set1_ps(scale);
  for (j = 0; j + 8 <= n; j += 8) {
    const __m256 pj = _mm256_loadu_ps(p + j);
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(g + j), vdot);
    _mm256_storeu_ps(out + j, _mm256_mul_ps(_mm256_mul_ps(vs, pj), d));
  }
  for (; j < n; ++j) out[j] = scale * p[j] * (g[j] - dot);
}

}  // namespace corenn::cpu::avx2

namespace corenn::cpu::avx2 {
// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const SoftmaxRowKernels kSoftmaxRows{softmax_row, softmax_grad_row};
}  // namespace corenn::cpu::avx2
