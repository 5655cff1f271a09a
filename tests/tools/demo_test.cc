// The shortened demo (`distill demo --quick`, what CI can afford) runs every stage end to end offline; its student
// — SFT on verified teacher traces — reasons in the teacher's think format where its base answers directly, and is
// at least as accurate (the accuracy gap itself needs the full demo's training; see the closing note). The same
// student checkpoint evaluated greedily through LibTorch and through its f32 GGUF in llama.cpp gives the same
// answers.
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/run_distill.h"
#include "tools/eval/eval_run.h"

namespace distill {
namespace {
namespace fs = std::filesystem;

std::map<std::string, std::string> ExtractedById(const eval::EvalRun& run) {
  std::map<std::string, std::string> answers;
  for (const eval::GradedSample& s : run.samples) answers[run.items[s.item_index].id] = s.extracted;
  return answers;
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
  EXPECT_TRUE(fs::exists(work / "student.q8_0.gguf"));

  auto base = eval::ReadEvalRun((work / "evals" / "base").string());
  auto student = eval::ReadEvalRun((work / "evals" / "student").string());
  auto gguf = eval::ReadEvalRun((work / "evals" / "student-gguf").string());
  ASSERT_TRUE(base.ok() && student.ok() && gguf.ok()) << demo.out;
  EXPECT_GE(student->metrics.pass_at_1, base->metrics.pass_at_1) << demo.out;
  EXPECT_EQ(base->metrics.think_format_rate, 0.0) << demo.out;
  EXPECT_GT(student->metrics.think_format_rate, 0.8) << demo.out;
  EXPECT_GT(*student->metrics.mean_reasoning_tokens, 50.0) << demo.out;

  // The f32 GGUF of the student checkpoint, greedy in llama.cpp, against the LibTorch eval's answers.
  std::string checkpoint = student->info.model;
  auto exported = testing::RunDistill("export " + checkpoint + " -o " + (work / "student.f32.gguf").string() +
                                      " -t f32 -q");
  ASSERT_EQ(exported.exit_code, 0) << exported.out;
  auto f32 = testing::RunDistill("eval " + (work / "heldout.jsonl").string() + " --backend gguf -m " +
                                 (work / "student.f32.gguf").string() + " --tokenizer " + checkpoint +
                                 " --temperature 0 --max-new-tokens " +
                                 std::to_string(student->info.settings.value("max_new_tokens", 384)) + " -o " +
                                 (work / "evals-f32" / "student-f32").string());
  ASSERT_EQ(f32.exit_code, 0) << f32.out;
  auto f32_run = eval::ReadEvalRun((work / "evals-f32" / "student-f32").string());
  ASSERT_TRUE(f32_run.ok()) << f32_run.status();
  EXPECT_EQ(ExtractedById(*f32_run), ExtractedById(*student));
}

}  // namespace
}  // namespace distill
