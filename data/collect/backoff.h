// Retry delays: exponential with jitter, deterministic for a seed (DESIGN.md "Determinism"): the delay for a
// (key, attempt) is the same on every run with the same seed.
#pragma once

#include <cstdint>
#include <string_view>

namespace distill::data::collect {

struct BackoffPolicy {
  double base_s = 1.0;  // delay before the 2nd attempt, before jitter
  double max_s = 60.0;  // cap, before jitter
  uint64_t seed = 0;
};

// Delay before attempt `attempt` + 1, after `attempt` (>= 1) failed attempts: base·2^(attempt-1) capped at max,
// scaled by a jitter factor in [0.5, 1) drawn from (seed, key, attempt).
double BackoffDelay(const BackoffPolicy& policy, std::string_view key, int attempt);

// 64-bit FNV-1a, then a SplitMix64 finaliser: a stable hash for sharding and jitter (not for security).
uint64_t StableHash(std::string_view bytes, uint64_t seed = 0);

}  // namespace distill::data::collect
