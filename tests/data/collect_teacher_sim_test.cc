// The collector end to end against the offline teacher simulator (tools/teacher) over real HTTP on 127.0.0.1:
//  - every dialect × streaming on/off normalises to the same (reasoning, answer) per (prompt, sample);
//  - 1,000 samples under the simulator's whole fault mix: each (prompt, sample) is in traces once or in failures
//    with its reason; then SIGKILL at seeded random points and resume, several rounds (one with a torn last line),
//    ends with the uninterrupted run's keys, each once;
//  - a request-per-minute budget holds in every window of the simulator's request log;
//  - the API key (required by the simulator) reaches no file and no output line of the built binary;
//  - inline verify (collect --verify) writes the verdicts `distill verify`'s library gives for the same lines.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "data/collect/collector.h"
#include "data/trace_record.h"
#include "data/verify.h"
#include "nlohmann/json.hpp"
#include "tools/teacher/problems.h"
#include "tools/teacher/teacher_sim.h"

namespace distill::data::collect {
namespace {

using json = nlohmann::json;
using teacher::TeacherSim;
using teacher::TeacherSimOptions;

constexpr char kKeyVar[] = "DISTILL_SIM_TEST_KEY";
constexpr char kSecret[] = "sk-sim-5e7a1c9d3b2f48a6-SECRET";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Complete lines only (a torn last line, without its "\n", is left out).
std::vector<json> ReadJsonl(const std::string& path) {
  std::vector<json> out;
  std::string text = ReadAll(path);
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (nl > start) out.push_back(json::parse(text.substr(start, nl - start)));
  }
  return out;
}

std::string TempDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/distill_" + name + "_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string KeyOf(const json& line) {
  return absl::StrCat(line["prompt_id"].get<std::string>(), "#", line["sample_index"].get<int>());
}

std::map<std::string, int> KeyCounts(const std::string& path) {
  std::map<std::string, int> out;
  for (const json& t : ReadJsonl(path)) ++out[KeyOf(t)];
  return out;
}

std::set<std::string> KeySet(const std::map<std::string, int>& counts) {
  std::set<std::string> out;
  for (const auto& [k, n] : counts) out.insert(k);
  return out;
}

// Generated problems as prompts {id, prompt (DeepSeek's math user turn), answer}; returns every key.
std::set<std::string> WritePrompts(const std::string& path, uint64_t seed, int count, int samples) {
  std::ofstream out(path);
  std::set<std::string> keys;
  int i = 0;
  for (const teacher::Problem& p : teacher::GenerateProblems(seed, count)) {
    std::string id = absl::StrCat("q", i++);
    out << json({{"id", id}, {"prompt", teacher::MathPrompt(p.text)}, {"answer", p.answer}, {"family", p.family}})
               .dump()
        << "\n";
    for (int s = 0; s < samples; ++s) keys.insert(TraceKey(id, s));
  }
  return keys;
}

std::unique_ptr<TeacherSim> StartSim(TeacherSimOptions options) {
  if (options.threads < 24) options.threads = 24;  // more than the collector's connections
  auto sim = std::make_unique<TeacherSim>(std::move(options));
  absl::Status s = sim->Start();
  EXPECT_TRUE(s.ok()) << s;
  return sim;
}

CollectOptions Options(const std::string& dir, const TeacherSim& sim, int samples) {
  CollectOptions o;
  o.prompts_path = dir + "/prompts.jsonl";
  o.out_path = dir + "/traces.jsonl";
  o.base_url = sim.url();
  o.model = "deepseek-reasoner";
  o.samples = samples;
  o.seed = 20261126;  // per-(prompt, sample) request seeds: the simulator's text depends on them
  o.max_attempts = 10;
  o.backoff = {0.001, 0.02, 5};
  o.limits.max_in_flight = 16;
  o.progress = ProgressMode::kOff;
  o.log.fsync_every_lines = 32;
  return o;
}

// Completion requests in the simulator's log.
std::vector<teacher::RequestLogEntry> Completions(const TeacherSim& sim) {
  std::vector<teacher::RequestLogEntry> out;
  for (auto& e : sim.Log())
    if (e.path == "/v1/chat/completions") out.push_back(std::move(e));
  return out;
}

bool FailedRequest(const teacher::RequestLogEntry& e) {
  static const std::set<std::string> kFailing = {"rate_limit", "server_error", "unavailable", "cut_stream",
                                                 "malformed_json", "empty", "length"};
  return kFailing.count(e.outcome) > 0 || e.defects.find("no_reasoning") != std::string::npos;
}

class CollectTeacherSim : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);
    ::setenv(kKeyVar, kSecret, 1);
  }
};

