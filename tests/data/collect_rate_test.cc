// Rate limiting: token-bucket arithmetic, Retry-After parsing, and over real HTTP the requests the server sees
// (counted from its own arrival timestamps) stay within the requests-per-minute budget; a 429 with Retry-After
// pauses the whole pool.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "data/collect/backoff.h"
#include "data/collect/collector.h"
#include "data/collect/rate_limiter.h"
#include "tests/data/collect_test_server.h"

namespace distill::data::collect {
namespace {

// Property: driven by a simulated clock, a limiter of r/min with burst b never starts more than b + r·W/60
// requests in any window of W seconds, and its in-flight cap holds.
TEST(RateLimiter, SimulatedClockStaysWithinBudget) {
  RateLimits limits;
  limits.requests_per_min = 120;  // 2/s
  limits.request_burst = 3;
  limits.max_in_flight = 1000;
  RateLimiter rl(limits, 0);
  std::vector<double> starts;
  double now = 0;
  while (starts.size() < 50) {
    double w = rl.WaitBeforeStart(0, now);
    if (w > 0) {
      now += w;
      continue;
    }
    rl.OnStart(now);
    starts.push_back(now);
  }
  for (size_t i = 0; i < starts.size(); ++i) {
    for (double window : {0.5, 1.0, 5.0, 10.0}) {
      size_t in = 0;
      for (size_t j = i; j < starts.size() && starts[j] < starts[i] + window; ++j) ++in;
      EXPECT_LE(in, 3 + 2 * window + 1e-9) << "window " << window << " at " << starts[i];
    }
  }
  RateLimits cap;
  cap.max_in_flight = 4;
  RateLimiter c(cap, 0);
  EXPECT_EQ(c.WaitBeforeStart(3, 0), 0);
  EXPECT_GT(c.WaitBeforeStart(4, 0), 0);
  c.On429(2.0, 5.0, 10.0);  // pause until 12, concurrency halved
  EXPECT_NEAR(c.WaitBeforeStart(0, 10.5), 1.5, 1e-9);
  EXPECT_EQ(c.effective_in_flight(), 2);
  EXPECT_EQ(c.WaitBeforeStart(1, 12.0), 0);
  EXPECT_GT(c.WaitBeforeStart(2, 12.0), 0);
}

// Property: a tokens/min budget holds as debt: after a response reports N tokens over budget, starts wait until
// the debt is refilled.
TEST(RateLimiter, TokenDebtDelaysStarts) {
  RateLimits limits;
  limits.tokens_per_min = 600;  // 10 tokens/s, bucket 600
  RateLimiter rl(limits, 0);
  EXPECT_EQ(rl.WaitBeforeStart(0, 0), 0);
  rl.OnTokens(1200, 0);  // 600 in debt
  EXPECT_NEAR(rl.WaitBeforeStart(0, 0), 60.0, 1e-3);
  EXPECT_EQ(rl.WaitBeforeStart(0, 60.01), 0);
}

// Property: Retry-After is read as seconds or as an HTTP date relative to now; garbage is rejected.
TEST(RateLimiter, ParseRetryAfter) {
  EXPECT_EQ(ParseRetryAfter("120", 0), 120.0);
  EXPECT_EQ(ParseRetryAfter(" 1.5 ", 0), 1.5);
  EXPECT_FALSE(ParseRetryAfter("soon", 0).has_value());
  EXPECT_FALSE(ParseRetryAfter("-3", 0).has_value());
  EXPECT_FALSE(ParseRetryAfter("", 0).has_value());
  // Wed, 21 Oct 2015 07:28:00 GMT = 1445412480
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0 - 30), 30.0);
  EXPECT_EQ(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480.0 + 30), 0.0);
}

// Property: backoff delays grow exponentially to the cap, are jittered into [0.5, 1)·d, and are the same for the
// same seed.
TEST(Backoff, ExponentialJitteredDeterministic) {
  BackoffPolicy p{1.0, 8.0, 42};
  for (int a = 1; a <= 6; ++a) {
    double d = BackoffDelay(p, "k#0", a);
    double nominal = std::min(8.0, std::ldexp(1.0, a - 1));
    EXPECT_GE(d, 0.5 * nominal);
    EXPECT_LT(d, nominal);
    EXPECT_EQ(d, BackoffDelay(p, "k#0", a));
  }
  BackoffPolicy q = p;
  q.seed = 43;
  EXPECT_NE(BackoffDelay(p, "k#0", 3), BackoffDelay(q, "k#0", 3));
}

