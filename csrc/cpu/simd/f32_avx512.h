// The AVX-512 vector traits: 16 floats in a __m512, tails under a __mmask16. Include only from
// files compiled with -mavx512f/vl/bw/dq (names *_avx512.cpp). The twin of f32_avx2.h (same
// members, same meaning; see there for why each ISA has its own namespace).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace corenn::cpu::avx512 {

struct F32 {
  using reg = __m512;
  using mask = __mmask16;
  static constexpr int lanes = 16;

  // Lanes [0, k) set, k in [0, 16].
  static mask first(int64_t k) { return static_cast<mask>(k >= 16 ? 0xFFFFu : (1u << k) - 1u); }

  using pred = __mmask16;  // a lane predicate (a compare's result)
  using ireg = __m512i;    // 16 int32 lanes
  using dreg = __m512d;    // 8 doubles: half a reg, widened
  using dmask = __mmask8;
  using u64 = __m512i;     // 8 uint64 lanes: half a reg's lanes, for 64-bit integer streams

  static mask all() { return static_cast<mask>(0xFFFFu); }

  static reg zero() { return _mm512_setzero_ps(); }
  static reg set1(float v) { return _mm512_set1_ps(v); }
  static reg loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static reg load(const float* p, mask m) { return _mm512_maskz_loadu_ps(m, p); }  // zero fill
  static void store(float* p, reg v, mask m) { _mm512_mask_storeu_ps(p, m, v); }
  // Lanes outside m read `fill` instead of 0.
  static reg load(const float* p, mask m, reg fill) { return _mm512_mask_loadu_ps(fill, m, p); }
  // Lanes where `hit` (and, with m, inside m) read p, the others 0.
  static reg load_where(const float* p, pred hit) { return _mm512_maskz_loadu_ps(hit, p); }
  static reg load_where(const float* p, pred hit, mask m) {
    return _mm512_maskz_loadu_ps(static_cast<mask>(hit & m), p);
  }
  static ireg iset1(int32_t v) { return _mm512_set1_epi32(v); }
  static ireg iloadu(const int32_t* p) { return _mm512_loadu_si512(p); }
  static void istoreu(int32_t* p, ireg v) { _mm512_storeu_si512(p, v); }
  static ireg iload(const int32_t* p, mask m) { return _mm512_maskz_loadu_epi32(m, p); }
  static void istore(int32_t* p, ireg v, mask m) { _mm512_mask_storeu_epi32(p, m, v); }

