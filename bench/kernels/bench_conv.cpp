// Convolution and pooling micro-benchmark: the layers of the classic Keras CNN at batch 64.
//
//   bench_conv [--threads T] [--isa auto|ref|avx2|avx512] [--peak GFLOPS] [--time SECONDS] [--only TEXT]
//              [--clock wall|cpu]
//
// Conv cases (NHWC, 3x3 kernels, stride 1, batch 64 unless said), each in its three training directions (the weight
// gradient includes the bias gradient, computed in the same pass):
//   conv1  28x28x1  -> 26x26x32  valid   (the tiny-Cin direct path)
//   conv2  13x13x32 -> 11x11x64  valid
//   conv3   5x5x64  ->  3x3x64   valid
//   cifar  32x32x3  -> 32x32x32  same    (a 3-channel image layer)
//   res1   28x28x1  -> 28x28x32  same    (the residual CNN of bench/residual_cnn.py)
//   res2   28x28x32 -> 28x28x32  same    (its second conv, the Winograd case)
//   small  the same conv at batch 4       (cache-resident: the Winograd kernels' compute alone)
// The first layers (Cin <= 3) also time conv + relu + 2x2 max pool as two passes and as the fused
// pass a Sequential uses (conv2d_relu_max_pool2d; GFLOP/s count the conv alone).
// FLOPs per direction = 2 * N*OH*OW * Cout * KH*KW*Cin (forward, data gradient and weight
// gradient all do that many multiply-adds); GFLOP/s and % of --peak x threads.
// Pooling 2x2/2 max and average on the CNN's two pooled maps (26x26x32, 11x11x64), forward and
// backward, in GB/s of compulsory traffic: forward reads x, writes y (+ int32 argmax for max);
// backward reads dy (+ argmax), writes dx.
// Each case: best time over repeated runs for ~--time seconds after a warm-up (a noisy shared
// machine inflates the mean, not the best). --clock cpu times process CPU time instead of wall
// time: with --threads 1 it stays close to the quiet-machine figure while other jobs hold the
// cores (for development; report wall-clock numbers).
#include <chrono>
#include <ctime>
#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/parallel.h"
#include "ops/conv2d.h"
#include "ops/pool2d.h"

