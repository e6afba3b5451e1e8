// Embedding kernels (CPU): a row gather and its transpose, a row scatter-add.
//
//   forward   y[i, :] = W[idx[i], :]                       i < n (all index positions, flattened)
//   backward  dW[r, :] = sum over {i : idx[i] == r} of dy[i, :]     (0 for rows never looked up)
// Shapes: idx (n,), W / dW (v, d), y / dy (n, d); all contiguous row-major float32.
// The registered kernels (end of file) validate every index (0 <= idx < v, whole numbers for
// float) before the templates below run.
//
// Threads. forward: over index positions (disjoint y rows). backward: over VOCABULARY rows of dW:
// each thread scans every index but accumulates only the rows it owns, so no two threads ever
// write the same dW row (no atomics), and each row's sum runs in index order whatever the thread
// count: the result is bit-for-bit reproducible. The scan costs n reads per thread, small next to
// the n*d adds. The add loop is plain C++ the compiler vectorises; no ISA-specific variant (the
// kernel is memory bound).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/check.h"
#include "core/parallel.h"
#include "ops/embedding.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kGrainFloats = 32768;  // below this much work a second thread costs more than it saves

template <class I>
inline int64_t row_of(I x) { return static_cast<int64_t>(x); }
}  // namespace

// ---- reference / kernels (the plain loop is the kernel: a gather has nothing to block)

template <class I>
void embedding_forward(int64_t n, int64_t d, const I* idx, const float* w, float* y) {
  parallel_for(0, n, std::max<int64_t>(1, kGrainFloats / std::max<int64_t>(d, 1)),
               [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      std::memcpy(y + i * d, w + row_of(idx[i]) * d, d * sizeof(float));
  });
}

template <class I>
void embedding_backward(int64_t n, int64_t v, int64_t d, const I* idx, const float* dy, float* dw) {
  const auto rows = [&](int64_t lo, int64_t hi) {
    std::memset(dw + lo * d, 0, (hi - lo) * d * sizeof(float));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t r = row_of(idx[i]);
      if (r < lo || r >= hi) continue;
      float* out = dw + r * d;
      const float* g = dy + i * d;
      for (int64_t j = 0; j < d; ++j) out[j] += g[j];
    }
  };
  if ((n + v) * d < kGrainFloats) {
    rows(0, v);
    return;
  }
  parallel_for(0, v, 1, rows);
}

// ---- entry: the three index types the op accepts

#define CORENN_EMBEDDING_INSTANTIATE(I)                                                    \
  template void embedding_forward<I>(int64_t, int64_t, const I*, const float*, float*);   \
  template void embedding_backward<I>(int64_t, int64_t, int64_t, const I*, const float*, float*);
CORENN_EMBEDDING_INSTANTIATE(int32_t)
CORENN_EMBEDDING_INSTANTIATE(int64_t)
CORENN_EMBEDDING_INSTANTIATE(float)
#undef CORENN_EMBEDDING_INSTANTIATE

}  // namespace corenn::cpu

// ---- registration: the cpu_ref slots of embedding_forward_stub / embedding_backward_stub -------

namespace corenn::cpu {
namespace {

// The first bad index raises, naming it: a bad call must neither read nor write outside W / dW.
template <class I>
void check_index_values(const char* op, const I* idx, int64_t n, int64_t v) {
  for (int64_t i = 0; i < n; ++i) {
    const I x = idx[i];
    bool in_range;
    if constexpr (std::is_floating_point_v<I>) {
      CORENN_CHECK(std::isfinite(x) && x == std::floor(x), op, ": indices must be whole numbers, got ",
                   "indices[", i, "] = ", x, " (valid range [0, ", v, "))");
      in_range = x >= 0 && static_cast<double>(x) < static_cast<double>(v);
    } else {
      in_range = static_cast<int64_t>(x) >= 0 && static_cast<int64_t>(x) < v;
    }
    CORENN_CHECK(in_range, op, ": index out of range: indices[", i, "] = ", x,
                 ", valid range is [0, ", v, ") (input_dim ", v, ")");
  }
}

// Calls f(typed pointer) for the index dtype, after validating every value.
template <class F>
void with_indices(const char* op, const Tensor& indices, int64_t v, const F& f) {
  switch (indices.dtype()) {
    case DType::int32:
      check_index_values(op, indices.data<int32_t>(), indices.numel(), v);
      return f(indices.data<int32_t>());
    case DType::int64:
      check_index_values(op, indices.data<int64_t>(), indices.numel(), v);
      return f(indices.data<int64_t>());
    case DType::float32:
      check_index_values(op, indices.data<float>(), indices.numel(), v);
      return f(indices.data<float>());
    default:
      break;   // refused by the op entry (check_args)
  }
}

// An int8-quantized Embedding's table (layers/quantization.py; the entry allows it on the CPU
// only): rows widened to float32.
void forward_int8(const Tensor& indices, const Tensor& weight, const Tensor& y) {
  const int64_t v = weight.size(0), d = weight.size(1);
  with_indices("embedding_forward", indices, v, [&](const auto* idx) {
    if (y.numel() == 0) return;
    const int8_t* w = weight.data<int8_t>();
    float* out = y.data<float>();
    parallel_for(0, indices.numel(), std::max<int64_t>(1, kGrainFloats / std::max<int64_t>(d, 1)),
                 [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const int8_t* row = w + row_of(idx[i]) * d;
        for (int64_t j = 0; j < d; ++j) out[i * d + j] = static_cast<float>(row[j]);
      }
    });
  });
}

void forward(const Tensor& indices, const Tensor& weight, const Tensor& y) {
  if (weight.dtype() == DType::int8) return forward_int8(indices, weight, y);
  const int64_t v = weight.size(0), d = weight.size(1);
  with_indices("embedding_forward", indices, v, [&](const auto* idx) {
    if (y.numel() == 0) return;
    embedding_forward(indices.numel(), d, idx, weight.data<float>(), y.data<float>());
  });
}

void backward(const Tensor& indices, const Tensor& dy, const Tensor& dweight) {
  const int64_t v = dweight.size(0), d = dweight.size(1);
  with_indices("embedding_backward", indices, v, [&](const auto* idx) {
    if (dweight.numel() == 0) return;
    embedding_backward(indices.numel(), v, d, idx, dy.data<float>(), dweight.data<float>());
  });
}

}  // namespace

CORENN_REGISTER_KERNEL(embedding_forward_stub, Slot::cpu_ref, forward);
CORENN_REGISTER_KERNEL(embedding_backward_stub, Slot::cpu_ref, backward);

}  // namespace corenn::cpu
