// Trace filters (think tags, truncation, empty answer, language mixing, repetition, length, paragraphs, code
// blocks), exact de-dup keys and 13-gram decontamination.
#include "data/trace_filters.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace distill::data {
namespace {

// A readable English reasoning paragraph with varied wording (no loops, no foreign script).
std::string EnglishReasoning() {
  return "Let me think about this problem carefully. We need the sum of the first ten positive integers.\n\n"
         "Using the formula n(n+1)/2 with n = 10 gives 55, which matches adding them one by one: "
         "1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9 + 10. So the total should be fifty five.";
}

std::string Repeat(const std::string& s, int times, const std::string& sep = " ") {
  std::string out;
  for (int i = 0; i < times; ++i) {
    if (i > 0) out += sep;
    out += s;
  }
  return out;
}

// Distinct words w0 w1 … so that no n-gram repeats.
std::string DistinctWords(int count) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    out += 'w';
    out += std::to_string(i);
    out += ' ';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Think tags.

// Property: a well-formed think block splits into trimmed reasoning and answer and is accepted.
TEST(TraceFiltersTest, ThinkBlockWellFormed) {
  ThinkSplit s = SplitThinkBlock("<think>\nreason here\n</think>\n\nThe answer is 5.");
  EXPECT_TRUE(s.verdict.accepted()) << s.verdict.detail;
  EXPECT_EQ(s.reasoning, "reason here");
  EXPECT_EQ(s.answer, "The answer is 5.");
}

// Property: a missing opening tag is fine when </think> is present (the template forced "<think>\n").
TEST(TraceFiltersTest, ThinkBlockOpenedByTemplate) {
  ThinkSplit s = SplitThinkBlock("reasoning only\n</think>\nanswer");
  EXPECT_TRUE(s.verdict.accepted());
  EXPECT_EQ(s.reasoning, "reasoning only");
  EXPECT_EQ(s.answer, "answer");
}

// Property: no tags at all, an empty block, text before <think> or a second block reject as no_think_block.
TEST(TraceFiltersTest, ThinkBlockMissingOrMalformed) {
  EXPECT_EQ(CheckThinkTags("just an answer").reason, RejectReason::kNoThinkBlock);
  EXPECT_EQ(CheckThinkTags("<think>   </think> answer").reason, RejectReason::kNoThinkBlock);
  EXPECT_EQ(CheckThinkTags("preamble <think>x</think> answer").reason, RejectReason::kNoThinkBlock);
  EXPECT_EQ(CheckThinkTags("<think>a</think> b <think>c</think> d").reason, RejectReason::kNoThinkBlock);
  EXPECT_EQ(CheckThinkTags("</think> x <think>").reason, RejectReason::kNoThinkBlock);
}

// Property: an opened but never closed block rejects as unclosed_think_block.
TEST(TraceFiltersTest, ThinkBlockUnclosed) {
  FilterVerdict v = CheckThinkTags("<think>\nstill thinking when the stream ended");
  EXPECT_EQ(v.reason, RejectReason::kUnclosedThinkBlock);
  EXPECT_FALSE(v.detail.empty());
}

// ---------------------------------------------------------------------------------------------------------------
// Finish reason and empty answer.

// Property: only finish_reason "length" rejects (as truncated).
TEST(TraceFiltersTest, FinishReason) {
  EXPECT_EQ(CheckFinishReason("length").reason, RejectReason::kTruncated);
  EXPECT_TRUE(CheckFinishReason("stop").accepted());
  EXPECT_TRUE(CheckFinishReason("").accepted());
}

// Property: whitespace-only answers reject; any visible text passes.
TEST(TraceFiltersTest, EmptyAnswer) {
  EXPECT_EQ(CheckAnswerNotEmpty("").reason, RejectReason::kEmptyAnswer);
  EXPECT_EQ(CheckAnswerNotEmpty(" \n\t ").reason, RejectReason::kEmptyAnswer);
  EXPECT_TRUE(CheckAnswerNotEmpty("\\boxed{5}").accepted());
}

// ---------------------------------------------------------------------------------------------------------------
// Language mixing.

// Property: Chinese prose inside an English trace for an English prompt rejects, naming the scripts.
TEST(TraceFiltersTest, LanguageMixingChineseInEnglish) {
  FilterOptions opt;
  std::string text = EnglishReasoning() + " 我们需要计算这个数的总和然后再检查一遍答案是否正确";
  FilterVerdict v = CheckLanguageMixing(text, "What is the sum of the first ten positive integers?", opt);
  EXPECT_EQ(v.reason, RejectReason::kLanguageMixing);
  EXPECT_NE(v.detail.find("han"), std::string::npos) << v.detail;
  EXPECT_NE(v.detail.find("latin"), std::string::npos) << v.detail;
}

// Property: a pure English trace, math with Greek letters, LaTeX and code spans do not count as mixing.
TEST(TraceFiltersTest, LanguageMixingIgnoresMathAndCode) {
  FilterOptions opt;
  std::string prompt = "Compute the angle in the triangle.";
  EXPECT_TRUE(CheckLanguageMixing(EnglishReasoning(), prompt, opt).accepted());
  std::string math =
      "Let θ be the angle, so α + β + θ = 180 degrees and the sine rule gives the answer. "
      "Here $\\text{面积} = \\frac{1}{2}ab$ and `变量 = 1` are not prose, nor is \\[ \\text{面积} \\].";
  EXPECT_TRUE(CheckLanguageMixing(math, prompt, opt).accepted()) << CheckLanguageMixing(math, prompt, opt).detail;
}

// Property: English in a Chinese trace for a Chinese prompt rejects; single-letter variables do not count.
TEST(TraceFiltersTest, LanguageMixingEnglishInChinese) {
  FilterOptions opt;
  std::string prompt = "求前十个正整数的和。";
  std::string clean = "我们用公式 n(n+1)/2 计算，其中 n 等于十，所以结果是五十五。x 和 y 只是变量。";
  EXPECT_TRUE(CheckLanguageMixing(clean, prompt, opt).accepted()) << CheckLanguageMixing(clean, prompt, opt).detail;
  std::string mixed = clean + " Wait, let me double check this computation with another approach.";
  EXPECT_EQ(CheckLanguageMixing(mixed, prompt, opt).reason, RejectReason::kLanguageMixing);
}

// Property: the threshold and minimum count are honoured: a few foreign letters under the minimum pass.
TEST(TraceFiltersTest, LanguageMixingThresholds) {
  FilterOptions opt;
  std::string text = EnglishReasoning() + " 答案";  // 2 Han letters < min_foreign_letters
  EXPECT_TRUE(CheckLanguageMixing(text, "Sum them.", opt).accepted());
  opt.min_foreign_letters = 1;
  opt.max_foreign_script_share = 0.001;
  EXPECT_EQ(CheckLanguageMixing(text, "Sum them.", opt).reason, RejectReason::kLanguageMixing);
}

// Property: with a letterless prompt the trace's own dominant script is the reference.
TEST(TraceFiltersTest, LanguageMixingLetterlessPrompt) {
  FilterOptions opt;
  EXPECT_TRUE(CheckLanguageMixing(EnglishReasoning(), "1 + 1 = ?", opt).accepted());
  std::string mixed = EnglishReasoning() + " Это русский текст, который смешан с английским рассуждением.";
  EXPECT_EQ(CheckLanguageMixing(mixed, "2 + 2 = ?", opt).reason, RejectReason::kLanguageMixing);
}

// ---------------------------------------------------------------------------------------------------------------
// Repetition.

// Property: a phrase looping many times rejects on repeated 8-grams.
TEST(TraceFiltersTest, RepetitionNgramLoop) {
  FilterOptions opt;
  std::string text = EnglishReasoning() + " " + Repeat("Wait, let me recompute the sum of these numbers again.", 30);
  FilterVerdict v = CheckRepetition(text, opt);
  EXPECT_EQ(v.reason, RejectReason::kRepetition);
  EXPECT_NE(v.detail.find("8-grams"), std::string::npos) << v.detail;
}

// Property: text with distinct words (no repeated n-gram) passes, however long.
TEST(TraceFiltersTest, RepetitionDistinctPasses) {
  FilterOptions opt;
  EXPECT_TRUE(CheckRepetition(DistinctWords(5000), opt).accepted());
  EXPECT_TRUE(CheckRepetition(EnglishReasoning(), opt).accepted());
}

// Property: short texts (under min_words_for_ngram) are not judged by the n-gram share.
TEST(TraceFiltersTest, RepetitionShortTextExempt) {
  FilterOptions opt;
  EXPECT_TRUE(CheckRepetition(Repeat("a b c d", 10), opt).accepted());  // 40 words < 64
}

// Property: one line repeated more than max_unit_repeats times rejects, even among distinct text.
TEST(TraceFiltersTest, RepetitionRepeatedLine) {
  FilterOptions opt;
  opt.max_repeated_ngram_share = 1.0;  // isolate the line rule
  std::string text = DistinctWords(200) + "\n" + Repeat("Therefore the final answer is 42 indeed.", 11, "\n");
  FilterVerdict v = CheckRepetition(text, opt);
  EXPECT_EQ(v.reason, RejectReason::kRepetition);
  EXPECT_NE(v.detail.find("line repeated"), std::string::npos) << v.detail;
  std::string ok = DistinctWords(200) + "\n" + Repeat("Therefore the final answer is 42 indeed.", 10, "\n");
  EXPECT_TRUE(CheckRepetition(ok, opt).accepted());
}

// Property: a repeated paragraph rejects under the paragraph rule.
TEST(TraceFiltersTest, RepetitionRepeatedParagraph) {
  FilterOptions opt;
  opt.max_repeated_ngram_share = 1.0;
  std::string para = "Hmm, I am not sure.\nLet me try again now.";  // lines under min_repeated_unit_chars
  FilterVerdict v = CheckRepetition(Repeat(para, 12, "\n\n"), opt);
  EXPECT_EQ(v.reason, RejectReason::kRepetition);
  EXPECT_NE(v.detail.find("paragraph"), std::string::npos) << v.detail;
}

// Property: short repeated lines (under min_repeated_unit_chars, e.g. "\]") never trigger the line rule.
TEST(TraceFiltersTest, RepetitionShortLinesIgnored) {
  FilterOptions opt;
  opt.max_repeated_ngram_share = 1.0;
  EXPECT_TRUE(CheckRepetition(Repeat("\\]", 50, "\n"), opt).accepted());
}

// Property: Chinese loops (no spaces) are caught because each Han character is a word.
TEST(TraceFiltersTest, RepetitionChineseLoop) {
  FilterOptions opt;
  EXPECT_EQ(CheckRepetition(Repeat("等一下让我再检查一遍", 30, ""), opt).reason, RejectReason::kRepetition);
}

// ---------------------------------------------------------------------------------------------------------------
// Length bounds.

// Property: character bounds count code points; token bounds apply only when a count is given.
TEST(TraceFiltersTest, LengthBounds) {
  FilterOptions opt;
  EXPECT_EQ(CheckLength("", std::nullopt, opt).reason, RejectReason::kTooShort);
  EXPECT_TRUE(CheckLength("x", std::nullopt, opt).accepted());
  opt.min_reasoning_chars = 5;
  opt.max_reasoning_chars = 6;
  EXPECT_EQ(CheckLength("思考思考", std::nullopt, opt).reason, RejectReason::kTooShort);  // 4 code points
  EXPECT_TRUE(CheckLength("思考思考思考", std::nullopt, opt).accepted());
  EXPECT_EQ(CheckLength("1234567", std::nullopt, opt).reason, RejectReason::kTooLong);
  FilterOptions tokens;
  EXPECT_EQ(CheckLength("abc", 40000, tokens).reason, RejectReason::kTooLong);  // default max 32768
  EXPECT_TRUE(CheckLength("abc", 32768, tokens).accepted());
  tokens.min_reasoning_tokens = 10;
  EXPECT_EQ(CheckLength("abc", 9, tokens).reason, RejectReason::kTooShort);
  EXPECT_TRUE(CheckLength("abc", std::nullopt, tokens).accepted());
}

// ---------------------------------------------------------------------------------------------------------------
// Paragraphs and code blocks.

// Property: one paragraph over the limit rejects; the same text split by blank lines passes; code is exempt.
TEST(TraceFiltersTest, LongParagraphs) {
  FilterOptions opt;
  opt.max_paragraph_chars = 100;
  std::string long_para(150, 'a');
  FilterVerdict v = CheckParagraphs("short intro\n\n" + long_para, opt);
  EXPECT_EQ(v.reason, RejectReason::kLongParagraph);
  EXPECT_NE(v.detail.find("paragraph 2"), std::string::npos) << v.detail;
  EXPECT_TRUE(CheckParagraphs(std::string(80, 'a') + "\n\n" + std::string(80, 'b'), opt).accepted());
  EXPECT_EQ(CheckParagraphs(std::string(60, 'a') + "\n" + std::string(60, 'b'), opt).reason,
            RejectReason::kLongParagraph);  // a single newline does not end a paragraph
  EXPECT_TRUE(CheckParagraphs("```\n" + long_para + "\n```\n", opt).accepted());
  opt.max_paragraph_chars = 0;
  EXPECT_TRUE(CheckParagraphs(long_para, opt).accepted());
}

// Property: a fenced block rejects only in non-code tasks.
TEST(TraceFiltersTest, CodeBlocks) {
  FilterOptions opt;
  std::string text = "We can check with\n```python\nprint(sum(range(11)))\n```\nwhich prints 55.";
  FilterVerdict v = CheckCodeBlocks(text, /*code_task=*/false, opt);
  EXPECT_EQ(v.reason, RejectReason::kCodeBlock);
  EXPECT_NE(v.detail.find("python"), std::string::npos) << v.detail;
  EXPECT_TRUE(CheckCodeBlocks(text, /*code_task=*/true, opt).accepted());
  EXPECT_TRUE(CheckCodeBlocks("no fences, only `inline` code", false, opt).accepted());
  opt.reject_code_blocks_in_non_code = false;
  EXPECT_TRUE(CheckCodeBlocks(text, false, opt).accepted());
}

// Property: the code-task heuristic recognises programming prompts but not math about functions.
TEST(TraceFiltersTest, LooksLikeCodeTask) {
  EXPECT_TRUE(LooksLikeCodeTask("Write a Python program that reads n from stdin."));
  EXPECT_TRUE(LooksLikeCodeTask("Write a function that reverses a linked list."));
  EXPECT_TRUE(LooksLikeCodeTask("Fix this:\n```\nint main() {}\n```"));
  EXPECT_TRUE(LooksLikeCodeTask("Solve it in C++."));
  EXPECT_FALSE(LooksLikeCodeTask("Let the function f(x) = x^2. Find f(3)."));
  EXPECT_FALSE(LooksLikeCodeTask("What is the sum of the first ten positive integers?"));
  EXPECT_FALSE(LooksLikeCodeTask("Decode the message: the encoded text is 'khoor'."));
}

// ---------------------------------------------------------------------------------------------------------------
// The whole pipeline.

// Property: a clean trace passes every filter.
TEST(TraceFiltersTest, ApplyFiltersAcceptsCleanTrace) {
  TraceView t;
  std::string reasoning = EnglishReasoning();
  t.reasoning = reasoning;
  t.answer = "The sum is \\boxed{55}.";
  t.finish_reason = "stop";
  t.prompt = "What is the sum of the first ten positive integers?";
  FilterVerdict v = ApplyFilters(t);
  EXPECT_TRUE(v.accepted()) << RejectReasonName(v.reason) << ": " << v.detail;
  EXPECT_TRUE(AllRejections(t).empty());
}

// Property: ApplyFilters reports the first failing filter in the documented order; AllRejections lists each.
TEST(TraceFiltersTest, ApplyFiltersOrderAndAll) {
  TraceView t;
  t.raw_content = "<think>\nhalf a thought";
  t.finish_reason = "length";
  t.prompt = "Add 2 and 2.";
  EXPECT_EQ(ApplyFilters(t).reason, RejectReason::kUnclosedThinkBlock);
  std::vector<FilterVerdict> all = AllRejections(t);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].reason, RejectReason::kUnclosedThinkBlock);
  EXPECT_EQ(all[1].reason, RejectReason::kTruncated);
  EXPECT_EQ(all[2].reason, RejectReason::kEmptyAnswer);
}