// Property: the simulator is deterministic per (seed, prompt, request seed), so every dialect (deepseek, vllm with
// and without the `reasoning` alias, llamacpp, ollama's inline <think>) streamed or not, through transient faults
// and their retries, normalises to the same tag-free (reasoning, answer) for every (prompt, sample).
TEST_F(CollectTeacherSim, EveryDialectAndStreamModeGivesTheSameTraces) {
  std::string dir = TempDir("sim_dialects");
  std::set<std::string> all = WritePrompts(dir + "/prompts.jsonl", 5, 24, 2);
  struct Variant {
    teacher::Dialect dialect;
    bool alias;
  };
  const Variant variants[] = {{teacher::Dialect::kDeepSeek, false},
                              {teacher::Dialect::kVllm, false},
                              {teacher::Dialect::kVllm, true},
                              {teacher::Dialect::kLlamaCpp, false},
                              {teacher::Dialect::kOllama, false}};
  std::map<std::string, std::pair<std::string, std::string>> first;
  std::string first_name;
  int run = 0;
  for (const Variant& v : variants) {
    for (bool stream : {true, false}) {
      std::string name = absl::StrCat(std::string(teacher::DialectName(v.dialect)), v.alias ? "+reasoning" : "",
                                      stream ? "/stream" : "/plain");
      SCOPED_TRACE(name);
      TeacherSimOptions so;
      so.dialect = v.dialect;
      so.vllm_reasoning_alias = v.alias;
      so.seed = 99;
      so.instant = true;
      so.faults = teacher::FaultRates::Uniform(0.2);
      so.faults.slow_first_byte = 0;
      so.fault_seed = static_cast<uint64_t>(++run);
      so.retry_after_s = 0;
      auto sim = StartSim(so);
      CollectOptions o = Options(dir, *sim, 2);
      o.out_path = absl::StrCat(dir, "/traces_", run, ".jsonl");
      o.stream = stream;
      auto counters = RunCollect(o);
      ASSERT_TRUE(counters.ok()) << counters.status();
      EXPECT_EQ(counters->succeeded, 48);
      EXPECT_EQ(counters->failed, 0);
      EXPECT_GT(counters->retries, 0);  // the faults were met and retried
      std::map<std::string, std::pair<std::string, std::string>> traces;
      for (const json& t : ReadJsonl(o.out_path)) {
        std::string reasoning = t["reasoning"], answer = t["answer"];
        EXPECT_FALSE(reasoning.empty());
        EXPECT_EQ(reasoning.find("<think>"), std::string::npos);
        EXPECT_EQ(answer.find("</think>"), std::string::npos);
        EXPECT_NE(answer.find("\\boxed{"), std::string::npos) << answer;
        EXPECT_TRUE(traces.emplace(KeyOf(t), std::make_pair(reasoning, answer)).second) << "duplicate " << KeyOf(t);
      }
      EXPECT_EQ(traces.size(), all.size());
      for (const auto& e : Completions(*sim)) {
        EXPECT_EQ(e.dialect, teacher::DialectName(v.dialect));
        EXPECT_EQ(e.streamed, stream);
      }
      if (first.empty()) {
        first = std::move(traces);
        first_name = name;
        int differing = 0;  // samples of one prompt get different request seeds, so (mostly) different text
        for (const auto& [key, text] : first) {
          if (key.size() > 2 && key.substr(key.size() - 2) == "#1") {
            auto s0 = first.find(key.substr(0, key.size() - 1) + "0");
            if (s0 != first.end() && s0->second != text) ++differing;
          }
        }
        EXPECT_GT(differing, 0);
      } else {
        for (const auto& [key, text] : first) {
          auto it = traces.find(key);
          ASSERT_NE(it, traces.end()) << key;
          EXPECT_EQ(it->second.first, text.first) << key << " reasoning differs from " << first_name;
          EXPECT_EQ(it->second.second, text.second) << key << " answer differs from " << first_name;
        }
      }
    }
  }
  std::filesystem::remove_all(dir);
}

