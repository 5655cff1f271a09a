#include "data/collect/rate_limiter.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"

namespace distill::data::collect {

TokenBucket::TokenBucket(double rate_per_min, double burst, double now_s)
    : rate_per_s_(rate_per_min > 0 ? rate_per_min / 60.0 : 0),
      burst_(burst > 0 ? burst : std::max(1.0, rate_per_s_)),
      level_(burst_),
      last_s_(now_s) {}

void TokenBucket::Refill(double now_s, double rate_factor) {
  if (now_s > last_s_) {
    level_ = std::min(burst_, level_ + (now_s - last_s_) * rate_per_s_ * rate_factor);
    last_s_ = now_s;
  }
}

double TokenBucket::WaitFor(double amount, double now_s, double rate_factor) {
  if (!enabled()) return 0;
  Refill(now_s, rate_factor);
  double need = std::min(amount, burst_) - level_;
  if (need <= 1e-9) return 0;
  return need / (rate_per_s_ * rate_factor);
}

void TokenBucket::Take(double amount, double now_s, double rate_factor) {
  if (!enabled()) return;
  Refill(now_s, rate_factor);
  level_ -= amount;
}

RateLimiter::RateLimiter(const RateLimits& limits, double now_s)
    : limits_(limits),
      requests_(limits.requests_per_min, limits.request_burst, now_s),
      tokens_(limits.tokens_per_min, limits.tokens_per_min, now_s) {}

int RateLimiter::effective_in_flight() const {
  return std::max(1, static_cast<int>(std::floor(limits_.max_in_flight * factor_)));
}

double RateLimiter::WaitBeforeStart(int in_flight, double now_s) {
  double wait = 0;
  if (now_s < paused_until_) wait = paused_until_ - now_s;
  wait = std::max(wait, requests_.WaitFor(1, now_s, factor_));
  // Token debt: wait until the bucket is back above zero (asking for a sliver).
  wait = std::max(wait, tokens_.WaitFor(1e-6, now_s, factor_));
  if (wait <= 0 && in_flight >= effective_in_flight()) wait = 0.01;
  return wait;
}

void RateLimiter::OnStart(double now_s) { requests_.Take(1, now_s, factor_); }

void RateLimiter::OnTokens(double tokens, double now_s) { tokens_.Take(tokens, now_s, factor_); }

void RateLimiter::On429(std::optional<double> retry_after_s, double fallback_s, double now_s) {
  double delay = retry_after_s.value_or(fallback_s);
  paused_until_ = std::max(paused_until_, now_s + delay);
  factor_ = std::max(1.0 / 16, factor_ * 0.5);
}

void RateLimiter::OnSuccess() { factor_ = std::min(1.0, factor_ + 0.05); }

std::optional<double> ParseRetryAfter(std::string_view value, double now_unix_s) {
  std::string v(value);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\r' || v.back() == '\n')) v.pop_back();
  while (!v.empty() && v.front() == ' ') v.erase(v.begin());
  if (v.empty()) return std::nullopt;
  double seconds = 0;
  if (absl::SimpleAtod(absl::string_view(v), &seconds)) {
    if (!std::isfinite(seconds) || seconds < 0) return std::nullopt;
    return seconds;
  }
  time_t when = curl_getdate(v.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  return std::max(0.0, static_cast<double>(when) - now_unix_s);
}

}  // namespace distill::data::collect
