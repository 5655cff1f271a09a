// End to end against an in-test endpoint on 127.0.0.1 with a fault mix (429 with Retry-After in seconds and as an
// HTTP date, 500, 503, 400, cut streams, malformed JSON, empty and reasoning-less 200s): every (prompt, sample)
// ends either in traces exactly once or in failures with a reason; reruns skip what is done; a run SIGKILLed
// midway and resumed gives the same keys as an uninterrupted one; the API key is sent but never written.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "data/collect/collector.h"
#include "tests/data/collect_test_server.h"

namespace distill::data::collect {
namespace {

constexpr char kKeyVar[] = "DISTILL_COLLECT_TEST_KEY";
constexpr char kSecret[] = "sk-test-7f3a9c1e5b2d4f60SECRET";

int PromptNumber(const std::string& prompt) {
  // "[system text\n\n]Question N: …" (the instruction suffix follows)
  size_t at = prompt.find("Question ");
  return at == std::string::npos ? -1 : std::atoi(prompt.c_str() + at + 9);
}

std::string HttpDate(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// The fault schedule, by prompt number n and the h-th request for that prompt (all samples together).
void FaultyHandler(const testing::SeenRequest& req, httplib::Response& res) {
  int n = PromptNumber(req.prompt);
  int h = req.hit;
  bool stream = req.body.value("stream", false);
  testing::Canned c;
  c.dialect = n % 2 ? "deepseek" : "ollama";
  c.reasoning = absl::StrCat("Reasoning about question ", n, ".");
  c.answer = absl::StrCat("\\boxed{", n, "}");
  switch (n % 7) {
    case 1:
      if (h == 1) {
        res.status = 429;
        if (n == 1) res.set_header("Retry-After", "1");
        if (n == 8) res.set_header("Retry-After", HttpDate(std::time(nullptr) + 1));
        res.set_content(R"({"error":{"message":"rate limited"}})", "application/json");
        return;
      }
      break;
    case 2:
      if (h <= 2) {
        res.status = 500;
        res.set_content("internal error", "text/plain");
        return;
      }
      break;
    case 3:
      if (h == 1) {
        res.status = 503;
        return;
      }
      if (h == 2) {
        if (stream) {
          testing::ServeStream(res, testing::StreamEvents(c), 3, /*abort=*/true);
        } else {
          res.set_content(testing::NonStreamBody(c).substr(0, 40), "application/json");
        }
        return;
      }
      break;
    case 4:
      if (h <= 2) {
        if (stream) {
          testing::ServeStream(res, {"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n", "data: {oops\n\n"});
        } else {
          res.set_content("{oops", "application/json");
        }
        return;
      }
      break;
    case 5:
      if (h == 1) {  // empty 200
        testing::Canned empty = c;
        empty.reasoning = "";
        empty.answer = "";
        empty.dialect = "deepseek";
        testing::ServeCanned(req, res, empty);
        return;
      }
      if (h == 2) {  // reasoning-less 200 (stream: ends early without finish_reason)
        if (stream) {
          testing::ServeStream(res, testing::StreamEvents(c), 4, /*abort=*/false);
        } else {
          testing::Canned plain = c;
          plain.dialect = "deepseek";
          plain.reasoning = "";
          testing::ServeCanned(req, res, plain);
        }
        return;
      }
      break;
    case 6:
      res.status = n == 13 ? 400 : 500;  // permanent
      res.set_content(R"({"error":{"message":"no"}})", "application/json");
      return;
  }
  testing::ServeCanned(req, res, c);
}

void WritePrompts(const std::string& path, int count) {
  std::ofstream p(path);
  for (int i = 0; i < count; ++i) {
    nlohmann::json line = {{"id", absl::StrCat("p", i)}, {"answer", std::to_string(i)}, {"source", "test"}};
    if (i == 5) {
      line["messages"] = {{{"role", "system"}, {"content", "Be terse."}},
                          {{"role", "user"}, {"content", "Question 5: what is 5?"}}};
    } else {
      line["prompt"] = absl::StrCat("Question ", i, ": what is ", i, "?");
    }
    p << line.dump() << "\n";
    if (i == 3) p << "{\"prompt\": broken json\n";  // malformed line, reported with file:line
  }
}

CollectOptions Options(const std::string& dir, const testing::TestServer& server, bool stream) {
  CollectOptions o;
  o.prompts_path = dir + "/prompts.jsonl";
  o.out_path = dir + "/traces.jsonl";
  o.base_url = server.base_url();
  o.model = "teacher";
  o.api_key_env = kKeyVar;
  o.stream = stream;
  o.samples = 2;
  o.max_attempts = 4;
  o.instruction_suffix = "Please reason step by step, and put your final answer within \\boxed{}.";
  o.backoff = {0.01, 0.05, 7};
  o.limits.max_in_flight = 8;
  o.progress = ProgressMode::kLines;
  o.progress_interval_s = 0.2;
  o.log.fsync_every_lines = 4;
  return o;
}

std::map<std::string, int> KeyCounts(const std::string& path) {
  std::map<std::string, int> out;
  for (const auto& t : testing::ReadJsonl(path))
    ++out[absl::StrCat(t["prompt_id"].get<std::string>(), "#", t["sample_index"].get<int>())];
  return out;
}

class CollectE2E : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);
    ::setenv(kKeyVar, kSecret, 1);
  }
};