// Property: raw content with tags supplies reasoning and answer; code tasks keep their code blocks.
TEST(TraceFiltersTest, ApplyFiltersRawContentAndCodeTask) {
  TraceView t;
  std::string raw = "<think>\nI will write a loop that adds the numbers.\n</think>\n```python\nprint(55)\n```";
  t.raw_content = raw;
  t.finish_reason = "stop";
  t.prompt = "Write a Python script that prints the sum of 1..10.";
  EXPECT_TRUE(ApplyFilters(t).accepted()) << ApplyFilters(t).detail;
  t.prompt = "What is the sum of 1..10?";
  EXPECT_EQ(ApplyFilters(t).reason, RejectReason::kCodeBlock);
  t.code_task = true;  // an explicit flag beats the heuristic
  EXPECT_TRUE(ApplyFilters(t).accepted());
}

// Property: every reason has a distinct stable name.
TEST(TraceFiltersTest, ReasonNames) {
  EXPECT_EQ(RejectReasonName(RejectReason::kAccepted), "accepted");
  EXPECT_EQ(RejectReasonName(RejectReason::kLanguageMixing), "language_mixing");
  EXPECT_EQ(RejectReasonName(RejectReason::kCodeBlock), "code_block");
  EXPECT_NE(RejectReasonName(RejectReason::kTooShort), RejectReasonName(RejectReason::kTooLong));
}

