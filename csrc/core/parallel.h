// Threading: OpenMP underneath, one knob on top (corenn.set_num_threads).
//
// parallel_for splits [begin, end) into at most num_threads contiguous chunks of at least `grain`
// iterations and calls f(chunk_begin, chunk_end) on each; small ranges run inline on the calling
// thread, so callers need no "is it worth it" logic of their own. Chunks are deterministic for a
// given thread count, which keeps reductions reproducible.
#pragma once

#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace corenn {

int get_num_threads();
void set_num_threads(int n);  // n <= 0 restores the default (available cores)

template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int64_t max_chunks = std::max<int64_t>(1, n / std::max<int64_t>(grain, 1));
  const int threads = static_cast<int>(std::min<int64_t>(get_num_threads(), max_chunks));
#ifdef _OPENMP
  if (threads > 1 && !omp_in_parallel()) {
#pragma omp parallel num_threads(threads)
    {
      const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
      // floor(n * t / nt) without forming n * t (it overflows for n near 2^62): with
      // n = q * nt + r it is q * t + r * t / nt, the same chunk boundaries exactly.
      const int64_t q = n / nt, r = n % nt;
      const int64_t lo = begin + q * t + r * t / nt, hi = begin + q * (t + 1) + r * (t + 1) / nt;
      if (lo < hi) f(lo, hi);
    }
    return;
  }
#endif
  (void)threads;
  f(begin, end);
}

}  // namespace corenn
