// GEMM micro-benchmark: GFLOP/s and % of peak for square sizes and the GEMMs of MLP training.
//
//   bench_gemm [--threads T] [--isa auto|ref|avx2|avx512] [--peak GFLOPS] [--time SECONDS] [--only TEXT]
//
// Square: C (n, n) = A (n, n) @ B (n, n), n = 128 .. 2048.
// Dense layers in -> out (784->512, 512->256, 256->10) at batch B in {64, 128, 256}:
//   fwd  Y  = X @ W + b, relu   NN  M=B   K=in  N=out
//   dW   dW = X^T @ dY          TN  M=in  K=B   N=out
//   dX   dX = dY @ W^T          NT  M=B   K=out N=in
// Each case: best time over repeated runs for ~--time seconds (default 0.3) after a warm-up.
// --peak defaults to 97 GFLOP/s per thread (the Zen 3 dev machine; measure with peak_fma).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "cpu/gemm/gemm.h"

namespace g = corenn::cpu::gemm;

namespace {

struct Case {
  std::string name;
  bool ta, tb;
  int64_t m, n, k;
  bool epilogue;  // bias + relu
};

double time_case(const Case& cs, double budget) {
  std::vector<float> a(cs.m * cs.k), b(cs.k * cs.n), c(cs.m * cs.n), bias(cs.n);
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>((i * 7919) % 1000) * 1e-3f - 0.5f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>((i * 104729) % 1000) * 1e-3f - 0.5f;
  for (size_t i = 0; i < bias.size(); ++i) bias[i] = 0.01f * i;
  const int64_t lda = cs.ta ? cs.m : cs.k, ldb = cs.tb ? cs.k : cs.n;
  auto run = [&] {
    g::sgemm(cs.ta, cs.tb, cs.m, cs.n, cs.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(),
             cs.n, cs.epilogue ? bias.data() : nullptr,
             cs.epilogue ? g::Activation::relu : g::Activation::none);
  };
  run();
  double best = 1e30, total = 0;
  int reps = 0;
  while (total < budget || reps < 3) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = s < best ? s : best;
    total += s;
    ++reps;
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 0;
  double peak_per_thread = 97.0, budget = 0.3;
  std::string isa = "auto", only;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    if (opt == "--threads") threads = std::atoi(argv[i + 1]);
    else if (opt == "--isa") isa = argv[i + 1];
    else if (opt == "--peak") peak_per_thread = std::atof(argv[i + 1]);
    else if (opt == "--time") budget = std::atof(argv[i + 1]);
    else if (opt == "--only") only = argv[i + 1];  // run cases whose name contains TEXT
    else { std::fprintf(stderr, "unknown option %s\n", opt.c_str()); return 2; }
  }
  corenn::set_num_threads(threads);
  corenn::set_isa(isa);
  const int nt = corenn::get_num_threads();
  const double peak = peak_per_thread * nt;
  const g::Kernel kern = g::sgemm_kernel();  // the tile and blocks sgemm runs under this ISA
  const g::BlockSizes bs = kern.bs;
  std::printf("isa=%s threads=%d peak=%.0f GFLOP/s  tile %dx%d MC=%lld KC=%lld NC=%lld\n",
              corenn::isa_name(corenn::active_isa()), nt, peak, kern.mr, kern.nr,
              (long long)bs.mc, (long long)bs.kc, (long long)bs.nc);

  std::vector<Case> cases;
  for (int64_t n : {128, 256, 512, 1024, 1536, 2048}) cases.push_back({"square NN", false, false, n, n, n, false});
  cases.push_back({"square TN", true, false, 1024, 1024, 1024, false});
  cases.push_back({"square NT", false, true, 1024, 1024, 1024, false});
  const int64_t layers[3][2] = {{784, 512}, {512, 256}, {256, 10}};
  for (int64_t batch : {64, 128, 256}) {
    for (const auto& l : layers) {
      cases.push_back({"fwd NN+bias,relu", false, false, batch, l[1], l[0], true});
      cases.push_back({"dW  TN", true, false, l[0], l[1], batch, false});
      cases.push_back({"dX  NT", false, true, batch, l[0], l[1], false});
    }
  }
  std::printf("%-18s %6s %6s %6s %10s %9s %7s\n", "case", "M", "N", "K", "time(us)", "GFLOP/s", "%peak");
  for (const Case& cs : cases) {
    if (!only.empty() && cs.name.find(only) == std::string::npos) continue;
    const double s = time_case(cs, budget);
    const double gf = 2.0 * cs.m * cs.n * cs.k / s * 1e-9;
    std::printf("%-18s %6lld %6lld %6lld %10.1f %9.1f %6.1f%%\n", cs.name.c_str(), (long long)cs.m,
                (long long)cs.n, (long long)cs.k, s * 1e6, gf, 100.0 * gf / peak);
  }
  return 0;
}
