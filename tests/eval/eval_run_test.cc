// Eval run folders: write → read round trip (info, settings, metrics, every sample field, unknown token counts,
// raw text of malformed samples), files written temp-then-rename with eval.json last, corrupt folders refused
// with FILE:LINE, and the comparison table / Markdown with run names, percentages and difficulty rows.
#include "tools/eval/eval_run.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"

namespace distill::eval {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using testing::TempDir;

void WriteAll(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

SampleOutput Inline(const std::string& reasoning, const std::string& answer) {
  SampleOutput out;
  out.content = "<think>\n" + reasoning + "\n</think>\n\n" + answer;
  out.finish_reason = "stop";
  return out;
}

// 2 problems × 2 samples: a inline, with counts; b separated and one malformed inline sample.
struct Fixture {
  std::vector<BenchmarkItem> items = {{"a", "What is 2+3?", "5", "level 1"}, {"b", "What is 3*4?", "12", ""}};
  std::vector<GradedSample> graded;
  EvalRunInfo info;
  Fixture() {
    SampleOutput a0 = Inline("Two plus three is five.", "\\boxed{5}");
    a0.reasoning_tokens = 6;
    a0.answer_tokens = 4;
    SampleOutput a1 = Inline("Two plus three is six?", "\\boxed{6}");
    SampleOutput b0;
    b0.separated = true;
    b0.reasoning = "Three fours are twelve.";
    b0.content = "\\boxed{12}";
    b0.finish_reason = "stop";
    b0.reasoning_tokens = 5;
    SampleOutput b1;
    b1.content = "<think>\nThree fours are 12";  // never closed: raw is kept
    b1.finish_reason = "length";
    graded = {GradeSample(items[0], a0, 0, 0), GradeSample(items[0], a1, 0, 1), GradeSample(items[1], b0, 1, 0),
              GradeSample(items[1], b1, 1, 1)};
    info.name = "qwen-1.5b-distill";
    info.backend = "endpoint";
    info.model = "qwen-1.5b";
    info.benchmark = "math-mini.jsonl";
    info.samples_per_problem = 2;
    info.settings = {{"temperature", 0.6}, {"top_p", 0.95}, {"max_new_tokens", 32768}, {"seed", 7}};
    info.wall_seconds = 12.5;
  }
};

// Everything written is read back unchanged, eval.json has the documented keys, and no temp file is left.
TEST(EvalRunTest, WriteReadRoundTrip) {
  TempDir tmp;
  Fixture f;
  const std::string dir = tmp.File("run/nested");  // created on demand
  absl::StatusOr<EvalMetrics> written = WriteEvalRun(dir, f.info, f.items, f.graded);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_DOUBLE_EQ(written->pass_at_1, 0.75);  // a: 1/2, b: 2/2 (b1's last number 12 counts)
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"eval.json", "samples.jsonl"}));

  json eval = json::parse(testing::ReadFile(dir + "/eval.json"));
  for (const char* key : {"name", "backend", "model", "benchmark", "samples_per_problem", "settings", "metrics",
                          "wall_seconds"}) {
    EXPECT_TRUE(eval.contains(key)) << key;
  }
  EXPECT_EQ(eval["metrics"], MetricsToJson(*written));
  std::vector<std::string> lines = Lines(testing::ReadFile(dir + "/samples.jsonl"));
  ASSERT_EQ(lines.size(), 4u);
  json first = json::parse(lines[0]);
  for (const char* key : {"id", "problem", "answer", "difficulty", "sample", "reasoning", "content",
                          "finish_reason", "reasoning_tokens", "answer_tokens", "extracted", "correct", "think_ok",
                          "truncated", "loop", "language_mix"}) {
    EXPECT_TRUE(first.contains(key)) << key;
  }
  EXPECT_TRUE(json::parse(lines[1])["reasoning_tokens"].is_null());  // unknown stays unknown
  EXPECT_TRUE(json::parse(lines[3]).contains("raw"));

  absl::StatusOr<EvalRun> run = ReadEvalRun(dir);
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->info.name, f.info.name);
  EXPECT_EQ(run->info.backend, "endpoint");
  EXPECT_EQ(run->info.model, "qwen-1.5b");
  EXPECT_EQ(run->info.benchmark, "math-mini.jsonl");
  EXPECT_EQ(run->info.samples_per_problem, 2);
  EXPECT_EQ(run->info.settings, f.info.settings);
  EXPECT_DOUBLE_EQ(run->info.wall_seconds, 12.5);
  EXPECT_EQ(run->info.ks, (std::vector<int>{1, 2}));  // the requested ks up to n
  EXPECT_EQ(MetricsToJson(run->metrics), MetricsToJson(*written));
  ASSERT_EQ(run->items.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(run->items[i].id, f.items[i].id);
    EXPECT_EQ(run->items[i].problem, f.items[i].problem);
    EXPECT_EQ(run->items[i].answer, f.items[i].answer);
    EXPECT_EQ(run->items[i].difficulty, f.items[i].difficulty);
  }
  ASSERT_EQ(run->samples.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const GradedSample& a = f.graded[i];
    const GradedSample& b = run->samples[i];
    EXPECT_EQ(b.item_index, a.item_index);
    EXPECT_EQ(b.sample_index, a.sample_index);
    EXPECT_EQ(b.reasoning, a.reasoning);
    EXPECT_EQ(b.answer_text, a.answer_text);
    EXPECT_EQ(b.raw, a.raw);
    EXPECT_EQ(b.separated, a.separated);
    EXPECT_EQ(b.finish_reason, a.finish_reason);
    EXPECT_EQ(b.extracted, a.extracted);
    EXPECT_EQ(b.correct, a.correct);
    EXPECT_EQ(b.think_ok, a.think_ok);
    EXPECT_EQ(b.truncated, a.truncated);
    EXPECT_EQ(b.loop, a.loop);
    EXPECT_EQ(b.language_mix, a.language_mix);
    EXPECT_EQ(b.reasoning_tokens, a.reasoning_tokens);
    EXPECT_EQ(b.answer_tokens, a.answer_tokens);
  }
  // Summarizing what was read gives the stored metrics.
  absl::StatusOr<EvalMetrics> again = Summarize(run->items, run->samples, run->info.ks);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(MetricsToJson(*again), MetricsToJson(run->metrics));

  absl::StatusOr<EvalRunSummary> summary = ReadEvalRunSummary(dir);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->name, f.info.name);
  EXPECT_DOUBLE_EQ(summary->metrics.pass_at_1, 0.75);
}