// Property: with the fault mix, every (prompt, sample) is in traces exactly once or in failures with a reason
// (never both, never neither); transient faults are retried to success; permanent ones fail with their reason; a
// second run requests nothing that is done; the key goes out as a Bearer header and into no file or log line.
TEST_P(CollectE2E, FaultMixEveryKeyAccountedForAndRerunSkipsDone) {
  const bool stream = GetParam();
  std::string dir = testing::TempDir(stream ? "e2e_stream" : "e2e_plain");
  constexpr int kPrompts = 21;
  WritePrompts(dir + "/prompts.jsonl", kPrompts);
  testing::TestServer server(FaultyHandler);
  CollectOptions o = Options(dir, server, stream);

  ::testing::internal::CaptureStderr();
  auto run = RunCollect(o);
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->malformed_prompts, 1);
  EXPECT_NE(log.find("prompts.jsonl:5"), std::string::npos) << log;  // the broken line, by file:line
  EXPECT_NE(log.find("system message"), std::string::npos) << log;
  EXPECT_EQ(run->total, kPrompts * 2);

  auto traces = KeyCounts(o.out_path);
  std::map<std::string, std::string> failures;
  for (const auto& f : testing::ReadJsonl(DefaultFailuresPath(o.out_path))) {
    std::string key = absl::StrCat(f["prompt_id"].get<std::string>(), "#", f["sample_index"].get<int>());
    EXPECT_FALSE(f["reason"].get<std::string>().empty());
    EXPECT_EQ(failures.count(key), 0u) << key << " failed twice";
    failures[key] = f["reason"];
    int n = std::atoi(key.c_str() + 1);
    EXPECT_EQ(f["attempts"].get<int>(), n == 13 ? 1 : 4) << key;
  }
  for (int i = 0; i < kPrompts; ++i) {
    for (int s = 0; s < 2; ++s) {
      std::string key = absl::StrCat("p", i, "#", s);
      bool in_traces = traces.count(key) > 0;
      bool in_failures = failures.count(key) > 0;
      EXPECT_NE(in_traces, in_failures) << key;
      if (in_traces) {
        EXPECT_EQ(traces[key], 1) << key;
      }
      if (i % 7 == 6) {
        EXPECT_TRUE(in_failures) << key;
        EXPECT_EQ(failures[key], i == 13 ? "http_400" : "http_500") << key;
      } else {
        EXPECT_TRUE(in_traces) << key << (in_failures ? " failed: " + failures[key] : "");
      }
    }
  }
  for (const auto& t : testing::ReadJsonl(o.out_path)) {
    int n = std::atoi(t["prompt_id"].get<std::string>().c_str() + 1);
    EXPECT_EQ(t["reasoning"], absl::StrCat("Reasoning about question ", n, "."));
    EXPECT_EQ(t["answer"], absl::StrCat("\\boxed{", n, "}"));
    EXPECT_EQ(t["ground_truth"], std::to_string(n));
    EXPECT_EQ(t["extra"]["source"], "test");
    std::string sent = t["messages"].back()["content"];
    EXPECT_NE(sent.find("Please reason step by step"), std::string::npos);
    EXPECT_EQ(t["messages"].size(), 1u);  // system folded in
    if (n == 5) {
      EXPECT_EQ(sent.rfind("Be terse.\n\nQuestion 5", 0), 0u) << sent;
    }
  }
  auto requests = server.requests();
  for (const auto& r : requests) EXPECT_EQ(r.authorization, std::string("Bearer ") + kSecret);
  EXPECT_GE(run->rate_limited, 3);

  // Rerun: only the failed keys are tried again; done ones are skipped.
  size_t before = requests.size();
  ::testing::internal::CaptureStderr();
  auto again = RunCollect(o);
  log += ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->skipped_done, static_cast<int64_t>(traces.size()));
  EXPECT_EQ(again->succeeded, 0);
  requests = server.requests();
  for (size_t i = before; i < requests.size(); ++i) EXPECT_EQ(PromptNumber(requests[i].prompt) % 7, 6);
  EXPECT_EQ(KeyCounts(o.out_path), traces);

  // The secret is in no output file and no log line.
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    EXPECT_EQ(testing::ReadAll(entry.path().string()).find(kSecret), std::string::npos) << entry.path();
  EXPECT_EQ(log.find(kSecret), std::string::npos);
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(StreamAndNot, CollectE2E, ::testing::Values(true, false));

