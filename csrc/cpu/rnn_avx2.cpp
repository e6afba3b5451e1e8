// AVX2/FMA gate math of the recurrent cells, for the Keras defaults: activation tanh, recurrent
// activation sigmoid. Same contract and results (to float rounding) as the scalar cell kernels of
// rnn.cpp (see CellKernels in ops/rnn.h); compiled with -mavx2 -mfma, called only on Isa::avx2.
//
// Math: exp8(x) = 2^n e^r, n = round(x log2 e), r = x - n ln2 (ln2 split in two for exactness),
//       e^r = 1 + r + r^2 P(r), P a degree-4 least-squares fit made for corenn on
//       [-ln2/2, ln2/2] (2e-8 relative); x clamped to [-87, 87] so 2^n stays a normal float.
//       sigmoid8(x) = 1 / (1 + e^-x).
//       tanh8(x) = sign(x) (1 - 2 / (e^(2|x|) + 1)) for |x| >= 0.625; below, where the subtraction
//       would lose relative accuracy, x (1 + x^2 Q(x^2)) with Q a degree-4 fit (5e-8 relative).
// Units are processed 8 at a time; the last u % 8 lanes go through masked loads and stores.
#include <immintrin.h>

#include <cstdint>

#include "ops/rnn.h"

namespace corenn::cpu::avx2 {

namespace {

inline __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);
  __m256 p = _mm256_set1_ps(1.3929576610e-03f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3598581929e-03f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1666503645e-02f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666598352e-01f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000000093e-01f));
  const __m256 er = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(er, _mm256_castsi256_ps(bits));
}

inline __m256 sigmoid8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

inline __m256 tanh8(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 ax = _mm256_andnot_ps(sign, x);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp8(_mm256_add_ps(ax, ax));
  __m256 big = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
  big = _mm256_or_ps(big, _mm256_and_ps(x, sign));
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 q = _mm256_set1_ps(-6.2217068013e-03f);
  q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(2.1085831696e-02f));
  q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(-5.3870259634e-02f));
  q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(1.3332902107e-01f));
  q = _mm256_fmadd_ps(q, z, _mm256_set1_ps(-3.3333330317e-01f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(x, z), q, x);
  const __m256 use_small = _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ);
  return _mm256_blendv_ps(big, small, use_small);
}

// Lane mask for the first `k` (1..8) lanes.
inline __m256i lanes(int64_t k) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(k)), idx);
}

// Loads / stores of 8 lanes at j, masked when fewer than 8 remain; a null pointer reads zeros.
struct Lanes {
  int64_t j, u;
  bool full() const { return j + 8 <= u; }
  __m256 load(const float* p) const {
    if (!p) return _mm256_setzero_ps();
    return full() ? _mm256_loadu_ps(p + j) : _mm256_maskload_ps(p + j, lanes(u - j));
  }
  void store(float* p, __m256 v) const {
    if (full()) _mm256_storeu_ps(p + j, v);
    else _mm256_maskstore_ps(p + j, lanes(u - j), v);
  }
};

inline __m256 dsig(__m256 y) { return _mm256_mul_ps(y, _mm256_sub_ps(_mm256_set1_ps(1.0f), y)); }
inline __m256 dtanh(__m256 y) { return _mm256_fnmadd_ps(y, y, _mm256_set1_ps(1.0f)); }

void lstm_fwd(float* z, const float* c_prev, float* c, float* h, int64_t u, RnnAct, RnnAct) {
  for (int64_t j = 0; j < u; j += 8) {
    const Lanes l{j, u};
    const __m256 i = sigmoid8(l.load(z)), f = sigmoid8(l.load(z + u));
    const __m256 g = tanh8(l.load(z + 2 * u)), o = sigmoid8(l.load(z + 3 * u));
    const __m256 cj = _mm256_fmadd_ps(f, l.load(c_prev), _mm256_mul_ps(i, g));
    l.store(z, i), l.store(z + u, f), l.store(z + 2 * u, g), l.store(z + 3 * u, o);
    l.store(c, cj);
    l.store(h, _mm256_mul_ps(o, tanh8(cj)));
  }
}

