// int8 GEMM and the int8-quantized matmul (CPU drivers and the reference kernel); see
// ops/int8_gemm.h for the math.
//
//   a (m, k) int8 row-major, b (k, n) int8 row-major, c (m, n) int32 row-major; x (m, k) and
//   y (m, n) float32 row-major.
//
// B arrives as an Int8Operand, already in the form the active rows kernel (stub "int8_gemm.rows")
// reads: int8 for the reference, 16-bit pair panels for the AVX2 / AVX-512 kernels
// (int8_gemm_avx2.cpp / _avx512*.cpp, VPMADDWD or VPDPWSSD), so their products and sums are the
// same integers as the reference's and the results the same bits. A layer's kernel operand is
// kept between calls (cpu/int8_kept_kernel.cpp), else made for the call (make_operand).
//
// The drivers first make A's rows into the kernel's form (quantized_matmul: Keras' abs-max
// quantizer on each row of x, float32 in its order of operations; quantize_row below, or the ISA
// kernel's own quantize_pairs, which gives the same values), then run tasks of
// kRowBlock rows x a range of columns in parallel: the rows kernel into a local int32 block, and
// for quantized_matmul the dequantizing epilogue y = float(acc) / (s_k[j] * s_x[i]) (+ bias[j])
// (then relu when asked): the rows kernel's vector `dequantize`, or dequantize_row (same bits).
// The columns are split only when there are too few row blocks to keep the threads busy (batch
// 1..100), so a small batch uses every thread too. Every element's integer sum is exact and its
// epilogue elementwise, so any split, any thread count gives the same bits.
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "core/check.h"
#include "core/parallel.h"
#include "ops/int8_gemm.h"

namespace corenn::cpu {

// ---- reference ------------------------------------------------------------------------------

namespace {

void int8_rows_ref(const int8_t* a, const int32_t* /*a_pairs*/, const int8_t* b, int64_t ldb,
                   const int32_t* /*b_pairs*/, int32_t* c, int64_t ldc, int64_t m, int64_t k, int64_t n) {
  for (int64_t i = 0; i < m; ++i) {
    const int8_t* ai = a + i * k;
    int32_t* ci = c + i * ldc;
    std::fill(ci, ci + n, 0);
    for (int64_t p = 0; p < k; ++p) {
      const int32_t av = ai[p];
      const int8_t* bp = b + p * ldb;
      for (int64_t j = 0; j < n; ++j) ci[j] += av * static_cast<int32_t>(bp[j]);
    }
  }
}

const Int8GemmRows kRowsRef{0, int8_rows_ref, nullptr, nullptr};

// Rows per task: a multiple of every rows kernel's tile height (4 for AVX2, 6 for AVX-512).
constexpr int64_t kRowBlock = 48;
// Multiply-adds below which a task is not worth a thread.
constexpr int64_t kMinTaskWork = int64_t{1} << 17;

// v rounded to the nearest integer, ties to even, for |v| < 2^22. Below SSE4.1 (the x86 baseline)
// std::nearbyint is a library call that keeps the quantizer's loop from vectorizing; adding and
// subtracting 1.5 * 2^23 rounds the same way (the sum's unit is 1; the default rounding mode).
// That ISA level has no FMA, so the multiply before it is never contracted into one (which would
// round x s only once, and differently); elsewhere nearbyint is one instruction.
inline float round_half_even(float v) {
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__SSE4_1__)
  constexpr float kRound = 12582912.0f;
  return (v + kRound) - kRound;
#else
  return std::nearbyint(v);
#endif
}

// Keras' AbsMaxQuantizer on one row, float32: s = 127 / (max |x| + 1e-7), q = clip(round(x s)).
// Returns s, or NaN for a row with a NaN or an infinity (its outputs are NaN).
// The portable quantizer (the reference kernel's; the ISA kernels bring their own quantize_pairs,
// which give the same values). Eight independent lanes for the maximum and the finiteness test
// (x - x is 0 for a finite x, NaN otherwise; no reassociation needed); the quantizing loop, with
// round_half_even (|x s| <= 127), is vectorized by the compiler at the baseline ISA.
float quantize_row(const float* x, int8_t* q, int64_t k) {
  constexpr int L = 8;
  float amax8[L] = {}, nan8[L] = {};
  int64_t j = 0;
  for (; j + L <= k; j += L) {
    for (int l = 0; l < L; ++l) {
      const float v = std::fabs(x[j + l]);
      amax8[l] = v > amax8[l] ? v : amax8[l];
      nan8[l] += x[j + l] - x[j + l];
    }
  }
  float amax = 0.0f, nan = 0.0f;
  for (; j < k; ++j) {
    const float v = std::fabs(x[j]);
    amax = v > amax ? v : amax;
    nan += x[j] - x[j];
  }
  for (int l = 0; l < L; ++l) {
    amax = amax8[l] > amax ? amax8[l] : amax;
    nan += nan8[l];
  }
  if (nan != 0.0f || !(amax <= 3.4028235e38f)) {   // nan is 0 unless a value was NaN or infinite
    std::fill(q, q + k, int8_t{0});
    return NAN;
  }
  const float s = 127.0f / (amax + 1e-7f);
  for (int64_t i = 0; i < k; ++i) {
    float r = round_half_even(x[i] * s);
    r = r < -127.0f ? -127.0f : r;
    r = r > 127.0f ? 127.0f : r;
    q[i] = static_cast<int8_t>(static_cast<int32_t>(r));
  }
  return s;
}

// quantized_matmul's epilogue on one row (Int8GemmRows::dequantize; the reference, and every
// ISA's order of operations): z = float(acc) / (s_k[j] * s) (+ bias[j]), relu as the relu op's
// `z < 0 ? 0 : z` (NaN and -0 kept). The ISA kernels bring vector forms of the same operations.
void dequantize_row(const int32_t* acc, const float* sk, float s, const float* bias, bool relu, float* y,
                    int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    float z = static_cast<float>(acc[j]) / (sk[j] * s);
    if (bias) z = z + bias[j];
    y[j] = relu && z < 0.0f ? 0.0f : z;
  }
}

