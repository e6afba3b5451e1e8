// Stress of the pool under ThreadSanitizer: many small jobs, nested jobs, concurrent callers,
// exceptions, resizes.
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <thread>
#include <vector>
#include "core/parallel.h"
using namespace corenn;
int main() {
  std::atomic<long> bad{0};
  for (int round = 0; round < 4; ++round) {
    set_num_threads(2 + round % 3);
    auto caller = [&](int seed) {
      for (int it = 0; it < 3000; ++it) {
        const int64_t n = 1 + (it * 7 + seed) % 200;
        std::vector<int> v(n, 0);
        parallel_for(0, n, 1, [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi; ++i) v[i] += 1;
          if (it % 50 == 0) parallel_for(0, 100, 1, [&](int64_t, int64_t) {});
        });
        for (int x : v) if (x != 1) ++bad;
        if (it % 97 == 0) {
          try {
            parallel_for(0, 64, 1, [&](int64_t lo, int64_t) { if (lo == 32) throw std::runtime_error("x"); });
            ++bad;
          } catch (const std::runtime_error&) {}
        }
        if (it % 500 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));  // let workers sleep
      }
    };
    std::thread t1(caller, 1), t2(caller, 2);
    caller(3);
    t1.join(); t2.join();
  }
  std::printf("bad=%ld\n", bad.load());
  return bad != 0;
}
