// Grading and eval metrics on hand-checked traces: pass@1, maj@n (ties, equivalent spellings voting together,
// empty extractions not voting), the unbiased pass@k estimator, think-format / truncation / loop /
// language-mix flags, inline vs separated reasoning, token means with unknown counts, accuracy by difficulty,
// input validation and the JSON form.
#include "tools/eval/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace distill::eval {
namespace {

// Inline R1 output: a think block, then an answer.
SampleOutput Inline(const std::string& reasoning, const std::string& answer, const std::string& finish = "stop") {
  SampleOutput out;
  out.content = "<think>\n" + reasoning + "\n</think>\n\n" + answer;
  out.finish_reason = finish;
  return out;
}

// A sample whose answer part boxes `answer` ("" gives an answer with no number at all).
SampleOutput Answering(const std::string& answer) {
  return Inline("Let me work this out carefully.",
                answer.empty() ? "I could not decide." : "The answer is $\\boxed{" + answer + "}$.");
}

BenchmarkItem Item(const std::string& id, const std::string& answer, const std::string& difficulty = "") {
  return BenchmarkItem{id, "Compute the value for problem " + id + ".", answer, difficulty};
}

// Grades answers[i][s] as sample s of item i.
std::vector<GradedSample> GradeAll(const std::vector<BenchmarkItem>& items,
                                   const std::vector<std::vector<std::string>>& answers) {
  std::vector<GradedSample> graded;
  for (size_t i = 0; i < items.size(); ++i) {
    for (size_t s = 0; s < answers[i].size(); ++s) {
      graded.push_back(GradeSample(items[i], Answering(answers[i][s]), static_cast<int>(i), static_cast<int>(s)));
    }
  }
  return graded;
}

std::vector<const GradedSample*> Pointers(const std::vector<GradedSample>& graded) {
  std::vector<const GradedSample*> out;
  for (const GradedSample& g : graded) out.push_back(&g);
  return out;
}

// The unbiased estimator matches the binomial formula on hand-computed cases and is stable for large n.
TEST(PassAtKTest, MatchesHandComputedBinomials) {
  EXPECT_DOUBLE_EQ(PassAtK(4, 1, 2), 0.5);              // 1 - C(3,2)/C(4,2) = 1 - 3/6
  EXPECT_NEAR(PassAtK(4, 2, 2), 5.0 / 6.0, 1e-12);      // 1 - C(2,2)/C(4,2) = 1 - 1/6
  EXPECT_DOUBLE_EQ(PassAtK(4, 0, 2), 0.0);              // nothing correct
  EXPECT_DOUBLE_EQ(PassAtK(4, 3, 2), 1.0);              // n - c = 1 < k: every pair has a correct sample
  EXPECT_NEAR(PassAtK(10, 3, 1), 0.3, 1e-12);           // k = 1 is c/n
  EXPECT_NEAR(PassAtK(64, 1, 1), 1.0 / 64.0, 1e-12);
  EXPECT_NEAR(PassAtK(64, 1, 8), 8.0 / 64.0, 1e-12);    // one correct of 64: 1 - C(63,8)/C(64,8) = 8/64
  EXPECT_NEAR(PassAtK(1000, 10, 100), 1.0 - std::exp(std::lgamma(991) + std::lgamma(901) - std::lgamma(891) -
                                                     std::lgamma(1001)),
              1e-9);  // 1 - C(990,100)/C(1000,100) via log-gamma
}

// 3 problems × 4 samples with known correct patterns give the hand-computed pass@1, maj@4 and pass@k.
TEST(SummarizeTest, HandCheckedPassAndMajority) {
  std::vector<BenchmarkItem> items = {Item("a", "5"), Item("b", "12"), Item("c", "1/2")};
  std::vector<GradedSample> graded = GradeAll(items, {
                                                         {"5", "5", "5", "5"},                // c=4, maj 5 ✓
                                                         {"12", "7", "7", "3"},               // c=1, maj 7 ✗
                                                         {"3", "3", "\\frac{1}{2}", "1/2"},  // c=2, tie → 3 ✗
                                                     });
  absl::StatusOr<EvalMetrics> m = Summarize(items, graded, {1, 2, 4, 8});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->problems, 3);
  EXPECT_EQ(m->samples, 12);
  EXPECT_EQ(m->samples_per_problem, 4);
  EXPECT_NEAR(m->pass_at_1, (1.0 + 0.25 + 0.5) / 3.0, 1e-12);  // 0.5833
  EXPECT_NEAR(m->maj_at_n, 1.0 / 3.0, 1e-12);                  // only "a"
  ASSERT_EQ(m->pass_at_k.size(), 3u);                          // k = 8 > n = 4 is left out
  EXPECT_NEAR(m->pass_at_k.at(1), m->pass_at_1, 1e-12);
  // pass@2: a = 1, b = 1 - C(3,2)/C(4,2) = 0.5, c = 1 - C(2,2)/C(4,2) = 5/6.
  EXPECT_NEAR(m->pass_at_k.at(2), (1.0 + 0.5 + 5.0 / 6.0) / 3.0, 1e-12);
  EXPECT_NEAR(m->pass_at_k.at(4), 1.0, 1e-12);  // every problem has a correct sample
  EXPECT_TRUE(m->by_difficulty.empty());         // no item has a difficulty
  EXPECT_DOUBLE_EQ(m->think_format_rate, 1.0);
  EXPECT_FALSE(m->mean_reasoning_tokens.has_value());  // no counts given: unknown, not estimated
}