// ---------------------------------------------------------------------------------------------------------------
// De-dup.

// Property: case, punctuation and whitespace differences give the same normalised text and key.
TEST(DedupTest, SameKeyAfterNormalisation) {
  EXPECT_EQ(NormalizeForDedup("  Hello,   World!\n"), "hello world");
  EXPECT_EQ(DedupKey("What is 2+2?"), DedupKey("what is 2 2"));
  EXPECT_EQ(DedupKey("ÉCOLE  française."), DedupKey("école française"));
  EXPECT_EQ(DedupKey("你好，世界！"), DedupKey("你好 ， 世界"));
}

// Property: different wording gives different keys (punctuation separates words, it does not glue them);
// the FNV-1a reference values hold.
TEST(DedupTest, DifferentTextsDiffer) {
  EXPECT_NE(DedupKey("what is 2+2"), DedupKey("what is 2+3"));
  EXPECT_NE(DedupKey("a,b"), DedupKey("ab"));
  EXPECT_NE(DedupKey("hello world"), DedupKey("helloworld"));
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

// Property: NormalizedWords splits on spaces and makes each CJK character its own word.
TEST(DedupTest, NormalizedWords) {
  EXPECT_EQ(NormalizedWords("The Cat, sat!"), (std::vector<std::string>{"the", "cat", "sat"}));
  EXPECT_EQ(NormalizedWords("求和 of 数"), (std::vector<std::string>{"求", "和", "of", "数"}));
}

// ---------------------------------------------------------------------------------------------------------------
// Decontamination.

const char* kEvalProblem =
    "Find the number of ordered pairs of positive integers (a, b) such that a + b = 1000 and neither a nor b "
    "has a zero digit.";

// Property: a prompt that embeds an eval problem (any casing/punctuation) shares a 13-gram and is flagged.
TEST(DecontaminationTest, SharedThirteenGramFlagged) {
  NgramIndex index =
      BuildNgramIndex({"Unrelated eval text about geometry and circles and more words here.", kEvalProblem});
  std::string prompt = std::string(
      "Please reason step by step. FIND the number of ordered pairs of positive "
      "integers (a,b) such that a+b = 1000, and neither a nor b has a zero digit!");
  std::optional<ContaminationHit> hit = FindContamination(index, prompt);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->source_id, 1);
  EXPECT_EQ(NormalizedWords(hit->ngram).size(), 13u);
}