TeacherSimOptions FaultMixSim() {
  TeacherSimOptions so;
  so.seed = 7;
  so.fault_seed = 1234;
  so.faults = teacher::FaultRates::Uniform(0.3);  // 429 (Retry-After 0 s, as seconds or a date), 500, 503,
                                                  // slow first byte, cut streams, malformed JSON
  so.retry_after_s = 0;
  so.slow_first_byte_ms = 20;  // otherwise instant: no latency, no chunk pacing
  so.defects.empty = 0.01;          // 200 with nothing
  so.defects.no_reasoning = 0.015;  // 200 without reasoning
  so.defects.truncation = 0.01;     // finish_reason "length"
  return so;
}

// Property: 1,000 samples (500 generated problems × 2) under every fault the simulator injects, with ≥ 20% of
// requests failing: each (prompt, sample) is either in traces exactly once or in failures (once) with its reason,
// never both or neither; counters agree with the server's log. Then the same run is SIGKILLed at seeded random
// points (in a forked child) and resumed, round after round (one round also leaves a torn last line), and finally
// run to the end: the traces hold exactly the uninterrupted run's keys, each once.
TEST_F(CollectTeacherSim, FaultMixAtScaleThenKillAndResume) {
  constexpr int kProblems = 500, kSamples = 2;
  const auto t0 = std::chrono::steady_clock::now();
  std::string ref_dir = TempDir("sim_faults_ref");
  std::set<std::string> all = WritePrompts(ref_dir + "/prompts.jsonl", 42, kProblems, kSamples);
  ASSERT_EQ(all.size(), 1000u);
  std::map<std::string, int> reference;
  {
    auto sim = StartSim(FaultMixSim());
    CollectOptions o = Options(ref_dir, *sim, kSamples);
    o.stream = true;
    auto counters = RunCollect(o);
    ASSERT_TRUE(counters.ok()) << counters.status();
    reference = KeyCounts(o.out_path);
    std::map<std::string, int> failed = KeyCounts(DefaultFailuresPath(o.out_path));
    std::map<std::string, int> reasons;
    for (const json& f : ReadJsonl(DefaultFailuresPath(o.out_path))) {
      ++reasons[f["reason"].get<std::string>()];
      const std::string reason = f["reason"].get<std::string>();
      // Only the permanent content defects fail; their reason is the last attempt's, which may be a transient
      // fault met on the way (then only after every attempt was used).
      if (reason != "no_reasoning" && reason != "empty_response" && reason != "length") {
        EXPECT_GE(f["attempts"].get<int>(), 10) << f.dump();
      }
      EXPECT_FALSE(f["last_error"].get<std::string>().empty());
      EXPECT_GE(f["attempts"].get<int>(), 1);
    }
    for (const auto& [k, n] : reference) {
      EXPECT_EQ(n, 1) << "trace written " << n << " times: " << k;
      EXPECT_EQ(failed.count(k), 0u) << "both traced and failed: " << k;
    }
    for (const auto& [k, n] : failed) EXPECT_EQ(n, 1) << "failure written " << n << " times: " << k;
    std::set<std::string> accounted = KeySet(reference);
    for (const auto& [k, n] : failed) accounted.insert(k);
    EXPECT_EQ(accounted, all);  // no gaps, nothing extra
    EXPECT_EQ(counters->succeeded, static_cast<int64_t>(reference.size()));
    EXPECT_EQ(counters->failed, static_cast<int64_t>(failed.size()));
    // The permanent content defects end as failures with their reasons; transient faults are retried away.
    EXPECT_GT(reasons["no_reasoning"], 0);
    EXPECT_GT(reasons["empty_response"], 0);
    EXPECT_GT(reasons["length"], 0);
    // The server's view: every fault kind met, ≥ 20% of requests failed, counters match the log.
    std::vector<teacher::RequestLogEntry> log = Completions(*sim);
    std::map<std::string, int> outcomes;
    int failing = 0, no_reasoning = 0;
    for (const auto& e : log) {
      ++outcomes[e.outcome];
      failing += FailedRequest(e);
      no_reasoning += e.defects.find("no_reasoning") != std::string::npos;
    }
    for (const char* kind : {"rate_limit", "server_error", "unavailable", "slow_first_byte", "cut_stream",
                             "malformed_json", "empty", "length"})
      EXPECT_GT(outcomes[kind], 0) << kind;
    EXPECT_GT(no_reasoning, 0);
    EXPECT_EQ(counters->requests, static_cast<int64_t>(log.size()));
    EXPECT_EQ(counters->rate_limited, outcomes["rate_limit"]);
    double share = static_cast<double>(failing) / static_cast<double>(log.size());
    EXPECT_GE(share, 0.20);
    std::printf("[ fault mix ] %zu samples: %zu traced, %zu failed; %zu requests, %.1f%% failing; %.1f s\n",
                all.size(), reference.size(), failed.size(), log.size(), 100 * share,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  // Kill -9 and resume.
  std::string dir = TempDir("sim_faults_kill");
  WritePrompts(dir + "/prompts.jsonl", 42, kProblems, kSamples);
  auto sim = StartSim(FaultMixSim());
  CollectOptions o = Options(dir, *sim, kSamples);
  o.stream = true;
  std::mt19937 rng(20261126);
  int killed_rounds = 0;
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const size_t lines_before = ReadJsonl(o.out_path).size();
    const size_t target = lines_before + std::uniform_int_distribution<size_t>(40, 140)(rng);
    const int extra_ms = std::uniform_int_distribution<int>(0, 15)(rng);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto r = RunCollect(o);
      ::_exit(r.ok() ? 0 : 1);
    }
    // Wait until `target` lines are in (counting only new bytes), then a few random milliseconds more.
    size_t offset = 0, lines = 0;
    bool exited = false;
    int status = 0;
    for (int i = 0; i < 20000 && lines < target; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::ifstream in(o.out_path, std::ios::binary);
      in.seekg(static_cast<std::streamoff>(offset));
      std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      offset += chunk.size();
      lines += static_cast<size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
      if (::waitpid(child, &status, WNOHANG) == child) {
        exited = true;
        break;
      }
    }
    if (!exited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(extra_ms));
      ::kill(child, SIGKILL);
      ASSERT_EQ(::waitpid(child, &status, 0), child);
    }
    if (WIFSIGNALED(status)) ++killed_rounds;
    // Whatever was written before the kill is whole and unique.
    std::map<std::string, int> now = KeyCounts(o.out_path);
    for (const auto& [k, n] : now) EXPECT_EQ(n, 1) << k;
    EXPECT_GE(now.size(), lines_before);
    if (round == 1) {  // a crash in the middle of a write: half a line, no "\n"
      std::string text = ReadAll(o.out_path);
      size_t last = text.rfind('\n', text.size() >= 2 ? text.size() - 2 : 0);
      std::string tail = text.substr(last == std::string::npos ? 0 : last + 1);
      std::ofstream(o.out_path, std::ios::app | std::ios::binary) << tail.substr(0, tail.size() / 2);
    }
    if (exited) break;
  }
  EXPECT_GE(killed_rounds, 3);
  const size_t before_final = KeyCounts(o.out_path).size();
  auto final_run = RunCollect(o);
  ASSERT_TRUE(final_run.ok()) << final_run.status();
  EXPECT_EQ(final_run->skipped_done, static_cast<int64_t>(before_final));
  EXPECT_EQ(KeyCounts(o.out_path), reference);  // the same keys, each exactly once; the torn line repaired
  EXPECT_EQ(ReadAll(o.out_path).back(), '\n');
  std::set<std::string> accounted = KeySet(KeyCounts(o.out_path));
  for (const json& f : ReadJsonl(DefaultFailuresPath(o.out_path))) accounted.insert(KeyOf(f));
  EXPECT_EQ(accounted, all);
  std::printf("[ kill/resume ] %d rounds killed, %zu keys done before the final run, %zu traces; total %.1f s\n",
              killed_rounds, before_final, reference.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(ref_dir);
}

