#include "core/parallel.h"

#include <sched.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <thread>

#include "core/check.h"

namespace corenn {

namespace {

// More threads than this is a mistake (a million threads would exhaust the process), not a tuning
// choice: set_num_threads refuses it, and an environment variable above it is clamped.
constexpr int kMaxThreads = 1024;

// CPUs in this process's affinity mask (taskset, cgroups cpusets, a container's --cpuset-cpus):
// the machine's core count overcounts there, and a thread per core we may not run on only waits.
int affinity_cpus() {
#ifdef __linux__
  for (int ncpu = 1024; ncpu <= (1 << 16); ncpu *= 2) {
    cpu_set_t* set = CPU_ALLOC(ncpu);
    if (!set) break;
    const size_t size = CPU_ALLOC_SIZE(ncpu);
    const int rc = sched_getaffinity(0, size, set);
    const int err = errno;
    const int count = rc == 0 ? CPU_COUNT_S(size, set) : 0;
    CPU_FREE(set);
    if (rc == 0 && count > 0) return count;
    if (rc != 0 && err == EINVAL) continue;  // more CPUs than the mask holds: try a larger one
    break;
  }
#endif
  const unsigned h = std::thread::hardware_concurrency();
  return h > 0 ? static_cast<int>(h) : 1;
}

// The leading positive integer of an environment variable ("3" or OpenMP's list "3,2"), else 0.
int env_threads(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return 0;
  while (*v == ' ') ++v;
  long n = 0;
  bool digits = false;
  for (; *v >= '0' && *v <= '9'; ++v) {
    digits = true;
    n = std::min<long>(n * 10 + (*v - '0'), kMaxThreads);
  }
  return digits && n > 0 ? static_cast<int>(n) : 0;
}

int compute_default() {
  if (const int n = env_threads("CORENN_NUM_THREADS")) return n;
  if (const int n = env_threads("OMP_NUM_THREADS")) return n;
  return std::min(affinity_cpus(), kMaxThreads);
}

std::atomic<int> g_num_threads{0};  // 0 = not set: use the default

// Read once, when the module loads (the environment of a running process is not re-read).
const int g_default_threads = compute_default();

}  // namespace

int default_num_threads() { return g_default_threads > 0 ? g_default_threads : compute_default(); }

int get_num_threads() {
  const int n = g_num_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : default_num_threads();
}

void set_num_threads(int n) {
  CORENN_CHECK(n <= kMaxThreads, "set_num_threads: n = ", n, " is more than the ", kMaxThreads,
               " threads corenn allows; pass the number of cores to use, or 0 for the default");
  g_num_threads.store(n > 0 ? n : 0, std::memory_order_relaxed);
}

}  // namespace corenn
