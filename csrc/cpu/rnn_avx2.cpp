// AVX2/FMA gate math of the recurrent cells, for the Keras defaults: activation tanh, recurrent
// activation sigmoid. Same contract and results (to float rounding) as the scalar cell kernels of
// rnn.cpp (see CellKernels in ops/rnn.h); compiled with -mavx2 -mfma, registered in the avx2 slot
// of rnn_default_cells_stub.
//
// Math: sigmoid8 / tanh8 from cpu/vec_math_avx2.h (accuracy there).
#include <immintrin.h>

#include <cstdint>

#include "cpu/vec_math_avx2.h"
#include "ops/rnn.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx2 {

namespace {

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

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const CellKernels kRnnCells{lstm_fwd, lstm_bwd, gru_fwd, gru_bwd, simple_fwd, simple_bwd};

}  // namespace corenn::cpu::avx2
