#include "data/collect/backoff.h"

#include <algorithm>
#include <cmath>

#include "data/splitmix.h"

namespace distill::data::collect {

uint64_t StableHash(std::string_view bytes, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ (seed * kGoldenGamma);
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return SplitMix64Mix(h);
}

double BackoffDelay(const BackoffPolicy& policy, std::string_view key, int attempt) {
  int exponent = std::clamp(attempt - 1, 0, 62);
  double delay = std::min(policy.max_s, policy.base_s * std::ldexp(1.0, exponent));
  uint64_t h = StableHash(key, policy.seed ^ (static_cast<uint64_t>(attempt) * 0xD1B54A32D192ED03ull));
  double unit = static_cast<double>(h >> 11) / static_cast<double>(1ull << 53);  // [0, 1)
  return delay * (0.5 + 0.5 * unit);
}

}  // namespace distill::data::collect
