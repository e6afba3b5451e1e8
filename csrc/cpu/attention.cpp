// Fused masked softmax of attention scores on the CPU; the math and shapes are in ops/attention.h.
//
// A row (b, h, i) is Tk contiguous floats. Rows are independent, so they are split over threads;
// each row is handled in three passes while it sits in L1: build scale * s with -inf where the
// masks say no (and its max), exponentiate and normalise (the vector rows of
// cpu/simd/softmax_rows.h when available), then the dropout draw. The random draw is a function of (seed, element index) only (core/rng.h), so the
// result does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/parallel.h"
#include "core/rng.h"
#include "ops/attention.h"

namespace corenn::cpu {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Rows per thread below which splitting costs more than it saves (a row costs ~Tk exps).
int64_t row_grain(int64_t tk) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(tk, 1)); }

// Reference row softmax: the plain loop the AVX2 version must match.
void softmax_row_ref(const float* row, float* out, int64_t n, float mx) {
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    const float e = row[j] == kNegInf ? 0.0f : std::exp(row[j] - mx);
    out[j] = e;
    sum += e;
  }
  const float inv = 1.0f / sum;
  for (int64_t j = 0; j < n; ++j) out[j] *= inv;
}

void softmax_grad_row_ref(const float* p, const float* g, float* out, int64_t n, float scale) {
  float dot = 0.0f;
  for (int64_t j = 0; j < n; ++j) dot += p[j] * g[j];
  for (int64_t j = 0; j < n; ++j) out[j] = scale * p[j] * (g[j] - dot);
}

}  // namespace

void masked_softmax_forward(const SoftmaxProblem& p, const float* scores, float* probs, float rate,
                            uint64_t seed, float* dropped) {
  const int64_t tq = p.tq, tk = p.tk, rows = p.b * p.h * tq;
  const auto row_fn = attention_softmax_rows_stub.cpu()->softmax_row;
  const float keep_scale = rate > 0.0f ? 1.0f / (1.0f - rate) : 1.0f;
  parallel_for(0, rows, row_grain(tk), [&](int64_t lo, int64_t hi) {
    std::vector<float> buf(static_cast<size_t>(tk));
    float* v = buf.data();
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t i = r % tq, b = r / (tq * p.h);
      const float* s = scores + r * tk;
      float* out = probs + r * tk;
      const bool row_on = !p.qm || p.qm[b * tq + i] != 0.0f;
      const float* am = p.am ? p.am + (p.am_per_head ? r : b * tq + i) * tk : nullptr;
      const float* km = p.km ? p.km + b * tk : nullptr;
      const int64_t jmax = p.causal ? std::min(tk, i + 1) : tk;  // causal: j <= i
      float mx = kNegInf;
      bool any = false;
      for (int64_t j = 0; j < tk; ++j) {
        const bool ok = row_on && j < jmax && (!am || am[j] != 0.0f) && (!km || km[j] != 0.0f);
        const float x = ok ? p.scale * s[j] : kNegInf;
        v[j] = x;
        any |= ok;
        // NaN scores: max stays finite here, the NaN reaches the sum through exp and spreads
        if (x > mx) mx = x;
      }
      if (!any) {
        // Keras adds -1e9 to every masked score: with all of them masked the row is uniform
        // over all Tk keys (a padded query of MultiHeadAttention averages the values)
        std::fill(out, out + tk, 1.0f / static_cast<float>(tk));
      } else {
        if (mx == kNegInf) mx = 0.0f;  // every allowed score is -inf or NaN: let exp decide
        row_fn(v, out, tk, mx);
      }
      if (dropped) {
        float* d = dropped + r * tk;
        for (int64_t j = 0; j < tk; ++j) {
          const bool keep = uniform01(seed, static_cast<uint64_t>(r * tk + j)) >= rate;
          d[j] = keep ? out[j] * keep_scale : 0.0f;
        }
      }
    }
  });
}

void masked_softmax_backward(const SoftmaxProblem& p, const float* probs, const float* dprobs,
                             float* dscores, float rate, const float* dropped) {
  const int64_t tk = p.tk, rows = p.b * p.h * p.tq;
  const auto grad_fn = attention_softmax_rows_stub.cpu()->softmax_grad_row;
  const float keep_scale = rate > 0.0f ? 1.0f / (1.0f - rate) : 1.0f;
  parallel_for(0, rows, row_grain(tk), [&](int64_t lo, int64_t hi) {
    std::vector<float> buf(dropped ? static_cast<size_t>(tk) : 0);
    for (int64_t r = lo; r < hi; ++r) {
      const float* g = dprobs + r * tk;
      if (dropped) {  // through the dropout: dL/dprobs = dL/ddropped * keep / (1 - rate)
        const float* d = dropped + r * tk;
        for (int64_t j = 0; j < tk; ++j) buf[j] = d[j] != 0.0f ? g[j] * keep_scale : 0.0f;
        g = buf.data();
      }
      grad_fn(probs + r * tk, g, dscores + r * tk, tk, p.scale);
    }
  });
}

namespace {
constexpr SoftmaxRowKernels kRefRows{softmax_row_ref, softmax_grad_row_ref};
}  // namespace
CORENN_DEFINE_DISPATCH(SoftmaxRowKernelsRef, attention_softmax_rows_stub,
                       "masked_softmax.rows");
CORENN_REGISTER_KERNEL(attention_softmax_rows_stub, Slot::cpu_ref, &kRefRows);

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(masked_softmax_forward_stub, Slot::cpu_ref, masked_softmax_forward);
CORENN_REGISTER_KERNEL(masked_softmax_backward_stub, Slot::cpu_ref, masked_softmax_backward);
}  // namespace corenn::cpu