  static reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_ps(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  static reg div(reg a, reg b) { return _mm512_div_ps(a, b); }
  // 1 / a for finite a with |a| < 2^126: a 14-bit estimate and one Newton step (~1 ulp), a few
  // times the throughput of VDIVPS. +-inf and huge a give NaN or 0: callers bound a.
  static reg recip(reg a) {
    const reg r = _mm512_rcp14_ps(a);
    return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(a, r, _mm512_set1_ps(1.0f)), r);
  }
  static reg fmadd(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }    // a b + c
  static reg fnmadd(reg a, reg b, reg c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a b
  // VMAXPS / VMINPS return the second operand when either is NaN (vec_math.h relies on it).
  static reg max(reg a, reg b) { return _mm512_max_ps(a, b); }
  static reg min(reg a, reg b) { return _mm512_min_ps(a, b); }
  static reg and_(reg a, reg b) { return _mm512_and_ps(a, b); }
  static reg or_(reg a, reg b) { return _mm512_or_ps(a, b); }
  static reg andnot(reg a, reg b) { return _mm512_andnot_ps(a, b); }  // ~a & b
  // a < b (ordered) ? if_less : otherwise, per lane.
  static reg select_lt(reg a, reg b, reg if_less, reg otherwise) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), otherwise, if_less);
  }
  static reg fmsub(reg a, reg b, reg c) { return _mm512_fmsub_ps(a, b, c); }    // a b - c

  // Predicates. cmp<_CMP_...>(a, b) as VCMPPS; select(p, t, f) = p ? t : f per lane.
  template <int kPredicate>
  static pred cmp(reg a, reg b) { return _mm512_cmp_ps_mask(a, b, kPredicate); }
  static pred icmpeq(ireg a, ireg b) { return _mm512_cmpeq_epi32_mask(a, b); }
  static pred pnone() { return 0; }
  static pred pand(pred a, pred b) { return static_cast<pred>(a & b); }
  static pred within(pred p, mask m) { return static_cast<pred>(p & m); }
  static bool any(pred p) { return p != 0; }
  static int popcount(pred p) { return __builtin_popcount(static_cast<unsigned>(p)); }
  static reg select(pred p, reg if_true, reg if_false) { return _mm512_mask_blend_ps(p, if_false, if_true); }
  static ireg iselect(pred p, ireg if_true, ireg if_false) {
    return _mm512_mask_blend_epi32(p, if_false, if_true);
  }
  static reg zero_unless(pred p, reg v) { return _mm512_maskz_mov_ps(p, v); }
  static pred or_nan(pred seen, reg v) {
    return static_cast<pred>(seen | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
  }

  // Horizontal sum / max of the 16 lanes (max: MAXPS pairwise, as the AVX2 twin).
  static float hsum(reg v) { return _mm512_reduce_add_ps(v); }
  static float hmax(reg v) {
    const __m256 h = _mm256_max_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }

  // Doubles: the low / high 8 lanes of a reg widened, and their masks from a reg's mask.
  static dreg widen_lo(reg v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
  static dreg widen_hi(reg v) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)); }
  static dmask dmask_lo(mask m) { return static_cast<dmask>(m & 0xFF); }
  static dmask dmask_hi(mask m) { return static_cast<dmask>(m >> 8); }
  static dreg dzero() { return _mm512_setzero_pd(); }
  static dreg dset1(double v) { return _mm512_set1_pd(v); }
  static dreg dadd(dreg a, dreg b) { return _mm512_add_pd(a, b); }
  static dreg dsub(dreg a, dreg b) { return _mm512_sub_pd(a, b); }
  static dreg dmul(dreg a, dreg b) { return _mm512_mul_pd(a, b); }
  static dreg dloadu(const double* p) { return _mm512_loadu_pd(p); }
  static void dstoreu(double* p, dreg v) { _mm512_storeu_pd(p, v); }
  static dreg dload(const double* p, dmask m) { return _mm512_maskz_loadu_pd(m, p); }
  static void dstore(double* p, dreg v, dmask m) { _mm512_mask_storeu_pd(p, m, v); }
  static dreg dkeep(dreg v, dmask m) { return _mm512_maskz_mov_pd(m, v); }
  static double dhsum(dreg v) { return _mm512_reduce_add_pd(v); }

  // 64-bit integer lanes (the SplitMix64 stream of dropout; AVX-512DQ multiplies 64 x 64 bits).
  static u64 u64_set1(uint64_t v) { return _mm512_set1_epi64(static_cast<int64_t>(v)); }
  // first, first + step, first + 2 step, ... (mod 2^64)
  static u64 u64_iota(uint64_t first, uint64_t step) {
    return _mm512_add_epi64(u64_set1(first), _mm512_mullo_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7),
                                                                u64_set1(step)));
  }
  static u64 u64_add(u64 a, u64 b) { return _mm512_add_epi64(a, b); }
  static u64 u64_xor(u64 a, u64 b) { return _mm512_xor_si512(a, b); }
  template <int kShift>
  static u64 u64_srli(u64 a) { return _mm512_srli_epi64(a, kShift); }
  static u64 u64_mul(u64 a, uint64_t c) { return _mm512_mullo_epi64(a, u64_set1(c)); }
  // The top 24 bits of lo's 8 lanes then hi's, as 16 floats (exact).
  static reg u64_top24_ps(u64 lo, u64 hi) {
    const __m256i b0 = _mm512_cvtepi64_epi32(_mm512_srli_epi64(lo, 40));
    const __m256i b1 = _mm512_cvtepi64_epi32(_mm512_srli_epi64(hi, 40));
    return _mm512_cvtepi32_ps(_mm512_inserti64x4(_mm512_castsi256_si512(b0), b1, 1));
  }

  static reg round_nearest(reg a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  // 2^n for lanes holding whole numbers n, built in the exponent bits (n + 127 must fit them).
  static reg pow2i(reg n) {
    return _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
  }
};

}  // namespace corenn::cpu::avx512