namespace {

bool g_cpu_clock = false;

double now_seconds() {
  if (g_cpu_clock) {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double best_time(const std::function<void()>& run, double budget) {
  run();
  double best = 1e30, total = 0;
  int reps = 0;
  while (total < budget || reps < 3) {
    const double t0 = now_seconds();
    run();
    const double s = now_seconds() - t0;
    best = s < best ? s : best;
    total += s;
    ++reps;
  }
  return best;
}

std::vector<float> filled(int64_t n, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(((i + seed) * 7919u) % 1000u) * 1e-3f - 0.5f;
  return v;
}

struct ConvCase {
  const char* name;
  int64_t n, h, w, cin, cout, k;
  bool same;
};

corenn::Conv2dGeometry geometry(const ConvCase& c) {
  corenn::Conv2dGeometry g{};
  g.n = c.n; g.h = c.h; g.w = c.w; g.cin = c.cin;
  g.kh = g.kw = c.k; g.cout = c.cout;
  g.sh = g.sw = g.dh = g.dw = 1;
  g.oh = c.same ? c.h : c.h - c.k + 1;
  g.ow = c.same ? c.w : c.w - c.k + 1;
  g.pt = g.pl = c.same ? (c.k - 1) / 2 : 0;
  return g;
}

struct PoolCase {
  const char* name;
  int64_t n, h, w, c;
};

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
    else if (opt == "--only") only = argv[i + 1];
    else if (opt == "--clock") g_cpu_clock = std::string(argv[i + 1]) == "cpu";
    else { std::fprintf(stderr, "unknown option %s\n", opt.c_str()); return 2; }
  }
  corenn::set_num_threads(threads);
  corenn::set_isa(isa);
  const int nt = corenn::get_num_threads();
  const double peak = peak_per_thread * nt;
  std::printf("isa=%s threads=%d peak=%.0f GFLOP/s\n", corenn::isa_name(corenn::active_isa()), nt, peak);

  const ConvCase convs[] = {{"conv1 28x28x1->32", 64, 28, 28, 1, 32, 3, false},
                            {"conv2 13x13x32->64", 64, 13, 13, 32, 64, 3, false},
                            {"conv3 5x5x64->64", 64, 5, 5, 64, 64, 3, false},
                            {"cifar 32x32x3->32 same", 64, 32, 32, 3, 32, 3, true},
                            {"res1 28x28x1->32 same", 64, 28, 28, 1, 32, 3, true},
                            {"res2 28x28x32->32 same", 64, 28, 28, 32, 32, 3, true},
                            {"small 28x28x32->32 same", 4, 28, 28, 32, 32, 3, true}};
  // GFLOP/s counts the direct convolution's 2*KH*KW*Cin multiply-adds per output, whatever the
  // algorithm: for Winograd it is an effective rate and may pass the FMA peak.
  std::printf("%-24s %-9s %10s %9s %7s  %s\n", "conv (batch 64)", "direction", "time(us)", "GFLOP/s",
              "%peak", "algorithm");
  double total_s = 0, total_flop = 0;
  for (const ConvCase& c : convs) {
    if (!only.empty() && std::string(c.name).find(only) == std::string::npos) continue;
    const corenn::Conv2dGeometry g = geometry(c);
    std::vector<float> x = filled(g.n * g.h * g.w * g.cin, 1), w = filled(g.kh * g.kw * g.cin * g.cout, 2);
    std::vector<float> bias = filled(g.cout, 3), y(static_cast<size_t>(g.pixels() * g.cout));
    std::vector<float> dy = filled(g.pixels() * g.cout, 4), dx(x.size()), dw(w.size()), db(bias.size());
    const double flop = 2.0 * g.pixels() * g.cout * g.depth();
    const std::pair<const char*, std::function<void()>> dirs[] = {
        {"forward", [&] { corenn::cpu::conv2d_forward(g, x.data(), w.data(), bias.data(), y.data(), true); }},
        {"data", [&] { corenn::cpu::conv2d_backward_data(g, dy.data(), w.data(), dx.data()); }},
        {"weights", [&] { corenn::cpu::conv2d_backward_weights(g, x.data(), dy.data(), dw.data(), db.data()); }}};
    const int64_t pooled = g.n * (g.oh / 2) * (g.ow / 2) * g.cout;
    std::vector<float> y_pool(static_cast<size_t>(pooled));
    std::vector<int32_t> argmax(static_cast<size_t>(pooled));
    const corenn::Pool2dGeom pg{g.n, g.oh, g.ow, g.cout, g.oh / 2, g.ow / 2, 2, 2, 2, 2, 0, 0};
    const std::pair<const char*, std::function<void()>> first_layer[] = {
        {"fwd+pool", [&] {  // the separate passes the fused one replaces
           corenn::cpu::conv2d_forward(g, x.data(), w.data(), bias.data(), y.data(), true);
           corenn::cpu::max_pool2d_forward(pg, y.data(), y_pool.data(), argmax.data());
         }},
        {"fused", [&] {
           corenn::cpu::conv2d_relu_max_pool2d_forward(g, x.data(), w.data(), bias.data(),
                                                       y_pool.data(), argmax.data());
         }}};
    for (const auto& [dir, run] : first_layer) {
      if (c.cin > 3) break;
      const double s = best_time(run, budget);
      std::printf("%-24s %-9s %10.1f %9.1f %6.1f%%\n", c.name, dir, s * 1e6, flop / s * 1e-9,
                  100.0 * flop / s * 1e-9 / peak);
    }
    const corenn::cpu::ConvAlgo data_algo = corenn::cpu::conv2d_data_algo(g);
    const std::string algos[] = {
        corenn::cpu::conv_algo_name(corenn::cpu::conv2d_forward_algo(g)),
        std::string(corenn::cpu::conv_algo_name(data_algo)) +
            (data_algo == corenn::cpu::ConvAlgo::flipped_forward
                 ? std::string("/") + corenn::cpu::conv_algo_name(corenn::cpu::conv2d_forward_algo(
                                          corenn::cpu::flipped_geometry(g)))
                 : std::string()),
        corenn::cpu::conv_algo_name(corenn::cpu::conv2d_weights_algo(g))};
    int d = 0;
    for (const auto& [dir, run] : dirs) {
      const std::string& algo = algos[d++];
      if (c.cin == 1 && std::string(dir) == "data") continue;  // first layer: no input gradient
      const double s = best_time(run, budget);
      const double gf = flop / s * 1e-9;
      total_s += s;
      total_flop += flop;
      std::printf("%-24s %-9s %10.1f %9.1f %6.1f%%  %s\n", c.name, dir, s * 1e6, gf, 100.0 * gf / peak,
                  algo.c_str());
    }
  }
  if (total_s > 0)
    std::printf("%-24s %-9s %10.1f %9.1f %6.1f%%\n", "all conv cases", "", total_s * 1e6,
                total_flop / total_s * 1e-9, 100.0 * total_flop / total_s * 1e-9 / peak);

  // Conv2DTranspose (issue 13's cases, batch 32): each is the conv it transposes run backwards
  // (geometry g: that conv's x is the transpose's output), as the cpu_ref slots of the
  // conv2d_transpose stubs do: forward = conv data gradient, data = conv forward,
  // weights = conv weight gradient with x and dy swapped. Keras padding='same'.
  struct TransposeCase {
    const char* name;
    int64_t in_hw, in_c, filters, k, s;
  };
  const TransposeCase transposes[] = {{"T 7x7x128->64 k4 s2", 7, 128, 64, 4, 2},
                                      {"T 14x14x64->32 k3 s2", 14, 64, 32, 3, 2}};
  bool transpose_header = false;
  for (const TransposeCase& t : transposes) {
    if (!only.empty() && std::string(t.name).find(only) == std::string::npos) continue;
    if (!transpose_header) {
      std::printf("\n%-24s %-9s %10s %9s %7s  %s\n", "conv2d_transpose (b 32)", "direction", "time(us)",
                  "GFLOP/s", "%peak", "algorithm (of the transposed conv)");
      transpose_header = true;
    }
    corenn::Conv2dGeometry g{};
    g.n = 32; g.h = g.w = t.in_hw * t.s; g.cin = t.filters; g.cout = t.in_c;
    g.kh = g.kw = t.k; g.sh = g.sw = t.s; g.dh = g.dw = 1;
    g.oh = g.ow = t.in_hw;
    g.pt = g.pl = std::max<int64_t>(t.k - t.s, 0) / 2;
    std::vector<float> x = filled(g.pixels() * g.cout, 1), w = filled(g.kh * g.kw * g.cin * g.cout, 2);
    std::vector<float> y(static_cast<size_t>(g.n * g.h * g.w * g.cin)), dy = filled(g.n * g.h * g.w * g.cin, 4);
    std::vector<float> dx(x.size()), dw(w.size());
    const double flop = 2.0 * g.pixels() * g.cout * g.depth();
    const std::tuple<const char*, std::string, std::function<void()>> dirs[] = {
        {"forward", corenn::cpu::conv_algo_name(corenn::cpu::conv2d_data_algo(g)),
         [&] { corenn::cpu::conv2d_backward_data(g, x.data(), w.data(), y.data()); }},
        {"data", corenn::cpu::conv_algo_name(corenn::cpu::conv2d_forward_algo(g)),
         [&] { corenn::cpu::conv2d_forward(g, dy.data(), w.data(), nullptr, dx.data(), false); }},
        {"weights", corenn::cpu::conv_algo_name(corenn::cpu::conv2d_weights_algo(g)),
         [&] { corenn::cpu::conv2d_backward_weights(g, dy.data(), x.data(), dw.data(), nullptr); }}};
    for (const auto& [dir, algo, run] : dirs) {
      const double sec = best_time(run, budget);
      const double gf = flop / sec * 1e-9;
      std::printf("%-24s %-9s %10.1f %9.1f %6.1f%%  %s\n", t.name, dir, sec * 1e6, gf, 100.0 * gf / peak,
                  algo.c_str());
    }
  }

  const PoolCase pools[] = {{"pool 26x26x32", 64, 26, 26, 32}, {"pool 11x11x64", 64, 11, 11, 64}};
  if (only.empty() || only.find("pool") != std::string::npos) std::printf("\n%-24s %-13s %10s %9s\n", "pool 2x2/2 (batch 64)", "direction", "time(us)", "GB/s");
  for (const PoolCase& p : pools) {
    if (!only.empty() && std::string(p.name).find(only) == std::string::npos) continue;
    corenn::Pool2dGeom g{p.n, p.h, p.w, p.c, p.h / 2, p.w / 2, 2, 2, 2, 2, 0, 0};
    const int64_t in = g.n * g.h * g.w * g.c, out = g.n * g.oh * g.ow * g.c;
    std::vector<float> x = filled(in, 5), y(static_cast<size_t>(out)), dy = filled(out, 6), dx(x.size());
    std::vector<int32_t> argmax(static_cast<size_t>(out));
    const double fl = sizeof(float), il = sizeof(int32_t);
    const std::tuple<const char*, double, std::function<void()>> dirs[] = {
        {"max forward", in * fl + out * (fl + il), [&] { corenn::cpu::max_pool2d_forward(g, x.data(), y.data(), argmax.data()); }},
        {"max backward", out * (fl + il) + in * fl, [&] { corenn::cpu::max_pool2d_backward(g, dy.data(), argmax.data(), dx.data()); }},
        {"avg forward", (in + out) * fl, [&] { corenn::cpu::avg_pool2d_forward(g, x.data(), y.data()); }},
        {"avg backward", (in + out) * fl, [&] { corenn::cpu::avg_pool2d_backward(g, dy.data(), dx.data()); }}};
    for (const auto& [dir, bytes, run] : dirs) {
      const double s = best_time(run, budget);
      std::printf("%-24s %-13s %10.1f %9.1f\n", p.name, dir, s * 1e6, bytes / s * 1e-9);
    }
  }
  return 0;
}
