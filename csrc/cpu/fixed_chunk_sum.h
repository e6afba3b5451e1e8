// Deterministic parallel reductions: a fixed chunking of [0, n) that does not depend on the
// thread count, one partial per chunk, partials combined in chunk order. Same bits for 1 or 16
// threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/parallel.h"

namespace corenn::cpu {

// Calls body(lo, hi, partial) for each chunk of `chunk` items; `partial` is the chunk's own
// Acc (value-initialised). Chunks run in parallel, at least `grain_chunks` per thread. Returns the
// per-chunk partials, in order, for the caller to combine.
template <class Acc, class Body>
std::vector<Acc> fixed_chunk_map(int64_t n, int64_t chunk, int64_t grain_chunks, const Body& body) {
  chunk = std::max<int64_t>(1, chunk);
  const int64_t chunks = (n + chunk - 1) / chunk;
  std::vector<Acc> partial(static_cast<size_t>(chunks));
  parallel_for(0, chunks, std::max<int64_t>(1, grain_chunks), [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) body(c * chunk, std::min(n, (c + 1) * chunk), partial[c]);
  });
  return partial;
}

}  // namespace corenn::cpu
