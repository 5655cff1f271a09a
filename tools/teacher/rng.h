// A small portable random stream (splitmix64) and text hashing: the simulator's outputs must be identical on
// every platform and standard library, so no <random> distributions are used.
#pragma once

#include <cstdint>
#include <string_view>

#include "data/trace_filters.h"
#include "data/splitmix.h"

namespace distill::teacher {

// Mixes one more value into a seed (splitmix64 finaliser of seed ^ value + golden ratio).
inline uint64_t MixSeed(uint64_t seed, uint64_t value) {
  return data::SplitMix64Mix(seed ^ (value + data::kGoldenGamma + (seed << 6) + (seed >> 2)));
}

// 64-bit FNV-1a of the bytes of `text` (the project's one FNV, from data/).
inline uint64_t HashText(std::string_view text) { return data::Fnv1a64(text); }

// Deterministic random stream.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() { return data::SplitMix64Next(state_); }
  // Uniform in [0, 1).
  double Unit() { return data::SplitMix64Unit(state_); }
  // True with probability p.
  bool Chance(double p) { return p > 0 && Unit() < p; }
  // Uniform integer in [lo, hi] (hi >= lo).
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  // Uniform index in [0, n).
  size_t Index(size_t n) { return static_cast<size_t>(Next() % n); }

 private:
  uint64_t state_;
};

}  // namespace distill::teacher