// Rewriting a folder replaces both files; a bad backend or a samples_per_problem mismatch writes nothing.
TEST(EvalRunTest, WriteRefusesBadInfo) {
  TempDir tmp;
  Fixture f;
  EvalRunInfo bad = f.info;
  bad.backend = "vllm";
  EXPECT_FALSE(WriteEvalRun(tmp.File("x"), bad, f.items, f.graded).ok());
  bad = f.info;
  bad.samples_per_problem = 3;
  EXPECT_FALSE(WriteEvalRun(tmp.File("x"), bad, f.items, f.graded).ok());
  EXPECT_FALSE(fs::exists(tmp.File("x/eval.json")));
  ASSERT_TRUE(WriteEvalRun(tmp.File("x"), f.info, f.items, f.graded).ok());
  EvalRunInfo renamed = f.info;
  renamed.name = "second";
  ASSERT_TRUE(WriteEvalRun(tmp.File("x"), renamed, f.items, f.graded).ok());
  EXPECT_EQ(ReadEvalRun(tmp.File("x"))->info.name, "second");
}

// A corrupt or incomplete folder is refused with the file, the line and what was expected.
TEST(EvalRunTest, ReadRefusesCorruptFolders) {
  TempDir tmp;
  Fixture f;
  const std::string dir = tmp.File("run");
  ASSERT_TRUE(WriteEvalRun(dir, f.info, f.items, f.graded).ok());
  const std::string samples = testing::ReadFile(dir + "/samples.jsonl");
  const std::string eval = testing::ReadFile(dir + "/eval.json");
  std::vector<std::string> lines = Lines(samples);
  auto expect_error = [&](const std::string& what) {
    absl::StatusOr<EvalRun> run = ReadEvalRun(dir);
    ASSERT_FALSE(run.ok());
    EXPECT_NE(run.status().message().find(what), std::string::npos) << run.status();
  };

  json broken = json::parse(lines[2]);
  broken["correct"] = "yes";
  WriteAll(dir + "/samples.jsonl", lines[0] + "\n" + lines[1] + "\n" + broken.dump() + "\n" + lines[3] + "\n");
  expect_error("samples.jsonl:3: \"correct\" is string (expected true or false)");

  WriteAll(dir + "/samples.jsonl", lines[0] + "\n" + lines[1] + "\n" + lines[2] + "\n");  // b lost a sample
  expect_error("samples.jsonl: id \"b\" (line 3) has 1 samples (expected samples_per_problem = 2)");

  WriteAll(dir + "/samples.jsonl", lines[0] + "\n" + lines[0] + "\n" + lines[2] + "\n" + lines[3] + "\n");
  expect_error("samples.jsonl:2: sample 0 of id \"a\" repeats line 1");

  json other = json::parse(lines[1]);
  other["answer"] = "6";
  WriteAll(dir + "/samples.jsonl", lines[0] + "\n" + other.dump() + "\n" + lines[2] + "\n" + lines[3] + "\n");
  expect_error("samples.jsonl:2: id \"a\" has another problem, answer or difficulty than at line 1");

  WriteAll(dir + "/samples.jsonl", samples + "{not json\n");
  expect_error("samples.jsonl:5: not valid JSON");

  WriteAll(dir + "/samples.jsonl", samples);
  json e = json::parse(eval);
  e["samples_per_problem"] = 0;
  WriteAll(dir + "/eval.json", e.dump());
  expect_error("eval.json: \"samples_per_problem\" is 0 (expected an integer >= 1)");
  e = json::parse(eval);
  e["metrics"]["pass@1"] = 1.5;
  WriteAll(dir + "/eval.json", e.dump());
  expect_error("eval.json: \"metrics\": \"pass@1\" is 1.5 (expected a share in [0, 1])");
  e = json::parse(eval);
  e.erase("model");
  WriteAll(dir + "/eval.json", e.dump());
  expect_error("eval.json: missing \"model\" (expected a string)");

  fs::remove(dir + "/eval.json");  // an incomplete folder: no eval.json
  EXPECT_EQ(ReadEvalRun(dir).status().code(), absl::StatusCode::kNotFound);
}