// Tasks: row blocks x column ranges of `w` columns (a multiple of the kernel's panel width), w = n
// unless the row blocks alone are too few for the threads.
struct Tasks {
  int64_t row_blocks, col_groups, w;
};

Tasks plan_tasks(int64_t m, int64_t k, int64_t n, int nr) {
  const int64_t unit = nr > 0 ? nr : 16;
  const int64_t row_blocks = (m + kRowBlock - 1) / kRowBlock;
  const int64_t want = int64_t{kChunksPerThread} * get_num_threads();
  int64_t groups = 1;
  if (row_blocks < want && n > unit) {
    const int64_t per_block = std::min<int64_t>(m, kRowBlock) * k * n;   // work of one row block
    groups = std::min({(want + row_blocks - 1) / row_blocks, (n + unit - 1) / unit,
                       std::max<int64_t>(1, per_block / kMinTaskWork)});
  }
  const int64_t w = ((n + groups - 1) / groups + unit - 1) / unit * unit;
  return Tasks{row_blocks, (n + w - 1) / w, w};
}

// Run body(i0, mb, j0, nb) over the tasks in parallel; grain: enough tasks for kMinTaskWork.
template <class Body>
void run_tasks(const Tasks& t, int64_t m, int64_t k, int64_t n, const Body& body) {
  const int64_t task_work = std::max<int64_t>(1, std::min<int64_t>(m, kRowBlock) * std::min(n, t.w) * k);
  const int64_t grain = std::max<int64_t>(1, kMinTaskWork / task_work);
  parallel_for(0, t.row_blocks * t.col_groups, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t i0 = task / t.col_groups * kRowBlock, j0 = task % t.col_groups * t.w;
      body(i0, std::min(kRowBlock, m - i0), j0, std::min(t.w, n - j0));
    }
  });
}

}  // namespace

