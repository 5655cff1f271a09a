// The shortened demo (`distill demo --quick`, what CI can afford) runs every stage end to end offline; its student
// — SFT on verified teacher traces — reasons in the teacher's think format where its base answers directly, and is
// at least as accurate (the accuracy gap itself needs the full demo's training; see the closing note). The same
// student checkpoint decoded greedily through LibTorch and through its f32 GGUF in llama.cpp gives the same tokens,
// hence the same answers, except where LibTorch's two best logits tie to within float rounding; and a GGUF eval
// cut short resumes where it stopped. On several cores the trainings run as data-parallel ranks.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/run_distill.h"
#include "tools/eval/eval_run.h"
#include "tools/eval/runner.h"
#include "trainer/checkpoint_io.h"
#include "trainer/decode.h"

namespace distill {
namespace {
namespace fs = std::filesystem;

std::map<std::string, std::string> ExtractedById(const eval::EvalRun& run) {
  std::map<std::string, std::string> answers;
  for (const eval::GradedSample& s : run.samples) answers[run.items[s.item_index].id] = s.extracted;
  return answers;
}

// Property: a --work folder that holds files the demo did not make is refused before the first stage, its files
// kept; the demo replaces results only in a folder it marked (or an empty one).
TEST(Demo, RefusesAWorkFolderItDidNotMake) {
  const fs::path work = fs::temp_directory_path() / ("distill_demo_foreign_" + std::to_string(::getpid()));
  fs::remove_all(work);
  fs::create_directories(work / "runs");
  std::ofstream(work / "runs" / "keep.txt") << "a project's own run\n";
  auto demo = testing::RunDistill("demo --quick --work " + work.string());
  EXPECT_NE(demo.exit_code, 0) << demo.out;
  EXPECT_NE(demo.out.find(work.string() + ": holds files and is not a demo work folder (no .distill-demo inside)"),
            std::string::npos)
      << demo.out;
  EXPECT_EQ(demo.out.find("teacher-sim"), std::string::npos) << demo.out;
  EXPECT_TRUE(fs::exists(work / "runs" / "keep.txt"));
  EXPECT_FALSE(fs::exists(work / ".distill-demo"));
  fs::remove_all(work);
}

TEST(Demo, QuickRunEndToEndStudentBeatsBaseAndGgufAgreesWithLibTorch) {
  const fs::path work = fs::temp_directory_path() / "distill_demo_test";
  fs::remove_all(work);
  auto demo = testing::RunDistill("demo --quick --work " + work.string());
  ASSERT_EQ(demo.exit_code, 0) << demo.out;
  for (const char* stage : {"[1/9] teacher-sim", "[2/9] collect", "[3/9] verify", "[4/9] vocabulary",
                            "[5/9] base model", "[6/9] build", "[7/9] train", "[8/9] export", "[9/9] eval"})
    EXPECT_NE(demo.out.find(stage), std::string::npos) << stage << "\n" << demo.out;
  EXPECT_TRUE(fs::exists(work / "report.html"));
  EXPECT_TRUE(fs::exists(work / ".distill-demo"));  // so a rerun may replace what is here
  EXPECT_TRUE(fs::exists(work / "student.q8_0.gguf"));
  // The base was probed on its tables after pretraining: every one-column fact once, by kind (the products are
  // 8 multipliers × 10 digits), no kind with more right than asked.
  std::smatch probe;
  ASSERT_TRUE(std::regex_search(demo.out, probe,
                                std::regex(R"(knows [0-9.]+% of (\d+) facts \(a \+ b \+ c (\d+)/(\d+), )"
                                           R"(a - b - c (\d+)/(\d+), x × d (\d+)/(\d+), p \+ c (\d+)/(\d+)\))")))
      << demo.out;
  int asked = 0;
  for (int kind = 0; kind < 4; ++kind) {
    EXPECT_LE(std::stoi(probe[2 + 2 * kind].str()), std::stoi(probe[3 + 2 * kind].str())) << probe[0];
    asked += std::stoi(probe[3 + 2 * kind].str());
  }
  EXPECT_EQ(asked, std::stoi(probe[1].str())) << probe[0];
  EXPECT_EQ(std::stoi(probe[7].str()), 80) << probe[0];
  // With several cores both trainings ran as data-parallel ranks (distill train, one thread each), each rank
  // holding its share of the step's 2 rows; their progress came through, and no rank reported an error.
  if (std::thread::hardware_concurrency() >= 2) {
    for (const char* run : {"pretrain", "sft"}) {
      std::ifstream resolved(work / "runs" / run / "resolved.yaml");
      const std::string text((std::istreambuf_iterator<char>(resolved)), std::istreambuf_iterator<char>());
      EXPECT_NE(text.find("micro_batch_rows: 1\n"), std::string::npos) << run << "\n" << text;
      EXPECT_NE(text.find("threads: 1\n"), std::string::npos) << run << "\n" << text;
    }
    EXPECT_NE(demo.out.find("steps/s"), std::string::npos) << demo.out;
    EXPECT_EQ(demo.out.find("[rank "), std::string::npos) << demo.out;
  }

  auto base = eval::ReadEvalRun((work / "evals" / "base").string());
  auto student = eval::ReadEvalRun((work / "evals" / "student").string());
  auto gguf = eval::ReadEvalRun((work / "evals" / "student-gguf").string());
  ASSERT_TRUE(base.ok() && student.ok() && gguf.ok()) << demo.out;
  EXPECT_GE(student->metrics.pass_at_1, base->metrics.pass_at_1) << demo.out;
  EXPECT_EQ(base->metrics.think_format_rate, 0.0) << demo.out;
  EXPECT_GT(student->metrics.think_format_rate, 0.5) << demo.out;
  EXPECT_GT(*student->metrics.mean_reasoning_tokens, 50.0) << demo.out;

  // The f32 GGUF of the student checkpoint through `distill export` and `distill eval --backend gguf`, with an f32
  // KV cache (llama.cpp's default f16 cache alone moves logits by ~1e-3).
  std::string checkpoint = student->info.model;
  auto exported = testing::RunDistill("export " + checkpoint + " -o " + (work / "student.f32.gguf").string() +
                                      " -t f32 -q");
  ASSERT_EQ(exported.exit_code, 0) << exported.out;
  const std::string f32_eval = "eval " + (work / "heldout.jsonl").string() + " --backend gguf -m " +
                               (work / "student.f32.gguf").string() + " --tokenizer " + checkpoint +
                               " --temperature 0 --kv-cache f32 -o " + (work / "evals-f32" / "student-f32").string();
  const std::string max_new_tokens = std::to_string(student->info.settings.value("max_new_tokens", 384));
  auto f32 = testing::RunDistill(f32_eval + " --max-new-tokens " + max_new_tokens);
  ASSERT_EQ(f32.exit_code, 0) << f32.out;
  auto f32_run = eval::ReadEvalRun((work / "evals-f32" / "student-f32").string());
  ASSERT_TRUE(f32_run.ok()) << f32_run.status();
  std::map<std::string, std::string> llama_answers = ExtractedById(*f32_run);
  std::map<std::string, std::string> torch_answers = ExtractedById(*student);

  // Token by token: the tokens llama.cpp generated in that run (llama_cpp_results.jsonl, stop ids included)
  // against LibTorch's greedy tokens and logits at every step on the same prompt ids. Both run in f32 but sum in
  // different orders, so where LibTorch's best logits are within kTie of each other either pick is right and the
  // rest of that problem's text may differ; anywhere else the tokens must be equal.
  constexpr double kTie = 1e-2;  // measured gaps at partings: 1e-4 to 8e-4; a real choice leads by far more
  std::map<std::string, std::vector<int64_t>> llama_tokens;  // by request key "i#0"
  {
    std::ifstream in(work / "evals-f32" / "student-f32" / "llama_cpp_results.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      nlohmann::json result = nlohmann::json::parse(line);
      llama_tokens[result.at("key").get<std::string>()] = result.at("tokens").get<std::vector<int64_t>>();
    }
  }
  eval::EvalOptions options;
  options.benchmark = (work / "heldout.jsonl").string();
  options.out = (work / "evals-f32" / "student-f32").string();
  options.tokenizer = checkpoint;
  auto plan = eval::PlanTokenEval(options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(llama_tokens.size(), plan->requests.size());
  auto model = trainer::LoadModel(checkpoint, torch::kCPU, torch::kFloat);
  ASSERT_TRUE(model.ok()) << model.status();
  int identical = 0;
  for (size_t i = 0; i < plan->requests.size(); ++i) {
    const std::string& id = plan->items[i].id;
    trainer::GenerateOptions greedy;
    greedy.max_new_tokens = student->info.settings.value("max_new_tokens", 384);
    greedy.eos_ids = plan->stop_ids;
    greedy.keep_logits = true;
    auto generation = trainer::Generate(**model, plan->requests[i].prompt_ids, greedy);
    ASSERT_TRUE(generation.ok()) << generation.status();
    const std::vector<int64_t>& ours = generation->tokens[0];
    const std::vector<int64_t>& theirs = llama_tokens[std::to_string(i) + "#0"];
    if (ours == theirs) {
      ++identical;
      EXPECT_EQ(llama_answers[id], torch_answers[id]) << id;
      continue;
    }
    size_t step = 0;
    while (step < ours.size() && step < theirs.size() && ours[step] == theirs[step]) ++step;
    ASSERT_LT(step, std::min(ours.size(), theirs.size())) << id << ": the two differ only in hitting the token limit";
    torch::Tensor logits = generation->logits[step][0].to(torch::kDouble);
    const double gap = logits.max().item<double>() - logits[theirs[step]].item<double>();
    std::printf("%s: llama.cpp and LibTorch part at step %zu, where LibTorch's choice leads llama.cpp's by %.2e\n",
                id.c_str(), step, gap);
    EXPECT_LE(gap, kTie)
        << id << ": llama.cpp's token at step " << step << " is not within a tie of LibTorch's greedy choice";
  }
  std::printf("llama.cpp (f32 GGUF, f32 KV cache) and LibTorch decode %d of %zu problems to identical tokens\n",
              identical, plan->requests.size());
  // Ties are rare: nearly every problem decodes to the same tokens.
  EXPECT_GE(identical, static_cast<int>(plan->requests.size()) * 3 / 4);

  // A rerun after a crash resumes: with the results cut to their first half and a torn line, the same eval has
  // llama.cpp generate only the missing samples and ends with the same results. Changed settings start over.
  const fs::path results = work / "evals-f32" / "student-f32" / "llama_cpp_results.jsonl";
  auto read_lines = [&results] {
    std::vector<std::string> lines;
    std::ifstream in(results);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  };
  const std::vector<std::string> complete = read_lines();
  const size_t kept = complete.size() / 2;
  {
    std::ofstream cut(results, std::ios::trunc);
    for (size_t i = 0; i < kept; ++i) cut << complete[i] << "\n";
    cut << complete[kept].substr(0, complete[kept].size() / 2);  // no newline: the write a crash interrupted
  }
  auto resumed = testing::RunDistill(f32_eval + " --max-new-tokens " + max_new_tokens);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("llama.cpp: " + std::to_string(kept) + " of " + std::to_string(complete.size()) +
                             " samples already in"),
            std::string::npos)
      << resumed.out;
  EXPECT_EQ(read_lines(), complete);
  auto changed = testing::RunDistill(f32_eval + " --max-new-tokens 4");
  ASSERT_EQ(changed.exit_code, 0) << changed.out;
  EXPECT_EQ(changed.out.find("already in"), std::string::npos) << changed.out;
  for (const std::string& line : read_lines())
    EXPECT_LE(nlohmann::json::parse(line).at("tokens").size(), 4u) << line;
}

}  // namespace
}  // namespace distill