EvalRunSummary Summary(const std::string& name, double pass1, double maj, int n) {
  EvalRunSummary s;
  s.name = name;
  s.metrics.problems = 500;
  s.metrics.samples = 500 * n;
  s.metrics.samples_per_problem = n;
  s.metrics.pass_at_1 = pass1;
  s.metrics.maj_at_n = maj;
  s.metrics.pass_at_k = {{1, pass1}, {2, 0.8}};
  s.metrics.think_format_rate = 0.995;
  s.metrics.truncation_rate = 0.01;
  s.metrics.loop_rate = 0.002;
  s.metrics.language_mix_rate = 0;
  return s;
}

// The table heads columns with the run names, shows shares as percentages with one decimal, "n/a" for unknown
// token means, "-" for what a run lacks, difficulty rows when any run has them, and aligns every line.
TEST(ComparisonTableTest, RunsSideBySide) {
  EvalRunSummary a = Summary("base", 0.28333, 0.35, 4);
  a.metrics.mean_reasoning_tokens = 3210.44;
  a.metrics.mean_answer_tokens = 180.0;
  EvalRunSummary b = Summary("distilled", 0.71349, 0.8, 4);
  b.metrics.pass_at_k[4] = 0.9;
  b.metrics.by_difficulty["level 1"] = {100, 0.9, 0.95};
  b.metrics.by_difficulty["level 10"] = {100, 0.4, 0.5};
  b.metrics.by_difficulty["level 2"] = {100, 0.7, 0.75};
  std::string table = FormatComparisonTable({a, b});
  std::vector<std::string> lines = Lines(table);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_NE(lines[0].find("base"), std::string::npos);
  EXPECT_NE(lines[0].find("distilled"), std::string::npos);
  for (const char* expected : {"28.3%", "71.3%", "35.0%", "80.0%", "99.5%", "1.0%", "0.2%", "3210.4", "n/a",
                               "maj@4", "pass@2", "pass@4", "pass@1 level 1", "maj@4 level 10", "90.0% (100)"}) {
    EXPECT_NE(table.find(expected), std::string::npos) << expected << "\n" << table;
  }
  // Difficulties in natural order: level 2 before level 10.
  EXPECT_LT(table.find("pass@1 level 2"), table.find("pass@1 level 10")) << table;
  // a has no pass@4 and no difficulties: "-".
  for (const std::string& line : lines) {
    if (line.rfind("pass@4", 0) == 0) {
      EXPECT_NE(line.find(" - "), std::string::npos) << line;
    }
  }
  for (const std::string& line : lines) EXPECT_EQ(line.size(), lines[0].size()) << table;

  std::string md = FormatComparisonMarkdown({a, b});
  EXPECT_EQ(Lines(md)[0], "| metric | base | distilled |");
  EXPECT_EQ(Lines(md)[1], "| --- | ---: | ---: |");
  EXPECT_NE(md.find("| pass@1 | 28.3% | 71.3% |"), std::string::npos) << md;
}

// Runs with different n label the majority row "maj@n" and show each n.
TEST(ComparisonTableTest, DifferentSampleCounts) {
  std::string table = FormatComparisonTable({Summary("a", 0.5, 0.5, 4), Summary("b", 0.5, 0.6, 8)});
  EXPECT_NE(table.find("maj@n"), std::string::npos) << table;
  EXPECT_NE(table.find("60.0% (n=8)"), std::string::npos) << table;
}

}  // namespace
}  // namespace distill::eval
