// Client-side rate limiting for a pool of requests to one endpoint: token buckets for requests per minute and
// (completion + prompt) tokens per minute, and a pool-wide slow-down after a 429 that honours Retry-After.
// Time is passed in (steady-clock seconds), so the limiter is deterministic under test.
//
// Guarantee: with rate r per minute and burst b, any window of W seconds sees at most b + r·W/60 requests
// start. Tokens are charged when a response reports its usage (the bucket may go into debt; new requests wait
// until it is positive again), since a request's size is unknown before it completes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace distill::data::collect {

class TokenBucket {
 public:
  // rate_per_min <= 0 disables the bucket. burst <= 0 picks one second's worth (at least 1).
  TokenBucket(double rate_per_min, double burst, double now_s);
  bool enabled() const { return rate_per_s_ > 0; }
  // Seconds until `amount` can be taken (0 = now). `rate_factor` (0, 1] slows the refill.
  double WaitFor(double amount, double now_s, double rate_factor);
  // Takes `amount` (may go negative).
  void Take(double amount, double now_s, double rate_factor);

 private:
  void Refill(double now_s, double rate_factor);
  double rate_per_s_;
  double burst_;
  double level_;
  double last_s_;
};

struct RateLimits {
  double requests_per_min = 0;  // 0 = unlimited
  double tokens_per_min = 0;    // 0 = unlimited
  double request_burst = 0;     // 0 = one second's worth
  int max_in_flight = 64;
};

class RateLimiter {
 public:
  RateLimiter(const RateLimits& limits, double now_s);

  // Seconds to wait before another request may start, given `in_flight` running now (0 = go now). When the pool
  // is capped by in-flight count alone (not time), returns a small positive poll interval.
  double WaitBeforeStart(int in_flight, double now_s);
  // Records a request start (call only after WaitBeforeStart returned 0).
  void OnStart(double now_s);
  // Records the tokens a finished request used.
  void OnTokens(double tokens, double now_s);
  // A 429: no request starts before now + retry_after_s (or + fallback_s when the server gave none), and the
  // pool's rate and concurrency are halved (floor 1/16); successes restore them gradually.
  void On429(std::optional<double> retry_after_s, double fallback_s, double now_s);
  void OnSuccess();

  double rate_factor() const { return factor_; }
  int effective_in_flight() const;
  double paused_until() const { return paused_until_; }

 private:
  RateLimits limits_;
  TokenBucket requests_;
  TokenBucket tokens_;
  double factor_ = 1.0;
  double paused_until_ = 0;
};

// Parses a Retry-After header value: delay-seconds ("120", fractional accepted) or an HTTP date (RFC 1123 /
// 850 / asctime), relative to `now_unix_s`. Past dates give 0. nullopt when unparseable.
std::optional<double> ParseRetryAfter(std::string_view value, double now_unix_s);

}  // namespace distill::data::collect
