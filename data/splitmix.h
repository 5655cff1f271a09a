// SplitMix64 (Steele, Lea and Flood 2014): the project's one small portable random stream and 64-bit mixer, for
// outputs that must be identical on every platform and standard library (no <random> distributions anywhere they
// matter: the loader's shuffle, the teacher simulator, eval seeds, retry jitter).
#pragma once

#include <cstdint>

namespace distill::data {

inline constexpr uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;  // SplitMix64's increment, 2^64 / φ

// SplitMix64's output function: a bijective mix of all 64 bits of `z`.
inline constexpr uint64_t SplitMix64Mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Advances the stream `state` and returns its next value.
inline uint64_t SplitMix64Next(uint64_t& state) { return SplitMix64Mix(state += kGoldenGamma); }

// Advances `state` and returns a uniform double in [0, 1) from the next value's top 53 bits.
inline double SplitMix64Unit(uint64_t& state) { return static_cast<double>(SplitMix64Next(state) >> 11) * 0x1.0p-53; }

}  // namespace distill::data