// A tie in the vote goes to the answer whose first vote came first.
TEST(MajorityTest, TieGoesToEarliestFirstVote) {
  BenchmarkItem item = Item("t", "9");
  std::vector<GradedSample> graded = GradeAll({item}, {{"4", "9", "9", "4"}});
  std::optional<MajorityVote> vote = MajorityAnswer(Pointers(graded));
  ASSERT_TRUE(vote.has_value());
  EXPECT_EQ(vote->answer, "4");
  EXPECT_EQ(vote->first_sample, 0);
  EXPECT_EQ(vote->votes, 2);
  graded = GradeAll({item}, {{"9", "4", "4", "9"}});
  EXPECT_EQ(MajorityAnswer(Pointers(graded))->answer, "9");
}

// "1/2", "\frac{1}{2}" and "\dfrac12" are one answer in the vote: 3 votes beat the earlier "7" (without
// grouping it would be a four-way tie won by "7").
TEST(MajorityTest, EquivalentSpellingsVoteTogether) {
  std::vector<BenchmarkItem> items = {Item("h", "0.5")};
  std::vector<GradedSample> graded = GradeAll(items, {{"7", "\\frac{1}{2}", "1/2", "\\dfrac12"}});
  std::optional<MajorityVote> vote = MajorityAnswer(Pointers(graded));
  ASSERT_TRUE(vote.has_value());
  EXPECT_EQ(vote->votes, 3);
  EXPECT_EQ(vote->first_sample, 1);
  absl::StatusOr<EvalMetrics> m = Summarize(items, graded, {1});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_DOUBLE_EQ(m->maj_at_n, 1.0);
  EXPECT_DOUBLE_EQ(m->pass_at_1, 0.75);
}

// Samples that extract nothing do not vote: one "5" among three empties wins; no extraction at all → no winner.
TEST(MajorityTest, EmptyExtractionsDoNotVote) {
  std::vector<BenchmarkItem> items = {Item("e", "5"), Item("f", "5")};
  std::vector<GradedSample> graded = GradeAll(items, {{"", "", "5", ""}, {"", "", "", ""}});
  EXPECT_EQ(graded[0].extracted, "");
  std::vector<const GradedSample*> all = Pointers(graded);
  std::vector<const GradedSample*> first(all.begin(), all.begin() + 4), second(all.begin() + 4, all.end());
  EXPECT_EQ(MajorityAnswer(first)->answer, "5");
  EXPECT_FALSE(MajorityAnswer(second).has_value());
  absl::StatusOr<EvalMetrics> m = Summarize(items, graded, {1});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_DOUBLE_EQ(m->maj_at_n, 0.5);
  EXPECT_DOUBLE_EQ(m->pass_at_1, 0.125);
}