// Property: a missing API key variable stops the run before any request, naming the variable, not a value.
TEST(CollectE2EKey, MissingKeyVariableIsAnError) {
  std::string dir = testing::TempDir("e2e_nokey");
  WritePrompts(dir + "/prompts.jsonl", 2);
  testing::TestServer server(FaultyHandler);
  CollectOptions o = Options(dir, server, true);
  o.api_key_env = "DISTILL_COLLECT_TEST_UNSET_VAR";
  ::unsetenv(o.api_key_env.c_str());
  auto run = RunCollect(o);
  ASSERT_FALSE(run.ok());
  EXPECT_NE(std::string(run.status().message()).find("DISTILL_COLLECT_TEST_UNSET_VAR"), std::string::npos);
  EXPECT_TRUE(server.requests().empty());
  std::filesystem::remove_all(dir);
}

// Property: traces or failures aimed at the prompts file (by another spelling of its path too), or at each other,
// are refused before any request, the prompts file keeping its bytes.
TEST(CollectE2EPaths, OutputsThatAreThePromptsFileAreRefused) {
  std::string dir = testing::TempDir("e2e_paths");
  WritePrompts(dir + "/prompts.jsonl", 2);
  const std::string prompts = testing::ReadAll(dir + "/prompts.jsonl");
  testing::TestServer server(FaultyHandler);
  const struct {
    std::string out, failures, expected;
  } cases[] = {
      {dir + "/./prompts.jsonl", "", "the traces file " + dir + "/./prompts.jsonl is the prompts file"},
      {dir + "/traces.jsonl", dir + "/prompts.jsonl", "the failures file " + dir + "/prompts.jsonl is the prompts"},
      {dir + "/traces.jsonl", dir + "/traces.jsonl", "the traces and failures files are both"},
  };
  for (const auto& c : cases) {
    CollectOptions o = Options(dir, server, true);
    o.out_path = c.out;
    o.failures_path = c.failures;
    auto run = RunCollect(o);
    ASSERT_FALSE(run.ok()) << c.out;
    EXPECT_NE(std::string(run.status().message()).find(c.expected), std::string::npos) << run.status();
  }
  EXPECT_TRUE(server.requests().empty());
  EXPECT_EQ(testing::ReadAll(dir + "/prompts.jsonl"), prompts);
  std::filesystem::remove_all(dir);
}

