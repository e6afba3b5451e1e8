// AVX-512 gate math of the recurrent cells for the Keras defaults (activation tanh, recurrent
// activation sigmoid): rnn_avx2.cpp on 16 lanes, registered in the avx512 slot of
// rnn_default_cells_stub. Same contract and results (to float rounding) as the scalar cells of
// rnn.cpp (CellKernels in ops/rnn.h). The last u % 16 units run through the same code under a lane
// mask (zero-filled loads, masked stores), so no scalar tail and no access past a row.
//
// Math: sigmoid16 / tanh16 from cpu/vec_math_avx512.h, the 16-lane twins of the AVX2 ones (same
// polynomials, same accuracy).
#include <immintrin.h>

#include <cstdint>

#include "cpu/vec_math_avx512.h"
#include "ops/rnn.h"
#include "cpu/isa_kernels.h"

namespace corenn::cpu::avx512 {

namespace {

// 16 lanes at j under mask m; a null pointer reads zeros (c_prev / h_prev at the first step).
struct Lanes {
  int64_t j;
  __mmask16 m;
  __m512 load(const float* p) const { return p ? _mm512_maskz_loadu_ps(m, p + j) : _mm512_setzero_ps(); }
  void store(float* p, __m512 v) const { _mm512_mask_storeu_ps(p + j, m, v); }
};

inline __m512 dsig(__m512 y) { return _mm512_mul_ps(y, _mm512_sub_ps(_mm512_set1_ps(1.0f), y)); }
inline __m512 dtanh(__m512 y) { return _mm512_fnmadd_ps(y, y, _mm512_set1_ps(1.0f)); }

void lstm_fwd(float* z, const float* c_prev, float* c, float* h, int64_t u, RnnAct, RnnAct) {
  for_each16(u, [&](int64_t j, __mmask16 m) {
    const Lanes l{j, m};
    const __m512 i = sigmoid16(l.load(z)), f = sigmoid16(l.load(z + u));
    const __m512 g = tanh16(l.load(z + 2 * u)), o = sigmoid16(l.load(z + 3 * u));
    const __m512 cj = _mm512_fmadd_ps(f, l.load(c_prev), _mm512_mul_ps(i, g));
    l.store(z, i), l.store(z + u, f), l.store(z + 2 * u, g), l.store(z + 3 * u, o);
    l.store(c, cj);
    l.store(h, _mm512_mul_ps(o, tanh16(cj)));
  });
}

void lstm_bwd(const float* z, const float* c, const float* c_prev, const float* dh, float* dc,
              float* dz, int64_t u, RnnAct, RnnAct) {
  for_each16(u, [&](int64_t j, __mmask16 m) {
    const Lanes l{j, m};
    const __m512 i = l.load(z), f = l.load(z + u), g = l.load(z + 2 * u), o = l.load(z + 3 * u);
    const __m512 tc = tanh16(l.load(c)), d = l.load(dh);
    const __m512 dcj = _mm512_fmadd_ps(_mm512_mul_ps(d, o), dtanh(tc), l.load(dc));
    l.store(dz, _mm512_mul_ps(_mm512_mul_ps(dcj, g), dsig(i)));
    l.store(dz + u, _mm512_mul_ps(_mm512_mul_ps(dcj, l.load(c_prev)), dsig(f)));
    l.store(dz + 2 * u, _mm512_mul_ps(_mm512_mul_ps(dcj, i), dtanh(g)));
    l.store(dz + 3 * u, _mm512_mul_ps(_mm512_mul_ps(d, tc), dsig(o)));
    l.store(dc, _mm512_mul_ps(dcj, f));
  });
}

void gru_fwd(float* xg, const float* rec, const float* h_prev, float* rh, float* h, int64_t u,
             RnnAct, RnnAct) {
  for_each16(u, [&](int64_t j, __mmask16 m) {
    const Lanes l{j, m};
    const __m512 z = sigmoid16(_mm512_add_ps(l.load(xg), l.load(rec)));
    const __m512 r = sigmoid16(_mm512_add_ps(l.load(xg + u), l.load(rec + u)));
    const __m512 rhj = l.load(rec + 2 * u);
    const __m512 hh = tanh16(_mm512_fmadd_ps(r, rhj, l.load(xg + 2 * u)));
    const __m512 hp = l.load(h_prev);
    l.store(xg, z), l.store(xg + u, r), l.store(xg + 2 * u, hh);
    l.store(rh, rhj);
    l.store(h, _mm512_fmadd_ps(z, _mm512_sub_ps(hp, hh), hh));  // z h + (1 - z) hh
  });
}

void gru_bwd(const float* g, const float* rh, const float* h_prev, float* dh, float* dgx, float* dgr,
             int64_t u, RnnAct, RnnAct) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for_each16(u, [&](int64_t j, __mmask16 m) {
    const Lanes l{j, m};
    const __m512 z = l.load(g), r = l.load(g + u), hh = l.load(g + 2 * u), d = l.load(dh);
    const __m512 dah = _mm512_mul_ps(_mm512_mul_ps(d, _mm512_sub_ps(one, z)), dtanh(hh));
    const __m512 daz = _mm512_mul_ps(_mm512_mul_ps(d, _mm512_sub_ps(l.load(h_prev), hh)), dsig(z));
    const __m512 dar = _mm512_mul_ps(_mm512_mul_ps(dah, l.load(rh)), dsig(r));
    l.store(dgx, daz), l.store(dgr, daz);
    l.store(dgx + u, dar), l.store(dgr + u, dar);
    l.store(dgx + 2 * u, dah), l.store(dgr + 2 * u, _mm512_mul_ps(dah, r));
    l.store(dh, _mm512_mul_ps(d, z));
  });
}

void simple_fwd(float* a, float* h, int64_t u, RnnAct) {
  for_each16(u, [&](int64_t j, __mmask16 m) {
    const Lanes l{j, m};
    const __m512 v = tanh16(l.load(a));
    l.store(a, v), l.store(h, v);
  });
}

void simple_bwd(const float* h, const float* dh, float* dz, int64_t u, RnnAct) {
  for_each16(u, [&](int64_t j, __mmask16 m) {
    const Lanes l{j, m};
    l.store(dz, _mm512_mul_ps(l.load(dh), dtanh(l.load(h))));
  });
}

}  // namespace

// Constant-initialized; cpu/isa_registry.cpp puts it in its slot (cpu/isa_kernels.h says why not here).
extern const CellKernels kRnnCells{lstm_fwd, lstm_bwd, gru_fwd, gru_bwd, simple_fwd, simple_bwd};

}  // namespace corenn::cpu::avx512
