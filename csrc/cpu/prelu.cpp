// prelu CPU kernels (math in ops/prelu.h). x is walked as rows of its last axis; a row's alpha
// segment is found once per row from its outer index (alpha's stride is 0 along the batch and the
// shared axes), then the row is one branch-free select per value, which the compiler vectorizes
// (two loop versions: alpha per value, or one alpha for the whole row when the last axis is
// shared). The backward pass computes dx and dalpha in the same sweep over x and dy; dalpha is
// reduced in C++: rows split over threads, each summing into its own partial dalpha, partials
// added in thread order (reproducible for a given thread count).
#include <algorithm>
#include <cstring>

#include "core/aligned_buffer.h"
#include "core/parallel.h"
#include "ops/prelu.h"

namespace corenn::cpu {

int64_t PreluLayout::row_offset(int64_t r) const {
  int64_t off = 0;
  for (int64_t i = static_cast<int64_t>(outer_dims.size()) - 1; i >= 0; --i) {
    off += (r % outer_dims[i]) * outer_strides[i];
    r /= outer_dims[i];
  }
  return off;
}

namespace {

int64_t grain(int64_t inner) { return std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(inner, 1)); }

}  // namespace

void prelu_forward(const PreluLayout& l, const float* x, const float* alpha, float* y) {
  parallel_for(0, l.rows, grain(l.inner), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* xr = x + r * l.inner;
      float* yr = y + r * l.inner;
      const float* a = alpha + l.row_offset(r);
      if (l.inner_step) {
        for (int64_t i = 0; i < l.inner; ++i) yr[i] = xr[i] > 0.0f ? xr[i] : a[i] * xr[i];
      } else {
        const float s = a[0];
        for (int64_t i = 0; i < l.inner; ++i) yr[i] = xr[i] > 0.0f ? xr[i] : s * xr[i];
      }
    }
  });
}

void prelu_backward(const PreluLayout& l, const float* x, const float* alpha, const float* dy,
                    float* dx, float* dalpha) {
  const int64_t work = l.rows * l.inner;
  const int parts = static_cast<int>(std::min<int64_t>(
      work < (int64_t{1} << 15) ? 1 : std::max(1, get_num_threads()), std::max<int64_t>(l.rows, 1)));
  thread_local AlignedBuffer buffer;
  float* partial = nullptr;
  if (dalpha) {
    partial = buffer.get(static_cast<size_t>(parts * l.alpha_size));
    std::memset(partial, 0, sizeof(float) * parts * l.alpha_size);
  }
  parallel_for(0, parts, 1, [&](int64_t t_lo, int64_t t_hi) {
    for (int64_t t = t_lo; t < t_hi; ++t) {
      float* pa = partial ? partial + t * l.alpha_size : nullptr;
      for (int64_t r = l.rows * t / parts, r_hi = l.rows * (t + 1) / parts; r < r_hi; ++r) {
        const int64_t off = l.row_offset(r);
        const float* xr = x + r * l.inner;
        const float* dyr = dy + r * l.inner;
        const float* a = alpha + off;
        if (dx) {
          float* dxr = dx + r * l.inner;
          if (l.inner_step)
            for (int64_t i = 0; i < l.inner; ++i) dxr[i] = xr[i] > 0.0f ? dyr[i] : a[i] * dyr[i];
          else
            for (int64_t i = 0; i < l.inner; ++i) dxr[i] = xr[i] > 0.0f ? dyr[i] : a[0] * dyr[i];
        }
        if (pa) {
          float* par = pa + off;
          if (l.inner_step) {
            for (int64_t i = 0; i < l.inner; ++i) par[i] += xr[i] > 0.0f ? 0.0f : dyr[i] * xr[i];
          } else {
            float s = 0.0f;
            for (int64_t i = 0; i < l.inner; ++i) s += xr[i] > 0.0f ? 0.0f : dyr[i] * xr[i];
            par[0] += s;
          }
        }
      }
    }
  });
  if (dalpha) {
    for (int t = 1; t < parts; ++t)
      for (int64_t i = 0; i < l.alpha_size; ++i) partial[i] += partial[t * l.alpha_size + i];
    std::memcpy(dalpha, partial, sizeof(float) * l.alpha_size);
  }
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(prelu_forward_stub, Slot::cpu_ref, prelu_forward);
CORENN_REGISTER_KERNEL(prelu_backward_stub, Slot::cpu_ref, prelu_backward);
}  // namespace corenn::cpu