// Property: HTTP 401 stops the whole run with an error naming the variable (not its value), and marks nothing
// failed, so a rerun with the right key collects everything.
TEST(CollectE2EKey, UnauthorizedStopsRunWithoutFailures) {
  ::setenv(kKeyVar, "sk-wrong-key", 1);
  std::string dir = testing::TempDir("e2e_401");
  WritePrompts(dir + "/prompts.jsonl", 3);
  testing::TestServer server([](const testing::SeenRequest& req, httplib::Response& res) {
    if (req.authorization != std::string("Bearer ") + kSecret) {
      res.status = 401;
      return;
    }
    FaultyHandler(req, res);
  });
  CollectOptions o = Options(dir, server, true);
  o.progress = ProgressMode::kOff;
  auto run = RunCollect(o);
  ASSERT_FALSE(run.ok());
  std::string message(run.status().message());
  EXPECT_NE(message.find(kKeyVar), std::string::npos) << message;
  EXPECT_EQ(message.find("sk-wrong-key"), std::string::npos);
  EXPECT_TRUE(testing::ReadJsonl(DefaultFailuresPath(o.out_path)).empty());
  ::setenv(kKeyVar, kSecret, 1);
  auto again = RunCollect(o);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->succeeded, 6);
  std::filesystem::remove_all(dir);
}

// Property: requests reuse kept-alive connections (far fewer client ports than requests) and long bodies are
// sent without "Expect: 100-continue".
TEST(CollectE2EPool, KeepAliveAndNoExpect) {
  ::signal(SIGPIPE, SIG_IGN);
  std::string dir = testing::TempDir("e2e_pool");
  {
    std::ofstream p(dir + "/prompts.jsonl");
    for (int i = 0; i < 20; ++i)
      p << nlohmann::json({{"prompt", absl::StrCat("Q", i, " ", std::string(3000, 'x'))}}).dump() << "\n";
  }
  testing::TestServer server([](const testing::SeenRequest& req, httplib::Response& res) {
    testing::Canned c;
    c.dialect = "deepseek";
    c.reasoning = "r";
    c.answer = "a";
    testing::ServeCanned(req, res, c);
  });
  for (bool stream : {true, false}) {
    CollectOptions o;
    o.prompts_path = dir + "/prompts.jsonl";
    o.out_path = dir + (stream ? "/s.jsonl" : "/n.jsonl");
    o.base_url = server.base_url();
    o.model = "m";
    o.stream = stream;
    o.limits.max_in_flight = 2;
    o.progress = ProgressMode::kOff;
    auto run = RunCollect(o);
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_EQ(run->succeeded, 20);
  }
  std::set<int> ports;
  for (const auto& r : server.requests()) {
    ports.insert(r.remote_port);
    EXPECT_FALSE(r.expect_header);
  }
  EXPECT_EQ(server.requests().size(), 40u);
  EXPECT_LE(ports.size(), 8u);  // 2 in flight per run; a few reconnects allowed
  std::filesystem::remove_all(dir);
}

