// Peak FP32 FMA throughput probe: independent AVX2 (256-bit) FMA chains and, where the CPU has
// AVX-512, independent 512-bit FMA chains; 1 thread and all threads.
//
// Each thread runs kChains independent accumulators (enough to cover FMA latency x ports: Zen 3
// and Haswell+ have 2 FMA ports with 4-5 cycle latency, so >= 10 chains are needed). One
// _mm256_fmadd_ps = 8 lanes x 2 flops, _mm512_fmadd_ps 16 x 2. 512-bit FMAs double the flops per
// instruction but not always per cycle: Zen 4 runs each as two 256-bit halves on its two FMA
// pipes, so both modes top out at the same GFLOP/s there; Skylake-X/Ice Lake servers with two
// 512-bit FMA units double it. The result is the ceiling bench_gemm compares against.
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

// The same twelve chains on 512-bit registers; compiled for AVX-512 through the target attribute
// (the file's flags stay AVX2) and called only when cpuid reports avx512f.
__attribute__((target("avx512f"))) double run_chains512(long iters) {
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  __m512 a0 = _mm512_set1_ps(0.0f), a1 = _mm512_set1_ps(0.1f), a2 = _mm512_set1_ps(0.2f),
         a3 = _mm512_set1_ps(0.3f), a4 = _mm512_set1_ps(0.4f), a5 = _mm512_set1_ps(0.5f),
         a6 = _mm512_set1_ps(0.6f), a7 = _mm512_set1_ps(0.7f), a8 = _mm512_set1_ps(0.8f),
         a9 = _mm512_set1_ps(0.9f), a10 = _mm512_set1_ps(1.0f), a11 = _mm512_set1_ps(1.1f);
  for (long it = 0; it < iters; ++it) {
    a0 = _mm512_fmadd_ps(a0, x, y); a1 = _mm512_fmadd_ps(a1, x, y);
    a2 = _mm512_fmadd_ps(a2, x, y); a3 = _mm512_fmadd_ps(a3, x, y);
    a4 = _mm512_fmadd_ps(a4, x, y); a5 = _mm512_fmadd_ps(a5, x, y);
    a6 = _mm512_fmadd_ps(a6, x, y); a7 = _mm512_fmadd_ps(a7, x, y);
    a8 = _mm512_fmadd_ps(a8, x, y); a9 = _mm512_fmadd_ps(a9, x, y);
    a10 = _mm512_fmadd_ps(a10, x, y); a11 = _mm512_fmadd_ps(a11, x, y);
  }
  const __m512 s = _mm512_add_ps(
      _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                    _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7))),
      _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  return _mm512_reduce_add_ps(s);
}

double gflops(int threads, double seconds, bool wide) {
  long iters = 1 << 20;
  double secs = 0;
  volatile double sink = 0;
  for (;;) {  // grow the iteration count until one run takes `seconds`
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
    { sink = sink + (wide ? run_chains512(iters) : run_chains(iters)); }
    secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (secs >= seconds) break;
    iters *= 2;
  }
  return threads * static_cast<double>(iters) * kChains * (wide ? 32 : 16) / secs * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 0.5;
  const int max_threads = omp_get_num_procs();
  const bool has512 = __builtin_cpu_supports("avx512f");
  for (int wide = 0; wide <= (has512 ? 1 : 0); ++wide) {
    const char* bits = wide ? "512-bit" : "256-bit";
    for (int t = 1; t <= max_threads; t *= 2)
      std::printf("peak FP32 FMA %s, %d thread(s): %.1f GFLOP/s\n", bits, t, gflops(t, seconds, wide));
    if (max_threads > 1 && (max_threads & (max_threads - 1)))
      std::printf("peak FP32 FMA %s, %d thread(s): %.1f GFLOP/s\n", bits, max_threads,
                  gflops(max_threads, seconds, wide));
  }
  return 0;
}