// Property: overlaps shorter than 13 words are not flagged.
TEST(DecontaminationTest, TwelveWordsNotFlagged) {
  NgramIndex index = BuildNgramIndex({kEvalProblem});
  // The first 12 words of the problem, then different text.
  std::string prompt = "Find the number of ordered pairs of positive integers a b such cats fly.";
  EXPECT_FALSE(FindContamination(index, prompt).has_value());
  EXPECT_FALSE(FindContamination(index, "Completely different question about primes.").has_value());
}

// Property: a short eval text (under 13 words, at least min_short_words) matches when contained whole.
TEST(DecontaminationTest, ShortEvalTextContainedWhole) {
  NgramIndex index = BuildNgramIndex({"What is the smallest prime greater than 100?", "Too short."});
  std::optional<ContaminationHit> hit =
      FindContamination(index, "Question: what is the smallest prime greater than 100? Think.");
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->source_id, 0);
  EXPECT_EQ(hit->ngram, "what is the smallest prime greater than 100");
  EXPECT_FALSE(FindContamination(index, "what is the smallest prime greater than 200").has_value());
  EXPECT_FALSE(FindContamination(index, "this is too short.").has_value());  // 2-word texts are not indexed
}

// Property: the n-gram size is configurable and Chinese problems index by character.
TEST(DecontaminationTest, CustomSizeAndChinese) {
  NgramIndex index = BuildNgramIndex({"一个正方形的边长是五厘米求它的面积是多少平方厘米"}, 8);
  EXPECT_TRUE(FindContamination(index, "请回答：正方形的边长是五厘米求它的面积").has_value());
  EXPECT_FALSE(FindContamination(index, "一个圆的半径是五厘米").has_value());
}

// Property: every filter, the de-dup key and the decontamination lookup are total over arbitrary bytes
// (invalid UTF-8, unbalanced fences and math delimiters, stray tags) and never crash.
TEST(TraceFiltersTest, ArbitraryInputIsSafe) {
  const std::string alphabet = "ab \n\n`$\\[]()<think></think>\xE4\xBD\xA0\xFF\xC3x.,!";
  uint64_t state = 99;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>(state >> 33);
  };
  NgramIndex index = BuildNgramIndex({"a b a b a b a b a b a b a b a b"}, 4);
  int rejected = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s;
    size_t len = next() % 200;
    for (size_t i = 0; i < len; ++i) s += alphabet[next() % alphabet.size()];
    TraceView t;
    t.raw_content = s;
    t.prompt = s;
    rejected += ApplyFilters(t).accepted() ? 0 : 1;
    EXPECT_EQ(DedupKey(s), DedupKey(NormalizeForDedup(s))) << "normalisation is idempotent";
    FindContamination(index, s);
  }
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace distill::data