// Property: with a budget of r requests per minute and burst b, every window of W seconds of the simulator's
// request log (arrival timestamps, not client clocks) holds at most b + r·W/60 requests (+1 for arrival jitter).
TEST_F(CollectTeacherSim, RequestBudgetHoldsInEveryWindow) {
  std::string dir = TempDir("sim_rate");
  WritePrompts(dir + "/prompts.jsonl", 3, 36, 1);
  TeacherSimOptions so;
  so.instant = true;
  auto sim = StartSim(so);
  CollectOptions o = Options(dir, *sim, 1);
  constexpr double kRpm = 600, kBurst = 2;  // 10 requests per second
  o.limits.requests_per_min = kRpm;
  o.limits.request_burst = kBurst;
  o.limits.max_in_flight = 8;
  auto counters = RunCollect(o);
  ASSERT_TRUE(counters.ok()) << counters.status();
  EXPECT_EQ(counters->succeeded, 36);
  std::vector<int64_t> ts;
  for (const auto& e : Completions(*sim)) ts.push_back(e.timestamp_ms);
  ASSERT_EQ(ts.size(), 36u);
  std::sort(ts.begin(), ts.end());
  for (double w : {0.25, 0.5, 1.0, 2.0}) {
    const double allowed = kBurst + kRpm * w / 60 + 1;
    int worst = 0;
    for (size_t i = 0; i < ts.size(); ++i) {
      size_t j = i;
      while (j < ts.size() && ts[j] < ts[i] + static_cast<int64_t>(w * 1000)) ++j;
      worst = std::max(worst, static_cast<int>(j - i));
    }
    EXPECT_LE(worst, allowed) << "window " << w << " s";
  }
  // Hence the whole log spans at least (n - b - 1) / r minutes.
  EXPECT_GE(ts.back() - ts.front(), static_cast<int64_t>((36 - kBurst - 1) / kRpm * 60000 * 0.95));
  std::filesystem::remove_all(dir);
}

