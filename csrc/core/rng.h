// Counter-based random numbers for kernels (dropout masks, ...).
//
// A kernel gets a 64-bit seed from the Python-side generator (corenn.utils.set_random_seed seeds
// it) and derives element i's number from hash(seed, i) alone, so the result does not depend on
// the thread count or the order the elements are visited. The mixer is SplitMix64's finalizer
// (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014).
#pragma once

#include <cstdint>

// The CUDA kernels (csrc/cuda/dropout.cu) call the same functions, so both devices draw the same bits.
#if defined(__CUDACC__)
#define CORENN_HOST_DEVICE __host__ __device__
#else
#define CORENN_HOST_DEVICE
#endif

namespace corenn {

CORENN_HOST_DEVICE inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform float in [0, 1) for element `index` of the stream `seed`: 24 random mantissa bits.
CORENN_HOST_DEVICE inline float uniform01(uint64_t seed, uint64_t index) {
  const uint64_t bits = mix64(seed + 0x9e3779b97f4a7c15ULL * (index + 1));
  return static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);
}

}  // namespace corenn