inline int32_t pair_word(int8_t lo, int8_t hi) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(lo))) |
                              (static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(hi))) << 16));
}

void int8_pack_row_pairs(const int8_t* a, int32_t* pairs, int64_t m, int64_t k) {
  const int64_t kp = (k + 1) / 2;
  for (int64_t i = 0; i < m; ++i) {
    const int8_t* ai = a + i * k;
    int32_t* out = pairs + i * kp;
    for (int64_t p = 0; p < k / 2; ++p) out[p] = pair_word(ai[2 * p], ai[2 * p + 1]);
    if (k % 2) out[kp - 1] = pair_word(ai[k - 1], 0);
  }
}

void int8_pack_pairs(const int8_t* b, int32_t* pairs, int64_t k, int64_t n, int64_t nr) {
  const int64_t kp = (k + 1) / 2;
  for (int64_t j0 = 0; j0 < n; j0 += nr) {
    int32_t* panel = pairs + (j0 / nr) * kp * nr;
    const int64_t w = std::min(nr, n - j0);
    for (int64_t p = 0; p < kp; ++p) {
      const int8_t* lo = b + 2 * p * n + j0;
      const int8_t* hi = 2 * p + 1 < k ? lo + n : nullptr;
      int32_t* out = panel + p * nr;
      for (int64_t j = 0; j < w; ++j) out[j] = pair_word(lo[j], hi ? hi[j] : int8_t{0});
      std::fill(out + w, out + nr, 0);
    }
  }
}

// ---- drivers ----------------------------------------------------------------------------------

namespace {

// b8 (k, n) int8 as the operand of `rows`: read in place (the reference: `b` points at b8, which
// must outlive the operand), or packed into pair panels.
std::shared_ptr<Int8Operand> make_operand(const int8_t* b8, int64_t k, int64_t n, const Int8GemmRows* rows) {
  auto out = std::make_shared<Int8Operand>();
  out->rows = rows;
  out->k = k;
  out->n = n;
  if (rows->nr > 0) {
    out->pairs.resize(static_cast<size_t>((n + rows->nr - 1) / rows->nr * rows->nr * ((k + 1) / 2)));
    int8_pack_pairs(b8, out->pairs.data(), k, n, rows->nr);
  } else {
    out->b = b8;
  }
  return out;
}

// The rows kernel on rows [i0, i0 + mb) of A (a: int8 rows, ap: their pair words) and columns
// [j0, j0 + nb) of B, into c (mb, nb) with rows ldc apart.
void run_rows(const Int8Operand& b, const int8_t* a, const int32_t* ap, int32_t* c, int64_t ldc, int64_t i0,
              int64_t mb, int64_t j0, int64_t nb) {
  const Int8GemmRows& rows = *b.rows;
  const int64_t k = b.k, kp = (k + 1) / 2;
  if (rows.nr > 0) {
    rows.rows(nullptr, ap + i0 * kp, nullptr, b.n, b.pairs.data() + j0 * kp, c, ldc, mb, k, nb);
  } else {
    rows.rows(a + i0 * k, nullptr, b.b + j0, b.n, nullptr, c, ldc, mb, k, nb);
  }
}

// A grow-only buffer of this thread's, one per Tag: quantized_matmul's per-call buffers (x's
// quantized rows, a task's int32 block) are reused from call to call rather than allocated: a
// batch of 256 x 784 is 400 KB of pair words, which malloc maps afresh, page faults and all, on
// every call. Each holds the largest size its thread has needed, until the thread ends.
template <class T, int Tag>
T* thread_scratch(int64_t count) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < static_cast<size_t>(count)) buffer.resize(static_cast<size_t>(count));
  return buffer.data();
}

}  // namespace

