// AVX-512 rows of the hot losses (loss_rows_stub's avx512 slot; cpu/loss.cpp holds the
// reference rows, the formulas and the drivers). 16 floats per step, widened into two 8-lane
// double halves, so the row sums stay in double as in the reference; the last cols % 16 entries
// run under a lane mask (masked-off lanes load 0 and are kept out of every sum).
//
// MSE: the reference arithmetic in double lanes (only the order of the row sum differs).
#include <immintrin.h>

#include <cstdint>

#include "cpu/vec_math_avx512.h"
#include "ops/loss.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx512 {

namespace {

inline __m512d lo_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
inline __m512d hi_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }
inline __mmask8 lo8(__mmask16 m) { return static_cast<__mmask8>(m & 0xFF); }
inline __mmask8 hi8(__mmask16 m) { return static_cast<__mmask8>(m >> 8); }
// Two 8-lane double halves narrowed back to 16 floats.
inline __m512 to_ps(__m512d lo, __m512d hi) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
}

double mse_row(const float* p, const float* t, float* g, int64_t C, double scale) {
  const __m512d two = _mm512_set1_pd(2.0), vs = _mm512_set1_pd(scale),
                vc = _mm512_set1_pd(static_cast<double>(C));
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  for_each16(C, [&](int64_t j, __mmask16 m) {
    const __m512 pv = _mm512_maskz_loadu_ps(m, p + j), tv = _mm512_maskz_loadu_ps(m, t + j);
    const __m512d e0 = _mm512_sub_pd(lo_pd(pv), lo_pd(tv)), e1 = _mm512_sub_pd(hi_pd(pv), hi_pd(tv));
    s0 = _mm512_add_pd(s0, _mm512_mul_pd(e0, e0));
    s1 = _mm512_add_pd(s1, _mm512_mul_pd(e1, e1));
    if (g) {  // 2 e scale / C, in the reference's order
      const __m512d g0 = _mm512_div_pd(_mm512_mul_pd(_mm512_mul_pd(two, e0), vs), vc);
      const __m512d g1 = _mm512_div_pd(_mm512_mul_pd(_mm512_mul_pd(two, e1), vs), vc);
      _mm512_mask_storeu_ps(g + j, m, to_ps(g0, g1));
    }
  });
  return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1)) / C;
}

// The cross-entropy row stays the reference one (double exp): an AVX-512 row with float exp16
// (commit a59ebdf) agreed with it to ~6e-7 relative, yet that was enough to change what a small
// seq2seq model (tests/programs/example_lstm_seq2seq.py) learned compared with the AVX2 and ref
// paths. A double-precision exp in lanes would be needed to vectorize it without that.
double cce_logits_row(const float* p, const float* t, int64_t label, float* g, int64_t C,
                      double scale) {
  return loss_rows_stub.at(Slot::cpu_ref)->cce_logits_row(p, t, label, g, C, scale);
}

}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const LossRows kLossRows{mse_row, cce_logits_row};

}  // namespace corenn::cpu::avx512
