// The AVX2/FMA vector traits: 8 floats in a __m256. Include only from files compiled with
// -mavx2 -mfma (names *_avx2.cpp). The kernels in csrc/cpu/simd/ are templates over a traits type
// like this one and its AVX-512 twin (f32_avx512.h); each per-ISA .cpp instantiates them with its
// own traits only.
//
// Why a namespace per ISA: a template instantiated with the same arguments in an -mavx2 file and
// an -mavx512f file is one COMDAT symbol, and the linker keeps a single copy for both paths. The
// traits type is part of every instantiation's mangled name, so avx2::F32 and avx512::F32 give
// each ISA copies of its own (checked at build time by tools/check_isa_comdat.py).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace corenn::cpu::avx2 {

struct F32 {
  using reg = __m256;
  using mask = __m256i;  // lanes selected by their sign bit (vmaskmovps)
  static constexpr int lanes = 8;

  // Lanes [0, k) set, k in [0, 8].
  static mask first(int64_t k) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(k)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }

  // A lane predicate (a compare's result): all-ones lanes where true, as VCMPPS gives it.
  using pred = __m256;
  using ireg = __m256i;  // 8 int32 lanes
  using dreg = __m256d;  // 4 doubles: half a reg, widened
  using dmask = __m256i; // lanes of a dreg selected by their sign bit
  using u64 = __m256i;   // 4 uint64 lanes: half a reg's lanes, for 64-bit integer streams

  static mask all() { return _mm256_set1_epi32(-1); }

  static reg zero() { return _mm256_setzero_ps(); }
  static reg set1(float v) { return _mm256_set1_ps(v); }
  static reg loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static reg load(const float* p, mask m) { return _mm256_maskload_ps(p, m); }  // zero fill
  static void store(float* p, reg v, mask m) { _mm256_maskstore_ps(p, m, v); }
  // Lanes outside m read `fill` instead of 0.
  static reg load(const float* p, mask m, reg fill) {
    return _mm256_blendv_ps(fill, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  // Lanes where `hit` (and, with m, inside m) read p, the others 0.
  static reg load_where(const float* p, pred hit) { return _mm256_and_ps(_mm256_loadu_ps(p), hit); }
  static reg load_where(const float* p, pred hit, mask m) {
    return _mm256_and_ps(_mm256_maskload_ps(p, m), hit);
  }
  static ireg iset1(int32_t v) { return _mm256_set1_epi32(v); }
  static ireg iloadu(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void istoreu(int32_t* p, ireg v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static ireg iload(const int32_t* p, mask m) { return _mm256_maskload_epi32(p, m); }
  static void istore(int32_t* p, ireg v, mask m) { _mm256_maskstore_epi32(p, m, v); }

  static reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  static reg div(reg a, reg b) { return _mm256_div_ps(a, b); }
  // 1 / a for finite a with |a| < 2^126: a 12-bit estimate and one Newton step (~2 ulp), a few
  // times the throughput of VDIVPS. +-inf and huge a give NaN or 0: callers bound a.
  static reg recip(reg a) {
    const reg r = _mm256_rcp_ps(a);
    return _mm256_fmadd_ps(r, _mm256_fnmadd_ps(a, r, _mm256_set1_ps(1.0f)), r);
  }
  static reg fmadd(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }    // a b + c
  static reg fnmadd(reg a, reg b, reg c) { return _mm256_fnmadd_ps(a, b, c); }  // c - a b
  // MAXPS / MINPS return the second operand when either is NaN (vec_math.h relies on it).
  static reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
  static reg min(reg a, reg b) { return _mm256_min_ps(a, b); }
  static reg and_(reg a, reg b) { return _mm256_and_ps(a, b); }
  static reg or_(reg a, reg b) { return _mm256_or_ps(a, b); }
  static reg andnot(reg a, reg b) { return _mm256_andnot_ps(a, b); }  // ~a & b
  // a < b (ordered) ? if_less : otherwise, per lane.
  static reg select_lt(reg a, reg b, reg if_less, reg otherwise) {
    return _mm256_blendv_ps(otherwise, if_less, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
  }
  static reg fmsub(reg a, reg b, reg c) { return _mm256_fmsub_ps(a, b, c); }    // a b - c

  // Predicates. cmp<_CMP_...>(a, b) as VCMPPS; select(p, t, f) = p ? t : f per lane.
  template <int kPredicate>
  static pred cmp(reg a, reg b) { return _mm256_cmp_ps(a, b, kPredicate); }
  static pred icmpeq(ireg a, ireg b) { return _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b)); }
  static pred pnone() { return _mm256_setzero_ps(); }
  static pred pand(pred a, pred b) { return _mm256_and_ps(a, b); }
  static pred within(pred p, mask m) { return _mm256_and_ps(p, _mm256_castsi256_ps(m)); }
  static bool any(pred p) { return !_mm256_testz_ps(p, p); }
  static int popcount(pred p) { return __builtin_popcount(static_cast<unsigned>(_mm256_movemask_ps(p))); }
  static reg select(pred p, reg if_true, reg if_false) { return _mm256_blendv_ps(if_false, if_true, p); }
  static ireg iselect(pred p, ireg if_true, ireg if_false) {
    return _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(if_false), _mm256_castsi256_ps(if_true), p));
  }
  static reg zero_unless(pred p, reg v) { return _mm256_and_ps(v, p); }
  // seen | (v is NaN), for a seen whose lanes are 0 or all ones (a NaN pattern): one unordered
  // compare against seen itself.
  static pred or_nan(pred seen, reg v) { return _mm256_cmp_ps(v, seen, _CMP_UNORD_Q); }

  // Horizontal sum / max of the 8 lanes (max: MAXPS order, so a NaN lane can be dropped).
  static float hsum(reg v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float hmax(reg v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }

  // Doubles: the low / high 4 lanes of a reg widened, and their masks from a reg's mask.
  static dreg widen_lo(reg v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
  static dreg widen_hi(reg v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
  static dmask dmask_lo(mask m) { return _mm256_cvtepi32_epi64(_mm256_castsi256_si128(m)); }
  static dmask dmask_hi(mask m) { return _mm256_cvtepi32_epi64(_mm256_extracti128_si256(m, 1)); }
  static dreg dzero() { return _mm256_setzero_pd(); }
  static dreg dset1(double v) { return _mm256_set1_pd(v); }
  static dreg dadd(dreg a, dreg b) { return _mm256_add_pd(a, b); }
  static dreg dsub(dreg a, dreg b) { return _mm256_sub_pd(a, b); }
  static dreg dmul(dreg a, dreg b) { return _mm256_mul_pd(a, b); }
  static dreg dloadu(const double* p) { return _mm256_loadu_pd(p); }
  static void dstoreu(double* p, dreg v) { _mm256_storeu_pd(p, v); }
  static dreg dload(const double* p, dmask m) { return _mm256_maskload_pd(p, m); }
  static void dstore(double* p, dreg v, dmask m) { _mm256_maskstore_pd(p, m, v); }
  static dreg dkeep(dreg v, dmask m) { return _mm256_and_pd(v, _mm256_castsi256_pd(m)); }
  static double dhsum(dreg v) {
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }

  // 64-bit integer lanes (the SplitMix64 stream of dropout). AVX2 has no 64 x 64-bit multiply;
  // the low 64 bits of a c are lo(a) lo(c) + ((hi(a) lo(c) + lo(a) hi(c)) << 32), from three
  // 32 x 32 -> 64-bit multiplies.
  static u64 u64_set1(uint64_t v) { return _mm256_set1_epi64x(static_cast<int64_t>(v)); }
  // first, first + step, first + 2 step, ... (mod 2^64)
  static u64 u64_iota(uint64_t first, uint64_t step) {
    return _mm256_setr_epi64x(static_cast<int64_t>(first), static_cast<int64_t>(first + step),
                              static_cast<int64_t>(first + 2 * step),
                              static_cast<int64_t>(first + 3 * step));
  }
  static u64 u64_add(u64 a, u64 b) { return _mm256_add_epi64(a, b); }
  static u64 u64_xor(u64 a, u64 b) { return _mm256_xor_si256(a, b); }
  template <int kShift>
  static u64 u64_srli(u64 a) { return _mm256_srli_epi64(a, kShift); }
  static u64 u64_mul(u64 a, uint64_t c) {
    const __m256i c_lo = _mm256_set1_epi64x(static_cast<int64_t>(c & 0xffffffffULL));
    const __m256i c_hi = _mm256_set1_epi64x(static_cast<int64_t>(c >> 32));
    const __m256i lo = _mm256_mul_epu32(a, c_lo);
    const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), c_lo),
                                           _mm256_mul_epu32(a, c_hi));
    return _mm256_add_epi64(lo, _mm256_slli_epi64(cross, 32));
  }
  // The top 24 bits of lo's 4 lanes then hi's, as 8 floats (exact).
  static reg u64_top24_ps(u64 lo, u64 hi) {
    const __m256i idx = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    const auto top = [&](u64 z) {
      return _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(_mm256_srli_epi64(z, 40), idx));
    };
    return _mm256_cvtepi32_ps(_mm256_set_m128i(top(hi), top(lo)));
  }

  static reg round_nearest(reg a) {
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // 2^n for lanes holding whole numbers n, built in the exponent bits (n + 127 must fit them).
  static reg pow2i(reg n) {
    return _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
  }
};

}  // namespace corenn::cpu::avx2