int Shell(const std::string& cmd, const std::string& out, const std::string& err) {
  int status = std::system((cmd + " >" + out + " 2>" + err).c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Property: the simulator requires the key (Bearer); the built binary, reading it from the variable named by
// --api-key-env, gets through, and neither the key nor a wrong one appears in traces, failures, the resolved
// config, stdout or stderr. (Also exercises --verify through the binary.)
TEST_F(CollectTeacherSim, ApiKeyNeverWrittenByTheBinary) {
  const std::string binary = std::string(DISTILL_BINARY_DIR) + "/distill";
  if (!std::filesystem::exists(binary)) GTEST_SKIP() << "no distill binary at " << binary;
  std::string dir = TempDir("sim_key");
  std::set<std::string> all = WritePrompts(dir + "/prompts.jsonl", 8, 30, 2);
  TeacherSimOptions so = FaultMixSim();
  so.api_key = kSecret;
  so.defects.no_reasoning = 0.1;  // some failure lines too
  so.defects.wrong_answer = 0.2;
  so.log_path = dir + "/sim_log.jsonl";
  auto sim = StartSim(so);
  auto command = [&](const std::string& out) {
    return absl::StrCat(binary, " collect -p ", dir, "/prompts.jsonl -o ", dir, "/", out, " -u ", sim->url(),
                        " -m deepseek-reasoner --api-key-env ", kKeyVar,
                        " -n 2 --max-attempts 3 --backoff 0.001 --progress lines --progress-interval 0.01 "
                        "--sampling-seed 3 --verify");
  };
  int rc = Shell(command("out/traces.jsonl"), dir + "/stdout.txt", dir + "/stderr.txt");
  std::string err = ReadAll(dir + "/stderr.txt");
  EXPECT_EQ(rc, 2) << err;  // finished, with failures
  auto traces = KeyCounts(dir + "/out/traces.jsonl");
  auto failures = KeyCounts(dir + "/out/traces.failures.jsonl");
  EXPECT_FALSE(traces.empty());
  EXPECT_FALSE(failures.empty());
  EXPECT_EQ(traces.size() + failures.size(), all.size());
  for (const json& t : ReadJsonl(dir + "/out/traces.jsonl")) EXPECT_TRUE(t.contains("verify")) << t.dump();
  EXPECT_NE(err.find("inline verify"), std::string::npos) << err;
  EXPECT_NE(err.find("wrong_answer"), std::string::npos) << err;
  std::string resolved = ReadAll(dir + "/out/traces.jsonl.config.yaml");
  EXPECT_NE(resolved.find(kKeyVar), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("verify: true"), std::string::npos) << resolved;
  for (const auto& e : sim->Log()) EXPECT_NE(e.outcome, "unauthorized");

  // A wrong key: the endpoint says 401, the run stops (exit 1) naming the variable, not the value.
  const std::string wrong = "sk-wrong-0123456789abcdef";
  std::string wrong_cmd = absl::StrCat(kKeyVar, "=", wrong, " ", command("out2/traces.jsonl"));
  EXPECT_EQ(Shell(wrong_cmd, dir + "/stdout2.txt", dir + "/stderr2.txt"), 1);
  std::string err2 = ReadAll(dir + "/stderr2.txt");
  EXPECT_NE(err2.find("401"), std::string::npos) << err2;
  EXPECT_NE(err2.find(kKeyVar), std::string::npos) << err2;
  bool saw_unauthorized = false;
  for (const auto& e : sim->Log()) saw_unauthorized |= e.outcome == "unauthorized";
  EXPECT_TRUE(saw_unauthorized);
  sim->Stop();

  int files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    ++files;
    std::string text = ReadAll(e.path().string());
    EXPECT_EQ(text.find(kSecret), std::string::npos) << e.path();
    EXPECT_EQ(text.find(wrong), std::string::npos) << e.path();
  }
  EXPECT_GE(files, 10);  // prompts, sim log, 2 × (traces, failures, config, stdout, stderr)
  std::filesystem::remove_all(dir);
}

// Property: with the simulator's wrong-answer and language-mix defects on, inline verify writes into each trace
// line exactly the verdict `distill verify`'s library computes for that line (VerifyTrace on the parsed line, and
// RunVerify over the file, less its "line" field), every trace is still written, the counts agree with RunVerify's
// and with the defects the simulator logged, and the summary carries the reject table.
TEST_F(CollectTeacherSim, InlineVerifyMatchesTheVerifyLibrary) {
  std::string dir = TempDir("sim_verify");
  WritePrompts(dir + "/prompts.jsonl", 11, 60, 2);
  TeacherSimOptions so;
  so.instant = true;
  so.seed = 5;
  so.defects.wrong_answer = 0.25;
  so.defects.language_mix = 0.25;
  auto sim = StartSim(so);
  CollectOptions o = Options(dir, *sim, 2);
  o.verify = true;
  auto counters = RunCollect(o);
  ASSERT_TRUE(counters.ok()) << counters.status();
  ASSERT_EQ(counters->succeeded, 120);  // rejected traces are written too
  ASSERT_TRUE(counters->verify_enabled);
  const data::VerifyCounts& inline_counts = counters->verify;
  EXPECT_EQ(inline_counts.traces, 120);
  EXPECT_EQ(inline_counts.accepted + inline_counts.rejected, 120);

  std::vector<json> lines = ReadJsonl(o.out_path);
  ASSERT_EQ(lines.size(), 120u);
  std::map<std::string, json> inline_verdicts;
  for (size_t i = 0; i < lines.size(); ++i) {
    const json& line = lines[i];
    ASSERT_TRUE(line.contains("verify")) << line.dump();
    EXPECT_FALSE(line["verify"].contains("line"));
    auto trace = TraceFromJson(line, absl::StrCat("traces:", i + 1));
    ASSERT_TRUE(trace.ok()) << trace.status();
    EXPECT_EQ(line["verify"], VerdictToJson(VerifyTrace(*trace, VerifyOptions{}), 0)) << KeyOf(line);
    inline_verdicts[KeyOf(line)] = line["verify"];
  }

  // The file-level library (`distill verify`), de-dup off since inline verify is per trace.
  VerifyOptions vo;
  vo.dedup = false;
  VerifyPaths paths{o.out_path, dir + "/accepted.jsonl", dir + "/rejected.jsonl", ""};
  auto verified = RunVerify(paths, vo);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->traces, 120);
  EXPECT_EQ(verified->accepted, inline_counts.accepted);
  EXPECT_EQ(verified->rejected, inline_counts.rejected);
  EXPECT_EQ(verified->graded, inline_counts.graded);
  EXPECT_EQ(verified->correct, inline_counts.correct);
  EXPECT_EQ(verified->reasons, inline_counts.reasons);
  EXPECT_EQ(verified->first_reasons, inline_counts.first_reasons);
  int compared = 0;
  for (const std::string& file : {paths.accepted, paths.rejected}) {
    for (json line : ReadJsonl(file)) {
      json v = line["verify"];
      v.erase("line");
      EXPECT_EQ(v, inline_verdicts[KeyOf(line)]) << KeyOf(line);
      ++compared;
    }
  }
  EXPECT_EQ(compared, 120);

  // The defects the simulator injected are the ones rejected (one request per trace: no faults).
  int wrong = 0, mixed = 0;
  for (const auto& e : Completions(*sim)) {
    wrong += e.defects.find("wrong_answer") != std::string::npos;
    mixed += e.defects.find("language_mix") != std::string::npos;
  }
  auto count = [&](const char* code) {
    auto it = inline_counts.reasons.find(code);
    return it == inline_counts.reasons.end() ? 0 : static_cast<int>(it->second);
  };
  EXPECT_GT(wrong, 0);
  EXPECT_GT(mixed, 0);
  EXPECT_EQ(count("wrong_answer"), wrong);
  EXPECT_EQ(count("language_mixing"), mixed);
  EXPECT_EQ(inline_counts.graded, 120);
  EXPECT_EQ(inline_counts.correct, 120 - wrong);

  std::string summary = FormatSummary(*counters, false);
  EXPECT_NE(summary.find("inline verify"), std::string::npos) << summary;
  EXPECT_NE(summary.find("wrong_answer"), std::string::npos) << summary;
  EXPECT_NE(summary.find(absl::StrCat(inline_counts.rejected, " rejected")), std::string::npos) << summary;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace distill::data::collect