void int8_gemm(const int8_t* a, const int8_t* b8, int32_t* c, int64_t m, int64_t k, int64_t n) {
  const std::shared_ptr<const Int8Operand> operand = make_operand(b8, k, n, int8_gemm_rows_stub.cpu());
  const Int8Operand& b = *operand;
  const int64_t kp = (k + 1) / 2;
  std::vector<int32_t> ap;
  if (b.rows->nr > 0) {
    ap.resize(static_cast<size_t>(m * kp));
    parallel_for(0, m, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, k)),
                 [&](int64_t lo, int64_t hi) { int8_pack_row_pairs(a + lo * k, ap.data() + lo * kp, hi - lo, k); });
  }
  const Tasks t = plan_tasks(m, k, n, b.rows->nr);
  run_tasks(t, m, k, n, [&](int64_t i0, int64_t mb, int64_t j0, int64_t nb) {
    run_rows(b, a, ap.data(), c + i0 * n + j0, n, i0, mb, j0, nb);
  });
}

void quantized_matmul(const float* x, const int8_t* kernel8, const Storage* keep, const float* kernel_scale,
                      const float* bias, bool relu, float* y, int64_t m, int64_t k, int64_t n) {
  if (m == 0 || n == 0) return;
  // The rows kernel is read once: the operand is made for it and it runs it (an ISA switch
  // meanwhile cannot mix formats). The reference reads the int8 kernel in place, so only the
  // ISA kernels' pair panels are worth keeping.
  const Int8GemmRows* rows = int8_gemm_rows_stub.cpu();
  const auto make = [&] { return make_operand(kernel8, k, n, rows); };
  const std::shared_ptr<const Int8Operand> operand =
      keep && rows->nr > 0 ? kept_int8_operand(*keep, rows, k, n, make) : make();
  const Int8Operand& kernel = *operand;
  const int64_t kp = (k + 1) / 2;
  const bool pairs = kernel.rows->nr > 0;
  // x's rows quantized once (s_x per row), as int8 rows (reference) or pair words, in this
  // thread's scratch (the pool's threads read it; each task's block is in its own thread's)
  int8_t* q = pairs ? nullptr : thread_scratch<int8_t, 0>(m * k);
  int32_t* qp = pairs ? thread_scratch<int32_t, 1>(m * kp) : nullptr;
  float* sx = thread_scratch<float, 2>(m);
  parallel_for(0, m, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, k)), [&](int64_t lo, int64_t hi) {
    if (pairs && kernel.rows->quantize_pairs) {
      for (int64_t i = lo; i < hi; ++i) sx[i] = kernel.rows->quantize_pairs(x + i * k, qp + i * kp, k);
    } else if (pairs) {
      std::vector<int8_t> row(static_cast<size_t>(k));
      for (int64_t i = lo; i < hi; ++i) {
        sx[i] = quantize_row(x + i * k, row.data(), k);
        int8_pack_row_pairs(row.data(), qp + i * kp, 1, k);
      }
    } else {
      for (int64_t i = lo; i < hi; ++i) sx[i] = quantize_row(x + i * k, q + i * k, k);
    }
  });
  const Tasks t = plan_tasks(m, k, n, kernel.rows->nr);
  run_tasks(t, m, k, n, [&](int64_t i0, int64_t mb, int64_t j0, int64_t nb) {
    int32_t* acc = thread_scratch<int32_t, 3>(mb * nb);
    run_rows(kernel, q, qp, acc, nb, i0, mb, j0, nb);
    const auto dequantize = kernel.rows->dequantize ? kernel.rows->dequantize : dequantize_row;
    for (int64_t i = 0; i < mb; ++i) {
      dequantize(acc + i * nb, kernel_scale + j0, sx[i0 + i], bias ? bias + j0 : nullptr, relu,
                 y + (i0 + i) * n + j0, nb);
    }
  });
}

CORENN_REGISTER_KERNEL(int8_gemm_stub, Slot::cpu_ref, int8_gemm);
CORENN_REGISTER_KERNEL(quantized_matmul_stub, Slot::cpu_ref, quantized_matmul);
CORENN_REGISTER_KERNEL(int8_gemm_rows_stub, Slot::cpu_ref, &kRowsRef);

}  // namespace corenn::cpu
