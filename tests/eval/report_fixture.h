// Fixture run folders for the `distill report` tests: one train run (50 steps, val_loss every 10) and two eval
// runs whose traces hold markup and ampersands (to prove escaping) and an endpoint URL in the settings.
#pragma once

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace distill::testing {

namespace report_fixture {
namespace fs = std::filesystem;
using nlohmann::json;

inline void WriteText(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// Synthetic training: loss decays with a wiggle, lr warms up then decays, throughput creeps up.
inline void WriteTrainRun(const fs::path& dir, int steps = 50) {
  std::string lines;
  for (int step = 1; step <= steps; ++step) {
    json j = {{"step", step},
              {"epoch", step / 25.0},
              {"loss", 2.5 * std::exp(-step / 20.0) + 0.5 + 0.05 * std::sin(step)},
              {"lr", step <= 5 ? 2e-5 * step / 5 : 2e-5 * (1.0 - (step - 5) / 50.0)},
              {"grad_norm", 1.0 / step},
              {"tokens", 4096},
              {"loss_tokens", 2048},
              {"tokens_per_s", 1000.0 + 10.0 * step + (step % 3) * 5.0},
              {"mfu", 0.0},
              {"memory_mb", 500.0 + step}};
    if (step % 10 == 0) j["val_loss"] = 2.0 * std::exp(-step / 25.0) + 0.7;
    lines += j.dump() + "\n";
  }
  WriteText(dir / "metrics.jsonl", lines);
  WriteText(dir / "resolved.yaml", "train:\n  mode: full\n");
}

struct FixtureSample {
  std::string id;
  bool correct;
  std::string difficulty;
  int64_t reasoning_tokens;
  std::string reasoning;
};

inline void WriteEvalRun(const fs::path& dir, const std::string& name, const std::string& backend, double pass1,
                         double maj, const std::vector<FixtureSample>& samples) {
  json metrics = {{"problems", 4},
                  {"samples", static_cast<int>(samples.size())},
                  {"pass@1", pass1},
                  {"maj@n", maj},
                  {"pass@k", {{"1", pass1}, {"4", std::min(1.0, pass1 + 0.25)}}},
                  {"think_format_rate", 0.875},
                  {"truncation_rate", 0.125},
                  {"loop_rate", 0.0},
                  {"language_mix_rate", 0.0625},
                  {"mean_reasoning_tokens", backend == "torch" ? json(nullptr) : json(412.25)},
                  {"mean_answer_tokens", backend == "torch" ? json(nullptr) : json(37.5)},
                  {"by_difficulty",
                   {{"level 10", {{"problems", 1}, {"pass@1", 0.25}, {"maj@n", 0.0}}},
                    {"level 2", {{"problems", 3}, {"pass@1", 0.75}, {"maj@n", 1.0}}}}}};
  json eval = {{"name", name},
               {"backend", backend},
               {"model", "qwen3-0.6b-sft"},
               {"benchmark", "math500-mini"},
               {"samples_per_problem", 4},
               {"settings", {{"endpoint", "http://127.0.0.1:8080/v1"}, {"temperature", 0.6}, {"max_tokens", 4096}}},
               {"metrics", metrics},
               {"wall_seconds", 12.5}};
  WriteText(dir / "eval.json", eval.dump(2));
  std::string lines;
  int index = 0;
  for (const FixtureSample& s : samples) {
    json j = {{"id", s.id},
              {"problem", "What is 6 * 7? Say it <b>bold</b> & quick."},
              {"answer", "42"},
              {"difficulty", s.difficulty},
              {"sample", index++ % 4},
              {"reasoning", s.reasoning},
              {"content", s.correct ? "The answer is \\boxed{42}." : "The answer is \\boxed{41}."},
              {"finish_reason", "stop"},
              {"reasoning_tokens", s.reasoning_tokens},
              {"answer_tokens", s.reasoning_tokens < 0 ? -1 : 12},
              {"extracted", s.correct ? "42" : "41"},
              {"correct", s.correct},
              {"think_ok", true},
              {"truncated", false},
              {"loop", false},
              {"language_mix", false}};
    lines += j.dump() + "\n";
  }
  WriteText(dir / "samples.jsonl", lines);
}

// root/train-a (train run), root/evals/{eval-a,eval-b} (eval runs). Returns the folders to pass: train-a, evals.
inline std::vector<std::string> WriteFixture(const fs::path& root) {
  WriteTrainRun(root / "train-a");
  std::vector<FixtureSample> a;
  for (int i = 0; i < 8; ++i) {
    a.push_back({"p" + std::to_string(i / 4), i % 3 != 0, i < 6 ? "level 2" : "level 10", 100 + 90 * i,
                 "Let me think. 6*7 = 42 & that is it. Step " + std::to_string(i)});
  }
  a[1].reasoning = "Careful: <script>alert(1)</script> & \"quotes\" & 'apostrophes' a & b";
  std::vector<FixtureSample> b;
  for (int i = 0; i < 6; ++i) {
    b.push_back({"p" + std::to_string(i / 4), i % 2 == 0, "level 2", -1, std::string(50 + 40 * i, 'x')});
  }
  WriteEvalRun(root / "evals" / "eval-a", "eval-a", "endpoint", 0.625, 0.75, a);
  WriteEvalRun(root / "evals" / "eval-b", "eval-b", "torch", 0.375, 0.5, b);
  fs::create_directories(root / "evals" / "notes");  // a subfolder without runs: ignored
  return {(root / "train-a").string(), (root / "evals").string()};
}

// A fresh temp folder per test (removed by the caller with fs::remove_all).
inline fs::path TempFolder(const std::string& tag) {
  const fs::path dir = fs::temp_directory_path() / ("distill-report-" + tag + "-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace report_fixture

}  // namespace distill::testing
