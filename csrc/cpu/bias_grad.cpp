// Bias gradient (CPU): db[j] = sum_r dy[r, j].
//
// dy is (rows, C) row-major, db is (C,). The work is cut into a fixed grid of tiles, kRowChunk
// rows by kColBlock columns, that does not depend on the thread count; each tile sums its rows in
// double (exact enough for 100k+ rows, and the adds vectorise across columns), tile partials are
// then combined per column in row-chunk order. So the result is bit-identical for any number of
// threads, and a (128, 512) gradient still spreads over cores through its column blocks.
#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "ops/bias_grad.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kRowChunk = 1024;
constexpr int64_t kColBlock = 256;
constexpr int64_t kTileGrain = 32768;  // elements per thread at least
}  // namespace

void bias_grad(const float* dy, float* db, int64_t rows, int64_t cols) {
  const int64_t row_chunks = std::max<int64_t>(1, (rows + kRowChunk - 1) / kRowChunk);
  const int64_t col_blocks = (cols + kColBlock - 1) / kColBlock;
  const int64_t tiles = row_chunks * col_blocks;
  std::vector<double> partial(static_cast<size_t>(row_chunks * cols));
  const int64_t tile_elems = std::max<int64_t>(1, std::min(rows, kRowChunk) * std::min(cols, kColBlock));
  parallel_for(0, tiles, std::max<int64_t>(1, kTileGrain / tile_elems), [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t chunk = t / col_blocks, c0 = (t % col_blocks) * kColBlock;
      const int64_t c1 = std::min(cols, c0 + kColBlock);
      const int64_t r0 = chunk * kRowChunk, r1 = std::min(rows, r0 + kRowChunk);
      double acc[kColBlock] = {};
      for (int64_t r = r0; r < r1; ++r) {
        const float* row = dy + r * cols + c0;
        for (int64_t j = 0; j < c1 - c0; ++j) acc[j] += row[j];
      }
      std::copy(acc, acc + (c1 - c0), partial.begin() + chunk * cols + c0);
    }
  });
  for (int64_t j = 0; j < cols; ++j) {
    double s = 0.0;
    for (int64_t chunk = 0; chunk < row_chunks; ++chunk) s += partial[chunk * cols + j];
    db[j] = static_cast<float>(s);
  }
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(bias_grad_stub, Slot::cpu_ref,
                       +[](const Tensor&, const float* dy, float* db, int64_t rows, int64_t cols) {
                         bias_grad(dy, db, rows, cols);
                       });
}  // namespace corenn::cpu
