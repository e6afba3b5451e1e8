// Spatial dropout kernels (CPU); math and shapes in ops/spatial_dropout.h.
//
// The (N, C) mask uses the same counter-based uniform01(seed, i) as dropout, with i = n*C + c, so
// it depends on the seed only. The multiply views x as (N*S, C) rows and is parallel over rows;
// row r reads mask row r / S.
#include <algorithm>

#include "core/parallel.h"
#include "core/rng.h"
#include "ops/spatial_dropout.h"

namespace corenn::cpu {

namespace {
constexpr int64_t kRngGrain = 8192;
constexpr int64_t kMulGrain = 32768;
}  // namespace

void spatial_dropout_mask(float* mask, int64_t n, float rate, uint64_t seed) {
  const float keep_scale = 1.0f / (1.0f - rate);
  parallel_for(0, n, kRngGrain, [=](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      mask[i] = uniform01(seed, static_cast<uint64_t>(i)) >= rate ? keep_scale : 0.0f;
  });
}

void broadcast_channel_mul(const float* x, const float* mask, float* y, int64_t batch,
                           int64_t spatial, int64_t channels) {
  const int64_t grain = std::max<int64_t>(1, kMulGrain / std::max<int64_t>(channels, 1));
  parallel_for(0, batch * spatial, grain, [=](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* m = mask + (r / spatial) * channels;
      const float* xr = x + r * channels;
      float* yr = y + r * channels;
      for (int64_t c = 0; c < channels; ++c) yr[c] = xr[c] * m[c];
    }
  });
}

void spatial_dropout_forward(const float* x, float* y, float* mask, int64_t batch, int64_t spatial,
                             int64_t channels, float rate, uint64_t seed) {
  spatial_dropout_mask(mask, batch * channels, rate, seed);
  broadcast_channel_mul(x, mask, y, batch, spatial, channels);
}

}  // namespace corenn::cpu

namespace corenn::cpu {
CORENN_REGISTER_KERNEL(spatial_dropout_forward_stub, Slot::cpu_ref, spatial_dropout_forward);
CORENN_REGISTER_KERNEL(spatial_dropout_backward_stub, Slot::cpu_ref, broadcast_channel_mul);
}  // namespace corenn::cpu
