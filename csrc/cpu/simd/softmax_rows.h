// The rows of the fused masked softmax (attention_softmax_rows_stub's avx2 / avx512 slots;
// SoftmaxRowKernels in ops/attention.h holds the contract, cpu/attention.cpp the reference
// loops), written once over a vector-traits type V and instantiated by attention_avx2.cpp and
// attention_avx512.cpp. exp from simd/vec_math.h. The last n % V::lanes entries of a row run
// through the same body under a lane mask (simd::for_each_block), never a scalar std::exp tail
// and never touching memory past the row.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <limits>

#include "cpu/simd/loops.h"
#include "cpu/simd/vec_math.h"

namespace corenn::cpu::simd {

template <class V>
struct SoftmaxRows {
  using reg = typename V::reg;

  // out[j] = exp(row[j] - mx) / sum, exactly 0 where row[j] is -inf; out may be row.
  static void softmax_row(const float* row, float* out, int64_t n, float mx) {
    const reg vmx = V::set1(mx), vninf = V::set1(-std::numeric_limits<float>::infinity());
    reg acc = V::zero();
    for_each_block<V>(n, [&](const auto& b) {
      // a tail's dead lanes read -inf, so the same compare that zeroes masked-out entries keeps
      // them out of the sum (exp never returns 0: its input is clamped)
      const reg x = b.load(row, vninf);
      const reg e = V::zero_unless(V::template cmp<_CMP_NEQ_UQ>(x, vninf), exp<V>(V::sub(x, vmx)));
      b.store(out, e);
      acc = V::add(acc, e);
    });
    const reg inv = V::set1(1.0f / V::hsum(acc));
    for_each_block<V>(n, [&](const auto& b) { b.store(out, V::mul(b.load(out), inv)); });
  }

  // out[j] = scale * p[j] * (g[j] - sum_k p[k] g[k]).
  static void softmax_grad_row(const float* p, const float* g, float* out, int64_t n, float scale) {
    reg acc = V::zero();
    for_each_block<V>(n, [&](const auto& b) { acc = V::fmadd(b.load(p), b.load(g), acc); });
    const reg dot = V::set1(V::hsum(acc)), s = V::set1(scale);
    for_each_block<V>(n, [&](const auto& b) {
      b.store(out, V::mul(V::mul(s, b.load(p)), V::sub(b.load(g), dot)));
    });
  }
};

}  // namespace corenn::cpu::simd