std::string WritePrompts(const std::string& dir, int n) {
  std::string path = dir + "/prompts.jsonl";
  std::ofstream p(path);
  for (int i = 0; i < n; ++i)
    p << nlohmann::json({{"id", absl::StrCat("r", i)}, {"prompt", absl::StrCat("Q", i)}}).dump() << "\n";
  return path;
}

// Property: with requests_per_min 600 (10/s) and burst 2, the server never sees more than 2 + 10·W requests
// (+2 for arrival jitter on a loaded machine) in any window of W seconds, measured from its own arrival
// timestamps. Unlimited, all 24 would arrive within a few milliseconds.
TEST(RateLimiterHttp, ServerSeesRequestsWithinBudget) {
  ::signal(SIGPIPE, SIG_IGN);
  std::string dir = testing::TempDir("rate_http");
  testing::Canned c;
  c.dialect = "vllm";
  c.reasoning = "r";
  c.answer = "a";
  testing::TestServer server([&](const testing::SeenRequest& req, httplib::Response& res) {
    testing::ServeCanned(req, res, c);
  });
  CollectOptions o;
  o.prompts_path = WritePrompts(dir, 24);
  o.out_path = dir + "/out.jsonl";
  o.base_url = server.base_url();
  o.model = "m";
  o.limits.requests_per_min = 600;
  o.limits.request_burst = 2;
  o.limits.max_in_flight = 16;
  o.progress = ProgressMode::kOff;
  auto run = RunCollect(o);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->succeeded, 24);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 24u);
  for (size_t i = 0; i < reqs.size(); ++i) {
    for (double window : {0.25, 0.5, 1.0}) {
      size_t in = 0;
      for (const auto& r : reqs)
        if (r.t >= reqs[i].t && r.t < reqs[i].t + window) ++in;
      EXPECT_LE(static_cast<double>(in), 2 + 10 * window + 2) << "window " << window;
    }
  }
  std::filesystem::remove_all(dir);
}

// Property: a 429 with Retry-After: 1 pauses the whole pool — no new request reaches the server in the second
// after the 429 was answered (requests already in flight excepted), and the rate-limited sample still succeeds.
TEST(RateLimiterHttp, RetryAfterPausesWholePool) {
  ::signal(SIGPIPE, SIG_IGN);
  std::string dir = testing::TempDir("rate_429");
  testing::Canned c;
  c.dialect = "deepseek";
  c.reasoning = "r";
  c.answer = "a";
  std::atomic<double> answered_429{0};
  testing::TestServer server([&](const testing::SeenRequest& req, httplib::Response& res) {
    if (req.prompt == "Q3" && req.hit == 1) {
      res.status = 429;
      res.set_header("Retry-After", "1");
      answered_429 = testing::SteadyNow();
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    testing::ServeCanned(req, res, c);
  });
  CollectOptions o;
  o.prompts_path = WritePrompts(dir, 12);
  o.out_path = dir + "/out.jsonl";
  o.base_url = server.base_url();
  o.model = "m";
  o.limits.max_in_flight = 2;
  o.backoff = {0.01, 0.05, 1};
  o.progress = ProgressMode::kOff;
  auto run = RunCollect(o);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->succeeded, 12);
  EXPECT_EQ(run->rate_limited, 1);
  double t = answered_429.load();
  ASSERT_GT(t, 0);
  int during_pause = 0;
  for (const auto& r : server.requests())
    if (r.t > t + 0.1 && r.t < t + 0.95) ++during_pause;
  // At most the one request the other slot may have started before the client read the 429; unpaused, the ~8
  // remaining requests would all arrive in this window (20 ms each, 2 in flight).
  EXPECT_LE(during_pause, 1);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace distill::data::collect
