// The endpoint backend of `distill eval` against a real OpenAI-compatible server on loopback (the teacher
// simulator): n samples per problem go through the collector (faults retried), come back graded, and the metrics
// match what the server was told to do — every answer right and well-formed with a clean teacher, the wrong-answer
// share visible in pass@1 with a flawed one — and a rerun resumes instead of asking again, unless it asks another
// model, which inherits none of the first one's samples.
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tools/eval/eval_run.h"
#include "tools/eval/runner.h"
#include "tools/teacher/problems.h"
#include "tools/teacher/teacher_sim.h"

namespace distill::eval {
namespace {
namespace fs = std::filesystem;

struct Fixture {
  fs::path dir;
  std::string bench;
  explicit Fixture(const std::string& name) : dir(fs::temp_directory_path() / ("distill_eval_endpoint_" + name)) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    bench = (dir / "bench.jsonl").string();
    std::ofstream out(bench);
    int i = 0;
    for (const teacher::Problem& p : teacher::GenerateDemoProblems(3, 12))
      out << nlohmann::json{{"id", "q" + std::to_string(i++)}, {"problem", p.text}, {"answer", p.answer},
                            {"difficulty", p.family}}.dump()
          << "\n";
  }
};

EvalOptions Options(const Fixture& f, const std::string& url, const std::string& out) {
  EvalOptions o;
  o.backend = "endpoint";
  o.benchmark = f.bench;
  o.out = (f.dir / out).string();
  o.base_url = url;
  o.model = "deepseek-reasoner";
  o.samples = 4;
  o.ks = {1, 4};
  return o;
}

TEST(EvalEndpoint, ACleanTeacherScoresFullMarksThroughFaults) {
  Fixture f("clean");
  teacher::TeacherSimOptions sim;
  sim.faults = teacher::FaultRates::Uniform(0.2);
  sim.slow_first_byte_ms = 50;
  sim.retry_after_s = 0;
  teacher::TeacherSim server(sim);
  ASSERT_TRUE(server.Start().ok());
  auto result = RunEndpointEval(Options(f, server.url(), "clean"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->failed_samples, 0);
  EXPECT_EQ(result->metrics.problems, 12);
  EXPECT_EQ(result->metrics.samples, 48);
  EXPECT_DOUBLE_EQ(result->metrics.pass_at_1, 1.0);
  EXPECT_DOUBLE_EQ(result->metrics.maj_at_n, 1.0);
  EXPECT_DOUBLE_EQ(result->metrics.think_format_rate, 1.0);
  EXPECT_DOUBLE_EQ(result->metrics.loop_rate, 0.0);
  EXPECT_EQ(result->metrics.by_difficulty.size(), 4u);  // arithmetic, add, give, groups
  auto run = ReadEvalRun((f.dir / "clean").string());
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->info.backend, "endpoint");
  EXPECT_EQ(run->samples.size(), 48u);
}

TEST(EvalEndpoint, WrongAnswersAndLoopsShowInTheMetricsAndARerunResumes) {
  Fixture f("flawed");
  teacher::TeacherSimOptions sim;
  sim.defects.wrong_answer = 0.5;
  sim.defects.loop = 0.25;
  sim.defects.wait_correction = 0;
  teacher::TeacherSim server(sim);
  ASSERT_TRUE(server.Start().ok());
  auto first = RunEndpointEval(Options(f, server.url(), "flawed"));
  ASSERT_TRUE(first.ok()) << first.status();
  // The server's draws are per request; the eval sees exactly the share of wrong answers in samples.jsonl.
  auto run = ReadEvalRun((f.dir / "flawed").string());
  ASSERT_TRUE(run.ok()) << run.status();
  int correct = 0, loops = 0;
  for (const GradedSample& s : run->samples) correct += s.correct, loops += s.loop;
  EXPECT_GT(correct, 0);
  EXPECT_LT(correct, 48);
  EXPECT_GT(loops, 0);
  EXPECT_DOUBLE_EQ(first->metrics.pass_at_1, correct / 48.0);
  EXPECT_DOUBLE_EQ(first->metrics.loop_rate, loops / 48.0);
  EXPECT_GE(first->metrics.pass_at_k.at(4), first->metrics.pass_at_1);
  // A second run finds every sample in traces.jsonl: nothing is asked again, the result is the same.
  std::uintmax_t before = fs::file_size(f.dir / "flawed" / "traces.jsonl");
  auto second = RunEndpointEval(Options(f, server.url(), "flawed"));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(fs::file_size(f.dir / "flawed" / "traces.jsonl"), before);
  EXPECT_DOUBLE_EQ(second->metrics.pass_at_1, first->metrics.pass_at_1);
  // Another model in the same folder inherits nothing: every sample is asked of it (the server echoes the model),
  // and its own rerun resumes again.
  EvalOptions other = Options(f, server.url(), "flawed");
  other.model = "other-model";
  ASSERT_TRUE(RunEndpointEval(other).ok());
  std::ifstream traces(f.dir / "flawed" / "traces.jsonl");
  int lines = 0, of_other = 0;
  for (std::string line; std::getline(traces, line); ++lines)
    of_other += nlohmann::json::parse(line).value("teacher_model", "") == "other-model";
  EXPECT_EQ(lines, 48);
  EXPECT_EQ(of_other, 48);
  before = fs::file_size(f.dir / "flawed" / "traces.jsonl");
  ASSERT_TRUE(RunEndpointEval(other).ok());
  EXPECT_EQ(fs::file_size(f.dir / "flawed" / "traces.jsonl"), before);
}

// Property: bad options are refused before any request (the endpoint is a closed port, so a run that got as far
// as asking would fail on the connection instead), and so is a missing benchmark, each named.
TEST(EvalEndpoint, BadOptionsAndAMissingBenchmarkAreRefused) {
  Fixture f("bad");
  EvalOptions o = Options(f, "http://127.0.0.1:9", "bad");
  o.samples = 0;
  EXPECT_NE(RunEndpointEval(o).status().message().find("samples must be >= 1"), std::string::npos);
  o = Options(f, "http://127.0.0.1:9", "bad");
  o.ks = {1, 0};  // would otherwise fail only when the metrics are computed, after every sample
  EXPECT_NE(RunEndpointEval(o).status().message().find("pass@k with k = 0 (expected k >= 1)"), std::string::npos);
  o = Options(f, "http://127.0.0.1:9", "bad");
  o.limit = -1;
  EXPECT_NE(RunEndpointEval(o).status().message().find("limit must be >= 0"), std::string::npos);
  o = Options(f, "", "bad");
  EXPECT_NE(RunEndpointEval(o).status().message().find("--base-url"), std::string::npos);
  o = Options(f, "http://127.0.0.1:9", "bad");
  o.benchmark = (f.dir / "missing.jsonl").string();
  auto missing = RunEndpointEval(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("missing.jsonl"), std::string::npos);
}

}  // namespace
}  // namespace distill::eval