// The answer is extracted from the part after </think>, not from numbers or boxes in the reasoning.
TEST(GradeSampleTest, ExtractsFromTheAnswerPart) {
  BenchmarkItem item = Item("x", "5");
  GradedSample g = GradeSample(item, Inline("Maybe it is \\boxed{7}? No, recount: 2 + 3.", "So the total is 5."), 0, 0);
  EXPECT_TRUE(g.think_ok);
  EXPECT_EQ(g.reasoning, "Maybe it is \\boxed{7}? No, recount: 2 + 3.");
  EXPECT_EQ(g.answer_text, "So the total is 5.");
  EXPECT_EQ(g.extracted, "5");
  EXPECT_TRUE(g.correct);
  EXPECT_FALSE(g.truncated);
  EXPECT_FALSE(g.loop);
  EXPECT_FALSE(g.language_mix);
  EXPECT_EQ(g.raw, "");  // well-formed: the split keeps everything
}

// A "<think>\n" prefill leaves only "</think>" in the output, which is well-formed.
TEST(GradeSampleTest, PrefilledThinkIsWellFormed) {
  SampleOutput out;
  out.content = "Two plus three is five.\n</think>\n\n\\boxed{5}";
  out.finish_reason = "stop";
  GradedSample g = GradeSample(Item("p", "5"), out, 0, 0);
  EXPECT_TRUE(g.think_ok);
  EXPECT_EQ(g.reasoning, "Two plus three is five.");
  EXPECT_TRUE(g.correct);
}

// Missing </think>: think_ok is false, the whole text is kept as raw and the answer is looked for in all of it.
TEST(GradeSampleTest, MissingCloseTagIsNotThinkOk) {
  SampleOutput out;
  out.content = "<think>\nTwo plus three is five, so \\boxed{5}";
  out.finish_reason = "stop";
  GradedSample g = GradeSample(Item("m", "5"), out, 0, 0);
  EXPECT_FALSE(g.think_ok);
  EXPECT_EQ(g.answer_text, "");
  EXPECT_EQ(g.raw, out.content);
  EXPECT_EQ(g.extracted, "5");
  EXPECT_TRUE(g.correct);
  // No think block at all is not well-formed either.
  out.content = "The answer is \\boxed{5}.";
  g = GradeSample(Item("m", "5"), out, 0, 0);
  EXPECT_FALSE(g.think_ok);
  EXPECT_TRUE(g.correct);
}

// finish_reason "length" marks the sample truncated; cut off mid-thought it is also not think_ok.
TEST(GradeSampleTest, TruncatedSample) {
  SampleOutput out;
  out.content = "<think>\nFirst, 2 + 3";
  out.finish_reason = "length";
  GradedSample g = GradeSample(Item("t", "5"), out, 0, 0);
  EXPECT_TRUE(g.truncated);
  EXPECT_FALSE(g.think_ok);
  EXPECT_EQ(g.extracted, "3");  // the last number of the whole text
  EXPECT_FALSE(g.correct);
}

// A reasoning loop (the same sentence over and over) is flagged; the clean trace is not.
TEST(GradeSampleTest, LoopingTraceIsFlagged) {
  std::string looping;
  for (int i = 0; i < 30; ++i) looping += "Wait, let me check the sum of two and three once more. ";
  GradedSample g = GradeSample(Item("l", "5"), Inline(looping, "\\boxed{5}"), 0, 0);
  EXPECT_TRUE(g.loop);
  EXPECT_TRUE(g.correct);  // the flag does not change grading
}

// Chinese sentences inside an English trace for an English problem are language mixing.
TEST(GradeSampleTest, ChineseInEnglishTraceIsFlagged) {
  std::string reasoning =
      "We need the sum of two and three. 我们需要仔细计算这个问题的答案然后再检查一下结果是否正确。 "
      "So adding them gives five.";
  GradedSample g = GradeSample(Item("c", "5"), Inline(reasoning, "\\boxed{5}"), 0, 0);
  EXPECT_TRUE(g.language_mix);
  // The same Chinese text for a Chinese problem is not mixing.
  BenchmarkItem zh{"z", "计算二加三的结果是多少？", "5", ""};
  SampleOutput chinese = Inline("我们需要仔细计算二加三的答案然后再检查一下结果是否正确。", "\\boxed{5}");
  GradedSample native = GradeSample(zh, chinese, 0, 0);
  EXPECT_FALSE(native.language_mix);
}

