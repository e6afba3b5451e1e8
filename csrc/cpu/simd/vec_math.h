// Vectorised exp / sigmoid / tanh over a vector-traits type V (f32_avx2.h: 8 lanes,
// f32_avx512.h: 16 lanes), shared by the activation, recurrent-cell and attention kernels. One
// definition, so both ISAs compute the same polynomials with the same accuracy. Instantiate only
// with the including file's own traits (every name here is a template over V: see f32_avx2.h).
//
// exp(x): e^x = 2^n e^r with n = round(x log2 e), r = x - n ln2 in [-ln2/2, ln2/2] (ln2 split
// into a hi and lo part so r is exact to float precision), e^r = 1 + r + r^2 P(r), P a degree-5
// weighted least-squares fit to (e^r - 1 - r) / r^2 made for corenn (1.6e-10 relative), 2^n
// built in the exponent bits. Inputs are clamped to [-87.3, 88.7], so the result never goes
// subnormal: exp of anything below -87.3 returns ~1.2e-38 instead of 0, harmless for every caller
// (they add it to 1 or to a sum that holds at least one e^0); at the top n reaches 128, whose
// exponent field is inf's, so exp(+inf) = +inf (and sigmoid(-inf) = 0). ~2 ulp.
// NaN: MAXPS / MINPS return their SECOND operand when either is NaN, so the clamp takes x second
// (max(lo, x), min(hi, .)) and a NaN lane stays NaN through the clamp and the polynomial (its
// float -> int conversion gives 0x80000000, an exponent field of 1.0): exp(NaN) = NaN, and with it
// sigmoid, tanh and every softmax sum. Same instruction count as max(x, lo).
// sigmoid(x) = 1 / (1 + e^-x).
// tanh uses 1 - 2/(e^2|x| + 1) for |x| >= 0.625 and, below, where that subtraction would lose
// relative precision, x + x z Q(z) with z = x^2 and Q a degree-4 least-squares fit to
// (tanh(x)/x - 1)/z (1.6e-8 relative).
#pragma once

namespace corenn::cpu::simd {

template <class V>
inline typename V::reg exp(typename V::reg x) {
  x = V::min(V::set1(88.7f), V::max(V::set1(-87.3f), x));
  const typename V::reg n = V::round_nearest(V::mul(x, V::set1(1.44269504088896341f)));
  typename V::reg r = V::fnmadd(n, V::set1(0.693359375f), x);
  r = V::fnmadd(n, V::set1(-2.12194440e-4f), r);
  typename V::reg p = V::set1(1.9750498402e-04f);
  p = V::fmadd(p, r, V::set1(1.3933204496e-03f));
  p = V::fmadd(p, r, V::set1(8.3335209884e-03f));
  p = V::fmadd(p, r, V::set1(4.1666470237e-02f));
  p = V::fmadd(p, r, V::set1(1.6666666056e-01f));
  p = V::fmadd(p, r, V::set1(5.0000000127e-01f));
  p = V::fmadd(p, V::mul(r, r), V::add(r, V::set1(1.0f)));
  return V::mul(p, V::pow2i(n));
}

template <class V>
inline typename V::reg sigmoid(typename V::reg x) {
  const typename V::reg one = V::set1(1.0f);
  return V::div(one, V::add(one, exp<V>(V::sub(V::zero(), x))));
}

// tanh for |x| < 0.625: x + x z Q(z), z = x^2.
template <class V>
inline typename V::reg tanh_near_zero(typename V::reg x) {
  const typename V::reg z = V::mul(x, x);
  typename V::reg p = V::set1(-6.0913367111e-03f);
  p = V::fmadd(p, z, V::set1(2.0992938210e-02f));
  p = V::fmadd(p, z, V::set1(-5.3849858306e-02f));
  p = V::fmadd(p, z, V::set1(1.3332761289e-01f));
  p = V::fmadd(p, z, V::set1(-3.3333328832e-01f));
  return V::fmadd(V::mul(p, z), x, x);
}

template <class V>
inline typename V::reg tanh(typename V::reg x) {
  const typename V::reg sign = V::set1(-0.0f);
  const typename V::reg ax = V::andnot(sign, x);
  const typename V::reg one = V::set1(1.0f);
  // large |x|: 1 - 2 / (e^(2|x|) + 1), sign restored afterwards
  const typename V::reg e = exp<V>(V::add(ax, ax));
  typename V::reg big = V::sub(one, V::div(V::set1(2.0f), V::add(e, one)));
  big = V::or_(big, V::and_(sign, x));
  const typename V::reg small = tanh_near_zero<V>(x);
  return V::select_lt(ax, V::set1(0.625f), small, big);
}

// tanh and sigmoid for the recurrent cells, without exp or a divide: their gate math (five of
// these per unit and step, on data already in L1) was bound by the latency of the chain
// exp -> divide -> tanh(c) -> h, a quarter of an LSTM forward.
// fast_tanh(x) = x P(s) / Q(s), s = x^2, x clamped to [-9, 9] (tanh(9) rounds to 1): P of degree 6
// and Q of degree 4, a weighted least-squares fit to tanh's relative error on [0, 9] made for
// corenn (9e-11 in exact arithmetic; ~6 ulp as evaluated here, where float rounding of P and Q
// dominates), 1/Q by V::recip (Q >= 1). The result is clamped to [-1, 1]. fast_sigmoid(x) =
// 1/2 + tanh(x/2)/2: within 2e-7 of sigmoid absolutely (not relatively: below ~1e-7 it reads 0),
// always in [0, 1]. The clamps take x second, so a NaN lane stays NaN (see exp above).
template <class V>
inline typename V::reg fast_tanh(typename V::reg x) {
  const typename V::reg xc = V::min(V::set1(9.0f), V::max(V::set1(-9.0f), x));
  const typename V::reg s = V::mul(xc, xc);
  typename V::reg p = V::set1(2.5808500131e-14f);
  p = V::fmadd(p, s, V::set1(-3.1761120592e-11f));
  p = V::fmadd(p, s, V::set1(4.5746631392e-08f));
  p = V::fmadd(p, s, V::set1(3.3006913900e-05f));
  p = V::fmadd(p, s, V::set1(4.0944122558e-03f));
  p = V::fmadd(p, s, V::set1(1.3856020907e-01f));
  p = V::fmadd(p, s, V::set1(1.0f));
  typename V::reg q = V::set1(1.6702391479e-06f);
  q = V::fmadd(q, s, V::set1(4.3509659497e-04f));
  q = V::fmadd(q, s, V::set1(2.8058927770e-02f));
  q = V::fmadd(q, s, V::set1(4.7189354146e-01f));
  q = V::fmadd(q, s, V::set1(1.0f));
  const typename V::reg y = V::mul(V::mul(xc, p), V::recip(q));
  return V::min(V::set1(1.0f), V::max(V::set1(-1.0f), y));
}

template <class V>
inline typename V::reg fast_sigmoid(typename V::reg x) {
  const typename V::reg half = V::set1(0.5f);
  return V::fmadd(half, fast_tanh<V>(V::mul(half, x)), half);
}

// Derivatives from the activation's output y: sigmoid' = y (1 - y), tanh' = 1 - y^2.
template <class V>
inline typename V::reg dsigmoid_from_y(typename V::reg y) {
  return V::mul(y, V::sub(V::set1(1.0f), y));
}
template <class V>
inline typename V::reg dtanh_from_y(typename V::reg y) {
  return V::fnmadd(y, y, V::set1(1.0f));
}

}  // namespace corenn::cpu::simd
