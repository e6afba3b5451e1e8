// Transpose kernels (CPU): y (contiguous, `shape`) gathers x with element strides `xstride`.
//
//   y[i_0, ..., i_{k-1}] = x[sum_d i_d * xstride[d]]
// Shapes arrive simplified by the entry (ops/transpose.cpp): k >= 2, no unit axes, and one axis q
// with xstride[q] == 1 (x's innermost).
//
// Two cases:
//   q == k-1   x's innermost axis stays innermost: y is a gather of contiguous runs of
//              shape[k-1] elements, one memcpy each; parallel over the runs.
//   q <  k-1   the inner problem is a 2-D transpose between axis q (contiguous in x) and axis
//              k-1 (contiguous in y). It is cut into kTile x kTile tiles, so that both the
//              kTile source rows and the kTile destination rows of a tile stay in L1 while it is
//              copied; tiles times the positions of the other axes are the parallel work items.
// Elements are moved as 4- or 8-byte words, so every dtype uses the same code.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/check.h"
#include "core/parallel.h"
#include "ops/transpose.h"

namespace corenn::cpu {

namespace {

constexpr int64_t kTile = 32;
constexpr int64_t kGrainElems = 16384;

// x offset of outer position `pos` (an index into the axes `axes`, row-major over their sizes).
int64_t outer_offset(int64_t pos, const std::vector<int64_t>& axes, const std::vector<int64_t>& shape,
                     const std::vector<int64_t>& stride) {
  int64_t off = 0;
  for (size_t i = axes.size(); i-- > 0;) {
    const int64_t a = axes[i];
    off += (pos % shape[a]) * stride[a];
    pos /= shape[a];
  }
  return off;
}

// Runs of x's innermost axis (it is y's innermost too): one memcpy per run.
void gather_runs(const char* x, char* y, const std::vector<int64_t>& shape,
                 const std::vector<int64_t>& xstride, size_t elem) {
  const int64_t k = static_cast<int64_t>(shape.size()), run = shape[k - 1];
  std::vector<int64_t> outer(k - 1);
  int64_t runs = 1;
  for (int64_t d = 0; d < k - 1; ++d) outer[d] = d, runs *= shape[d];
  const size_t bytes = static_cast<size_t>(run) * elem;
  parallel_for(0, runs, std::max<int64_t>(1, kGrainElems / run), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      std::memcpy(y + r * bytes, x + outer_offset(r, outer, shape, xstride) * elem, bytes);
  });
}

template <class T>
void tiled(const T* x, T* y, const std::vector<int64_t>& shape, const std::vector<int64_t>& xstride,
           int64_t q) {
  const int64_t k = static_cast<int64_t>(shape.size()), last = k - 1;
  std::vector<int64_t> ystride(k);
  for (int64_t d = k - 1, s = 1; d >= 0; --d) ystride[d] = s, s *= shape[d];
  std::vector<int64_t> outer;
  int64_t outer_count = 1;
  for (int64_t d = 0; d < k; ++d)
    if (d != q && d != last) outer.push_back(d), outer_count *= shape[d];
  const int64_t nq = shape[q], nl = shape[last];
  const int64_t tq = (nq + kTile - 1) / kTile, tl = (nl + kTile - 1) / kTile;
  const int64_t ysq = ystride[q], xsl = xstride[last];
  const int64_t items = outer_count * tq * tl;
  parallel_for(0, items, std::max<int64_t>(1, kGrainElems / (kTile * kTile)), [&](int64_t lo, int64_t hi) {
    for (int64_t it = lo; it < hi; ++it) {
      const int64_t o = it / (tq * tl), t = it % (tq * tl);
      const int64_t a0 = (t / tl) * kTile, b0 = (t % tl) * kTile;
      const int64_t a1 = std::min(nq, a0 + kTile), b1 = std::min(nl, b0 + kTile);
      const T* xs = x + outer_offset(o, outer, shape, xstride);
      T* ys = y + outer_offset(o, outer, shape, ystride);
      for (int64_t a = a0; a < a1; ++a) {
        T* yr = ys + a * ysq;
        const T* xc = xs + a;
        for (int64_t b = b0; b < b1; ++b) yr[b] = xc[b * xsl];
      }
    }
  });
}

}  // namespace

void transpose(const void* x, void* y, const std::vector<int64_t>& shape,
               const std::vector<int64_t>& xstride, size_t elem_size) {
  const int64_t k = static_cast<int64_t>(shape.size());
  const int64_t q = std::find(xstride.begin(), xstride.end(), 1) - xstride.begin();
  if (q == k - 1)
    return gather_runs(static_cast<const char*>(x), static_cast<char*>(y), shape, xstride, elem_size);
  // one tile copy per element size: the storage dtypes bring 1- and 2-byte elements (int8 /
  // uint8 / int16 / float16), which an 8-byte copy would read and write past the ends of
  switch (elem_size) {
    case 1: return tiled(static_cast<const uint8_t*>(x), static_cast<uint8_t*>(y), shape, xstride, q);
    case 2: return tiled(static_cast<const uint16_t*>(x), static_cast<uint16_t*>(y), shape, xstride, q);
    case 4: return tiled(static_cast<const uint32_t*>(x), static_cast<uint32_t*>(y), shape, xstride, q);
    case 8: return tiled(static_cast<const uint64_t*>(x), static_cast<uint64_t*>(y), shape, xstride, q);
    default: CORENN_CHECK(false, "transpose: elements of ", elem_size, " bytes (no tensor dtype has that size)");
  }
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(transpose_stub, Slot::cpu_ref, transpose);
}  // namespace corenn::cpu