// Separated reasoning (reasoning_content endpoints) is graded the same as the equivalent inline output.
TEST(GradeSampleTest, SeparatedMatchesInline) {
  BenchmarkItem item = Item("s", "5");
  SampleOutput separated;
  separated.separated = true;
  separated.reasoning = "Two plus three is five.";
  separated.content = "The answer is \\boxed{5}.";
  separated.finish_reason = "stop";
  separated.reasoning_tokens = 7;
  separated.answer_tokens = 9;
  GradedSample a = GradeSample(item, separated, 0, 0);
  GradedSample b = GradeSample(item, Inline(separated.reasoning, separated.content), 0, 0);
  EXPECT_TRUE(a.separated);
  EXPECT_FALSE(b.separated);
  for (const GradedSample* g : {&a, &b}) {
    EXPECT_EQ(g->reasoning, "Two plus three is five.");
    EXPECT_EQ(g->answer_text, "The answer is \\boxed{5}.");
    EXPECT_EQ(g->extracted, "5");
    EXPECT_TRUE(g->correct);
    EXPECT_TRUE(g->think_ok);
  }
  EXPECT_EQ(a.reasoning_tokens, 7);
  EXPECT_EQ(a.answer_tokens, 9);
  // No reasoning: not think_ok. Cut off before any content: not think_ok.
  SampleOutput empty = separated;
  empty.reasoning = "";
  EXPECT_FALSE(GradeSample(item, empty, 0, 0).think_ok);
  SampleOutput cut = separated;
  cut.content = "";
  cut.finish_reason = "length";
  EXPECT_FALSE(GradeSample(item, cut, 0, 0).think_ok);
  // An endpoint asked for separation that returned inline tags in the content is graded inline.
  SampleOutput inline_in_content = Inline("Two plus three is five.", "\\boxed{5}");
  inline_in_content.separated = true;
  GradedSample c = GradeSample(item, inline_in_content, 0, 0);
  EXPECT_FALSE(c.separated);
  EXPECT_TRUE(c.think_ok);
  EXPECT_EQ(c.reasoning, "Two plus three is five.");
}

// Rates are shares of samples; token means skip unknown (-1) counts.
TEST(SummarizeTest, RatesAndTokenMeans) {
  std::vector<BenchmarkItem> items = {Item("r", "5")};
  std::string looping;
  for (int i = 0; i < 30; ++i) looping += "Wait, let me check the sum of two and three once more. ";
  std::vector<SampleOutput> outs = {Inline("Fine.", "\\boxed{5}"), Inline(looping, "\\boxed{5}"),
                                    Inline("Fine.", "\\boxed{5}", "length"),
                                    SampleOutput{"", "\\boxed{5}", false, "stop"}};  // no think block
  outs[0].reasoning_tokens = 100;
  outs[0].answer_tokens = 10;
  outs[1].reasoning_tokens = 300;
  std::vector<GradedSample> graded;
  for (int s = 0; s < 4; ++s) graded.push_back(GradeSample(items[0], outs[s], 0, s));
  absl::StatusOr<EvalMetrics> m = Summarize(items, graded, {1});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_DOUBLE_EQ(m->think_format_rate, 0.75);  // the last sample has no think block
  EXPECT_DOUBLE_EQ(m->truncation_rate, 0.25);
  EXPECT_DOUBLE_EQ(m->loop_rate, 0.25);
  EXPECT_DOUBLE_EQ(m->language_mix_rate, 0.0);
  ASSERT_TRUE(m->mean_reasoning_tokens.has_value());
  EXPECT_DOUBLE_EQ(*m->mean_reasoning_tokens, 200.0);  // (100 + 300) / 2 known
  ASSERT_TRUE(m->mean_answer_tokens.has_value());
  EXPECT_DOUBLE_EQ(*m->mean_answer_tokens, 10.0);
}

