#include "core/parallel.h"

#include "core/check.h"

#include <thread>

namespace corenn {

namespace {
int default_threads() {
#ifdef _OPENMP
  return omp_get_num_procs();
#else
  return 1;
#endif
}
int g_num_threads = 0;  // 0 = not set yet: use the default
}  // namespace

int get_num_threads() { return g_num_threads > 0 ? g_num_threads : default_threads(); }

// More threads than this is a mistake (an OpenMP team of a million threads would exhaust the
// process), not a tuning choice: refuse it.
constexpr int kMaxThreads = 1024;

void set_num_threads(int n) {
  CORENN_CHECK(n <= kMaxThreads, "set_num_threads: n = ", n, " is more than the ", kMaxThreads,
               " threads corenn allows; pass the number of cores to use, or 0 for the default");
  g_num_threads = n > 0 ? n : 0;
#ifdef _OPENMP
  omp_set_num_threads(get_num_threads());
#endif
}

}  // namespace corenn