void lstm_bwd(const float* z, const float* c, const float* c_prev, const float* dh, float* dc,
              float* dz, int64_t u, RnnAct, RnnAct) {
  for (int64_t j = 0; j < u; j += 8) {
    const Lanes l{j, u};
    const __m256 i = l.load(z), f = l.load(z + u), g = l.load(z + 2 * u), o = l.load(z + 3 * u);
    const __m256 tc = tanh8(l.load(c)), d = l.load(dh);
    const __m256 dcj = _mm256_fmadd_ps(_mm256_mul_ps(d, o), dtanh(tc), l.load(dc));
    l.store(dz, _mm256_mul_ps(_mm256_mul_ps(dcj, g), dsig(i)));
    l.store(dz + u, _mm256_mul_ps(_mm256_mul_ps(dcj, l.load(c_prev)), dsig(f)));
    l.store(dz + 2 * u, _mm256_mul_ps(_mm256_mul_ps(dcj, i), dtanh(g)));
    l.store(dz + 3 * u, _mm256_mul_ps(_mm256_mul_ps(d, tc), dsig(o)));
    l.store(dc, _mm256_mul_ps(dcj, f));
  }
}

void gru_fwd(float* xg, const float* rec, const float* h_prev, float* rh, float* h, int64_t u,
             RnnAct, RnnAct) {
  for (int64_t j = 0; j < u; j += 8) {
    const Lanes l{j, u};
    const __m256 z = sigmoid8(_mm256_add_ps(l.load(xg), l.load(rec)));
    const __m256 r = sigmoid8(_mm256_add_ps(l.load(xg + u), l.load(rec + u)));
    const __m256 rhj = l.load(rec + 2 * u);
    const __m256 hh = tanh8(_mm256_fmadd_ps(r, rhj, l.load(xg + 2 * u)));
    const __m256 hp = l.load(h_prev);
    l.store(xg, z), l.store(xg + u, r), l.store(xg + 2 * u, hh);
    l.store(rh, rhj);
    l.store(h, _mm256_fmadd_ps(z, _mm256_sub_ps(hp, hh), hh));  // z h + (1 - z) hh
  }
}

void gru_bwd(const float* g, const float* rh, const float* h_prev, float* dh, float* dgx, float* dgr,
             int64_t u, RnnAct, RnnAct) {
  const __m256 one = _mm256_set1_ps(1.0f);
  for (int64_t j = 0; j < u; j += 8) {
    const Lanes l{j, u};
    const __m256 z = l.load(g), r = l.load(g + u), hh = l.load(g + 2 * u), d = l.load(dh);
    const __m256 dah = _mm256_mul_ps(_mm256_mul_ps(d, _mm256_sub_ps(one, z)), dtanh(hh));
    const __m256 daz = _mm256_mul_ps(_mm256_mul_ps(d, _mm256_sub_ps(l.load(h_prev), hh)), dsig(z));
    const __m256 dar = _mm256_mul_ps(_mm256_mul_ps(dah, l.load(rh)), dsig(r));
    l.store(dgx, daz), l.store(dgr, daz);
    l.store(dgx + u, dar), l.store(dgr + u, dar);
    l.store(dgx + 2 * u, dah), l.store(dgr + 2 * u, _mm256_mul_ps(dah, r));
    l.store(dh, _mm256_mul_ps(d, z));
  }
}

void simple_fwd(float* a, float* h, int64_t u, RnnAct) {
  for (int64_t j = 0; j < u; j += 8) {
    const Lanes l{j, u};
    const __m256 v = tanh8(l.load(a));
    l.store(a, v), l.store(h, v);
  }
}

void simple_bwd(const float* h, const float* dh, float* dz, int64_t u, RnnAct) {
  for (int64_t j = 0; j < u; j += 8) {
    const Lanes l{j, u};
    l.store(dz, _mm256_mul_ps(l.load(dh), dtanh(l.load(h))));
  }
}

}  // namespace

const CellKernels& cell_kernels() {
  static const CellKernels k{lstm_fwd, lstm_bwd, gru_fwd, gru_bwd, simple_fwd, simple_bwd};
  return k;
}

}  // namespace corenn::cpu::avx2