// Accuracy by difficulty, with labels in natural order and unlabeled items under "(none)".
TEST(SummarizeTest, ByDifficulty) {
  std::vector<BenchmarkItem> items = {Item("1", "5", "level 10"), Item("2", "5", "level 2"),
                                      Item("3", "5", "level 2"), Item("4", "5")};
  std::vector<GradedSample> graded = GradeAll(items, {{"5", "6"}, {"5", "5"}, {"6", "6"}, {"5", "5"}});
  absl::StatusOr<EvalMetrics> m = Summarize(items, graded, {1, 2});
  ASSERT_TRUE(m.ok()) << m.status();
  std::vector<std::string> names;
  for (const auto& [name, d] : m->by_difficulty) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"(none)", "level 2", "level 10"}));
  const DifficultyMetrics& level2 = m->by_difficulty.at("level 2");
  EXPECT_EQ(level2.problems, 2);
  EXPECT_DOUBLE_EQ(level2.pass_at_1, 0.5);  // (2/2 + 0/2) / 2
  EXPECT_DOUBLE_EQ(level2.maj_at_n, 0.5);
  const DifficultyMetrics& level10 = m->by_difficulty.at("level 10");
  EXPECT_DOUBLE_EQ(level10.pass_at_1, 0.5);
  EXPECT_DOUBLE_EQ(level10.maj_at_n, 1.0);  // 1-1 tie → the first sample's "5"
  EXPECT_DOUBLE_EQ(m->by_difficulty.at("(none)").pass_at_1, 1.0);
}

// Uneven sample counts, repeated or missing sample indices, bad item indices and k < 1 are refused.
TEST(SummarizeTest, RefusesInconsistentInput) {
  std::vector<BenchmarkItem> items = {Item("a", "5"), Item("b", "5")};
  std::vector<GradedSample> uneven = GradeAll(items, {{"5", "5"}, {"5"}});
  absl::StatusOr<EvalMetrics> m = Summarize(items, uneven, {1});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("problem \"b\" has 1 samples"), std::string::npos) << m.status();
  std::vector<GradedSample> repeated = GradeAll(items, {{"5", "5"}, {"5", "5"}});
  repeated[1].sample_index = 0;
  m = Summarize(items, repeated, {1});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("sample indices"), std::string::npos) << m.status();
  std::vector<GradedSample> out_of_range = GradeAll(items, {{"5"}, {"5"}});
  out_of_range[1].item_index = 2;
  EXPECT_FALSE(Summarize(items, out_of_range, {1}).ok());
  EXPECT_FALSE(Summarize(items, GradeAll(items, {{"5"}, {"5"}}), {0}).ok());
  EXPECT_FALSE(Summarize({}, {}, {1}).ok());
}

// The JSON form has the documented keys, null for unknown token means, and parses back to the same metrics.
TEST(MetricsJsonTest, RoundTrip) {
  std::vector<BenchmarkItem> items = {Item("a", "5", "level 1"), Item("b", "12", "level 2")};
  std::vector<GradedSample> graded = GradeAll(items, {{"5", "4"}, {"12", "12"}});
  absl::StatusOr<EvalMetrics> m = Summarize(items, graded, {1, 2});
  ASSERT_TRUE(m.ok()) << m.status();
  nlohmann::json j = MetricsToJson(*m);
  for (const char* key : {"problems", "samples", "pass@1", "maj@n", "pass@k", "think_format_rate",
                          "truncation_rate", "loop_rate", "language_mix_rate", "mean_reasoning_tokens",
                          "mean_answer_tokens", "by_difficulty"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_TRUE(j["mean_reasoning_tokens"].is_null());
  EXPECT_DOUBLE_EQ(j["pass@k"]["2"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["by_difficulty"]["level 1"]["pass@1"].get<double>(), 0.5);
  absl::StatusOr<EvalMetrics> back = MetricsFromJson(nlohmann::json::parse(j.dump()), "metrics");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(MetricsToJson(*back), j);
  nlohmann::json bad = j;
  bad["loop_rate"] = "high";
  absl::StatusOr<EvalMetrics> refused = MetricsFromJson(bad, "run/eval.json: metrics");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("run/eval.json: metrics: \"loop_rate\""), std::string::npos)
      << refused.status();
}

}  // namespace
}  // namespace distill::eval