// Property: a collector SIGKILLed midway (in a forked child) and then resumed yields exactly the keys of an
// uninterrupted run, each once.
TEST(CollectE2EKill, KilledAndResumedEqualsUninterrupted) {
  ::signal(SIGPIPE, SIG_IGN);
  ::setenv(kKeyVar, kSecret, 1);
  constexpr int kPrompts = 28;
  auto slow = [](const testing::SeenRequest& req, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
    FaultyHandler(req, res);
  };
  // Uninterrupted reference.
  std::string ref_dir = testing::TempDir("e2e_ref");
  WritePrompts(ref_dir + "/prompts.jsonl", kPrompts);
  std::map<std::string, int> reference;
  {
    testing::TestServer server(slow);
    CollectOptions o = Options(ref_dir, server, true);
    o.progress = ProgressMode::kOff;
    ASSERT_TRUE(RunCollect(o).ok());
    reference = KeyCounts(o.out_path);
  }
  // Killed, then resumed.
  std::string dir = testing::TempDir("e2e_kill");
  WritePrompts(dir + "/prompts.jsonl", kPrompts);
  testing::TestServer server(slow);
  CollectOptions o = Options(dir, server, true);
  o.progress = ProgressMode::kOff;
  o.limits.max_in_flight = 2;
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto r = RunCollect(o);
    ::_exit(r.ok() ? 0 : 1);
  }
  size_t lines = 0;
  for (int i = 0; i < 2000 && lines < 12; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::string text = testing::ReadAll(o.out_path);
    lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child finished before it was killed";
  size_t at_kill = KeyCounts(o.out_path).size();
  EXPECT_GE(at_kill, 12u);
  EXPECT_LT(at_kill, reference.size());
  auto resumed = RunCollect(o);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->skipped_done, static_cast<int64_t>(at_kill));
  EXPECT_EQ(KeyCounts(o.out_path), reference);  // same keys, each exactly once
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(ref_dir);
}

// Property: a response that never starts (first-byte timeout) or stalls mid-stream (idle timeout) is abandoned
// and retried, and the retry's trace is kept; with no retries left the failure reason is "timeout".
TEST(CollectE2ETimeouts, FirstByteAndIdleTimeoutsRetry) {
  ::signal(SIGPIPE, SIG_IGN);
  std::string dir = testing::TempDir("e2e_timeouts");
  {
    std::ofstream p(dir + "/prompts.jsonl");
    for (const char* q : {"slow-start", "stall", "never"}) p << nlohmann::json({{"id", q}, {"prompt", q}}).dump() << "\n";
  }
  testing::TestServer server([](const testing::SeenRequest& req, httplib::Response& res) {
    testing::Canned c;
    c.dialect = "deepseek";
    c.reasoning = "r " + req.prompt;
    c.answer = "a";
    bool first = req.hit == 1;
    if ((req.prompt == "slow-start" && first) || req.prompt == "never") {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    }
    if (req.prompt == "stall" && first) {
      auto events = testing::StreamEvents(c);
      res.set_chunked_content_provider("text/event-stream", [events](size_t, httplib::DataSink& sink) {
        sink.write(events[0].data(), events[0].size());
        sink.write(events[1].data(), events[1].size());
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        return false;
      });
      return;
    }
    testing::ServeCanned(req, res, c);
  });
  CollectOptions o;
  o.prompts_path = dir + "/prompts.jsonl";
  o.out_path = dir + "/out.jsonl";
  o.base_url = server.base_url();
  o.model = "m";
  o.max_attempts = 2;
  o.backoff = {0.01, 0.02, 0};
  o.timeouts.first_byte_ms = 400;
  o.timeouts.idle_ms = 400;
  o.progress = ProgressMode::kOff;
  auto run = RunCollect(o);
  ASSERT_TRUE(run.ok()) << run.status();
  std::map<std::string, nlohmann::json> traces;
  for (const auto& t : testing::ReadJsonl(o.out_path)) traces[t["prompt_id"]] = t;
  ASSERT_EQ(traces.count("slow-start"), 1u);
  ASSERT_EQ(traces.count("stall"), 1u);
  EXPECT_EQ(traces["slow-start"]["attempts"], 2);
  EXPECT_EQ(traces["stall"]["attempts"], 2);
  EXPECT_EQ(traces["stall"]["reasoning"], "r stall");
  auto failures = testing::ReadJsonl(DefaultFailuresPath(o.out_path));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0]["prompt_id"], "never");
  EXPECT_EQ(failures[0]["reason"], "timeout");
  EXPECT_EQ(failures[0]["attempts"], 2);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace distill::data::collect
