// Threading: one persistent pool (core/thread_pool.h), one knob on top (corenn.set_num_threads).
//
// parallel_for splits [begin, end) into chunks of at least `grain` iterations -- up to
// kChunksPerThread per thread, so a thread the OS has descheduled holds little of the work -- and
// calls f(chunk_begin, chunk_end) on each, on the pool's threads and the calling thread. Small
// ranges run inline on the calling thread, so callers need no "is it worth it" logic of their own.
// Chunk boundaries depend only on (begin, end, grain, thread count), never on which thread runs
// which chunk, so a reduction whose partials are indexed by chunk is reproducible bit for bit.
// A caller must not index per-thread state by thread: any thread may run any chunk.
//
// Thread count: set_num_threads(n), else CORENN_NUM_THREADS, else OMP_NUM_THREADS (its first
// number), else the CPUs this process may run on (sched_getaffinity). The variables are read once,
// when the module loads.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/thread_pool.h"

namespace corenn {

int get_num_threads();
void set_num_threads(int n);  // n <= 0 restores the default
int default_num_threads();    // the default: environment, else CPU affinity

constexpr int kChunksPerThread = 4;

// The chunk count parallel_for uses for n iterations; chunk c is
// [begin + floor(n * c / chunks), begin + floor(n * (c + 1) / chunks)).
inline int64_t parallel_chunks(int64_t n, int64_t grain, int threads) {
  if (n <= 0) return 0;
  const int64_t max_chunks = std::max<int64_t>(1, n / std::max<int64_t>(grain, 1));
  const int64_t t = std::max(threads, 1);
  const int64_t chunks = std::min<int64_t>(max_chunks, int64_t{kChunksPerThread} * t);
  // A whole number of chunks per thread: 22 GEMM row panels at grain 4 made 5 chunks, 3 for one
  // thread and 2 for the other (13 vs 9 panels, the step 18% longer than an even split); 4 chunks
  // give each thread 11.
  return chunks >= t ? chunks / t * t : chunks;
}

template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int threads = get_num_threads();
  const int64_t chunks =
      threads > 1 && !in_parallel_region() ? parallel_chunks(n, grain, threads) : 1;
  if (chunks <= 1) {
    f(begin, end);
    return;
  }
  // floor(n * c / chunks) without forming n * c (it overflows for n near 2^62): with
  // n = q * chunks + r it is q * c + r * c / chunks.
  const int64_t q = n / chunks, r = n % chunks;
  struct Ctx {
    const F* f;
    int64_t begin, q, r, chunks;
  } ctx{&f, begin, q, r, chunks};
  auto body = [](void* p, int64_t c) {
    const Ctx& x = *static_cast<const Ctx*>(p);
    const int64_t lo = x.begin + x.q * c + x.r * c / x.chunks;
    const int64_t hi = x.begin + x.q * (c + 1) + x.r * (c + 1) / x.chunks;
    (*x.f)(lo, hi);
  };
  detail::pool_run(chunks, static_cast<int>(std::min<int64_t>(threads, chunks)), body, &ctx);
}

}  // namespace corenn
