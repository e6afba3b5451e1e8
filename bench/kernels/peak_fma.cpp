// Peak FP32 FMA throughput probe: independent AVX2 FMA chains, 1 thread and all threads.
//
// Each thread runs kChains independent accumulators (enough to cover FMA latency x ports: Zen 3
// and Haswell+ have 2 FMA ports with 4-5 cycle latency, so >= 10 chains are needed). One
// _mm256_fmadd_ps = 8 lanes x 2 flops. The result is the ceiling bench_gemm compares against.
//   usage: peak_fma [seconds_per_run=0.5]
#include <immintrin.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace {

constexpr int kChains = 12;

// Twelve named accumulators (not an array) so they stay in registers at any optimization level.
double run_chains(long iters) {
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  // Distinct starting values: identical chains would be merged by the compiler.
  __m256 a0 = _mm256_set1_ps(0.0f), a1 = _mm256_set1_ps(0.1f), a2 = _mm256_set1_ps(0.2f),
         a3 = _mm256_set1_ps(0.3f), a4 = _mm256_set1_ps(0.4f), a5 = _mm256_set1_ps(0.5f),
         a6 = _mm256_set1_ps(0.6f), a7 = _mm256_set1_ps(0.7f), a8 = _mm256_set1_ps(0.8f),
         a9 = _mm256_set1_ps(0.9f), a10 = _mm256_set1_ps(1.0f), a11 = _mm256_set1_ps(1.1f);
  for (long it = 0; it < iters; ++it) {
    a0 = _mm256_fmadd_ps(a0, x, y); a1 = _mm256_fmadd_ps(a1, x, y);
    a2 = _mm256_fmadd_ps(a2, x, y); a3 = _mm256_fmadd_ps(a3, x, y);
    a4 = _mm256_fmadd_ps(a4, x, y); a5 = _mm256_fmadd_ps(a5, x, y);
    a6 = _mm256_fmadd_ps(a6, x, y); a7 = _mm256_fmadd_ps(a7, x, y);
    a8 = _mm256_fmadd_ps(a8, x, y); a9 = _mm256_fmadd_ps(a9, x, y);
    a10 = _mm256_fmadd_ps(a10, x, y); a11 = _mm256_fmadd_ps(a11, x, y);
  }
  const __m256 s = _mm256_add_ps(
      _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                    _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7))),
      _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

double gflops(int threads, double seconds) {
  long iters = 1 << 20;
  double secs = 0;
  volatile double sink = 0;
  for (;;) {  // grow the iteration count until one run takes `seconds`
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
    { sink = sink + run_chains(iters); }
    secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (secs >= seconds) break;
    iters *= 2;
  }
  return threads * static_cast<double>(iters) * kChains * 16 / secs * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
  const int max_threads = omp_get_num_procs();
  for (int t = 1; t <= max_threads; t *= 2) {
    std::printf("peak FP32 FMA, %d thread(s): %.1f GFLOP/s\n", t, gflops(t, seconds));
  }
  if (max_threads > 1 && (max_threads & (max_threads - 1)))
    std::printf("peak FP32 FMA, %d thread(s): %.1f GFLOP/s\n", max_threads, gflops(max_threads, seconds));
  return 0;
}
