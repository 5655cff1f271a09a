// Answer extraction and equivalence: a table of (candidate, truth, expected) cases covering every normalisation
// rule in data/answer_grader.h, plus extraction cases.
#include "data/answer_grader.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace distill::data {
namespace {

struct EqCase {
  const char* candidate;
  const char* truth;
  bool expected;
};

// Every row is one property: `candidate` and `truth` are (or are not) the same answer under the documented rules.
const std::vector<EqCase>& EquivalenceTable() {
  // clang-format off
  static const std::vector<EqCase> kCases = {
      // Plain integers and signs.
      {"42", "42", true},
      {"42", "43", false},
      {"-5", "-5", true},
      {"-5", "5", false},
      {"+5", "5", true},
      {"007", "7", true},
      {"0", "-0", true},
      {"\xE2\x88\x92" "3", "-3", true},  // U+2212 minus sign
      {"123456789012345678901234567890", "123456789012345678901234567890", true},
      {"123456789012345678901234567890", "123456789012345678901234567891", false},
      // Dollar signs, \left/\right, spacing commands, spaces.
      {"$42$", "42", true},
      {"$$42$$", "42", true},
      {"\\$42", "42", true},
      {"\\left( 1, 2 \\right)", "(1,2)", true},
      {"\\left[0,1\\right]", "[0, 1]", true},
      {"1\\,000\\,000", "1000000", true},
      {"3\\!\\cdot\\!4", "3*4", true},
      {"x\\;+\\;1", "x+1", true},
      {"  7  ", "7", true},
      {"x + 1", "x+1", true},
      // Text wrappers keep their contents.
      {"\\text{Yes}", "yes", true},
      {"\\textbf{12}", "12", true},
      {"\\mathrm{12}", "12", true},
      {"\\text{no}", "yes", false},
      {"\\mathbf{v}", "v", true},
      // Units after numbers.
      {"5 cm", "5", true},
      {"5\\text{ cm}", "5", true},
      {"5cm", "5", true},
      {"12 meters", "12", true},
      {"100 dollars", "100", true},
      {"\\$100", "100 dollars", true},
      {"30 degrees", "30", true},
      {"30^\\circ", "30", true},
      {"30^{\\circ}", "30", true},
      {"30\xC2\xB0", "30", true},
      {"12 square units", "12", true},
      {"9 \\text{ cm}^2", "9", true},
      {"9 m^2", "9", true},
      {"5 hours", "5", true},
      {"6 inches", "6", true},
      {"5 cm", "6", false},
      {"5 apples", "5", false},  // not a unit word: compared as text
      {"12 square units", "13", false},
      {"cm", "5", false},
      // Trailing period and answer prefixes.
      {"42.", "42", true},
      {"The answer is 42.", "42", true},
      {"The final answer is $\\frac{1}{2}$.", "1/2", true},
      {"Answer: 7", "7", true},
      {"x = 5", "5", true},
      {"x=5", "x = 5", true},
      {"y = 2x + 3", "2x+3", true},
      {"x_1 = 4", "4", true},
      {"\\theta = 30^\\circ", "30", true},
      {"x = 5", "6", false},
      // Thousands separators vs lists.
      {"1,000", "1000", true},
      {"1,000,000", "1000000", true},
      {"-12,345.5", "-12345.5", true},
      {"1{,}000", "1000", true},
      {"$1,000", "1000", true},
      {"1,000 dollars", "1000", true},
      {"1,2", "12", false},
      {"1,2", "1.2", false},
      {"1, 000", "1000", false},
      {"12,34", "1234", false},
      {"1,000", "1", false},
      // Percentages: p% = p, and p% = p/100.
      {"50\\%", "50", true},
      {"50%", "50", true},
      {"50", "50%", true},
      {"0.5", "50\\%", true},
      {"\\frac{1}{2}", "50%", true},
      {"50%", "0.5", true},
      {"50 percent", "50%", true},
      {"12.5\\%", "0.125", true},
      {"0.5", "50", false},
      {"5%", "50%", false},
      // Fractions: exact rational comparison.
      {"\\frac{1}{2}", "1/2", true},
      {"\\frac12", "\\frac{1}{2}", true},
      {"\\dfrac{1}{2}", "1/2", true},
      {"\\tfrac{3}{4}", "3/4", true},
      {"\\frac{2}{4}", "1/2", true},
      {"6/8", "3/4", true},
      {"-\\frac{1}{2}", "-1/2", true},
      {"\\frac{-1}{2}", "-1/2", true},
      {"\\frac{1}{-2}", "-0.5", true},
      {"\\frac{4}{2}", "2", true},
      {"\\frac{1}{3}", "1/2", false},
      {"1/3", "-1/3", false},
      {"\\frac{10000000000000001}{10000000000000000}", "1", false},  // exact, no tolerance
      {"\\frac{10}{0}", "10", false},
      // Decimals: relative tolerance 1e-9.
      {"0.5", "1/2", true},
      {"0.5", "\\frac12", true},
      {"0.50", "0.5", true},
      {".5", "0.5", true},
      {"2.0", "2", true},
      {"0.3333333333333", "1/3", true},
      {"0.333", "1/3", false},
      {"3.14159", "3.1416", false},
      {"1000000000.1", "1000000000.1000000001", true},
      {"1.000001", "1", false},
      {"1.5e3", "1500", true},
      {"1.5\\times10^{3}", "1500", true},
      {"2.5 \\times 10^{-2}", "0.025", true},
      {"-0.75", "-\\frac{3}{4}", true},
      // Integer powers evaluate exactly.
      {"10^{3}", "1000", true},
      {"2^{10}", "1024", true},
      {"10^6", "1,000,000", true},
      {"-2^2", "-4", true},
      {"2^{10}", "1000", false},
      {"\\infty", "infinity", true},
      {"-\\infty", "-inf", true},
      // Square roots: textual normalisation.
      {"\\sqrt{2}", "\\sqrt2", true},
      {"2\\sqrt{3}", "2\xE2\x88\x9A" "3", true},
      {"2\\sqrt{3}", "2*\\sqrt{3}", true},
      {"2\\sqrt{3}", "2 \\cdot \\sqrt{3}", true},
      {"\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}", true},
      {"\\frac{\\sqrt{3}}{2}", "\\sqrt{3}/2", true},
      {"3\\sqrt{2}", "2\\sqrt{3}", false},
      {"\\sqrt[3]{2}", "\\sqrt[3]2", true},
      {"\\sqrt{2}", "\\sqrt{3}", false},
      // LaTeX normalisation: \cdot vs *, ^{2} vs ^2, \{ \}, \pi, fractions of symbols.
      {"2 \\cdot 3", "2*3", true},
      {"2 \\times 3", "2*3", true},
      {"x^{2}", "x^2", true},
      {"x^{2}+1", "x^2+1", true},
      {"x^{10}", "x^10", false},
      {"a_{1}", "a_1", true},
      {"\\frac{\\pi}{2}", "\\pi/2", true},
      {"\\frac{2\\pi}{3}", "2\\pi/3", true},
      {"\\frac{x+1}{2}", "(x+1)/2", true},
      {"\\frac{\\pi}{2}", "\\pi/3", false},
      {"\xCF\x80", "\\pi", true},
      {"\\infty", "\xE2\x88\x9E", true},
      {"x \\le 3", "x<=3", true},
      {"x \\geq 3", "x \xE2\x89\xA5 3", true},
      {"1\\frac{1}{2}", "11/2", false},  // mixed number never fuses into 11/2
      {"\\Pi", "\\pi", false},           // command names keep their case
      // Sets: order-free.
      {"\\{2, 3\\}", "\\{3, 2\\}", true},
      {"\\{1,2,3\\}", "\\{3,1,2\\}", true},
      {"\\{2, 3\\}", "\\{2, 4\\}", false},
      {"\\{2, 3\\}", "\\{2, 3, 4\\}", false},
      {"3, 2", "\\{2, 3\\}", true},
      {"\\{2,3\\}", "3, 2", true},
      {"2, 3", "3, 2", true},
      {"x = 2, 3", "3, 2", true},
      {"x=1, x=2", "\\{1, 2\\}", true},
      {"\\{\\frac{1}{2}, 1\\}", "\\{1, 0.5\\}", true},
      {"2, 2, 3", "\\{2, 3, 3\\}", false},
      {"x \\in \\{1, 2\\}", "\\{2,1\\}", true},
      // Tuples and intervals: in order, bracket kinds must match.
      {"(1, 2)", "(1,2)", true},
      {"(2, 1)", "(1,2)", false},
      {"(1, 2)", "\\left(1,2\\right)", true},
      {"1, 2", "(1, 2)", true},
      {"2, 1", "(1, 2)", false},
      {"(1,2)", "\\{1,2\\}", false},
      {"[0, 1]", "[0,1]", true},
      {"[0, 1]", "(0, 1)", false},
      {"(0, 1]", "(0,1]", true},
      {"(0, 1]", "[0,1)", false},
      {"(-\\infty, 3)", "(-\xE2\x88\x9E,3)", true},
      {"[\\frac{1}{2}, 2)", "[0.5, 2)", true},
      {"(1, 2, 3)", "(1, 2)", false},
      {"(\\frac{1}{2}, -3)", "(0.5, -3)", true},
      {"[1, 2]", "1, 2", false},
      {"x = 1, y = 2", "(1, 2)", true},
      {"(-\\infty, 1) \\cup (2, \\infty)", "(-\\infty,1)\\cup(2,\\infty)", true},
      // Case-insensitive text answers.
      {"Yes", "yes", true},
      {"YES", "yes", true},
      {"No", "yes", false},
      {"\\text{True}", "true", true},
      {"no solution", "No Solution", true},
      {"Monday", "monday.", true},
      {"Tuesday", "monday", false},
      {"yes", "yes no", false},
      {"north east", "north-east", false},
      {"x + 1", "x - 1", false},
      {"2x", "2y", false},
      // Multiple-choice letters.
      {"(B)", "B", true},
      {"B", "(B)", true},
      {"\\text{(B)}", "B", true},
      {"B)", "B", true},
      {"b", "B", true},
      {"Option B", "B", true},
      {"The answer is (C).", "C", true},
      {"(A)", "B", false},
      {"(C)", "(D)", false},
      {"(B) 12", "B", true},
      {"B", "(B) \\text{ 12 apples}", true},
      {"(C) 12", "B", false},
      {"K", "(K)", true},
      // Boxed inputs are unwrapped.
      {"\\boxed{7}", "7", true},
      {"so we get \\boxed{\\frac{1}{2}}", "0.5", true},
      {"\\boxed{8}", "7", false},
      // Empty answers never match.
      {"", "", false},
      {"", "0", false},
      {"   ", "5", false},
      {"5", "", false},
  };
  // clang-format on
  return kCases;
}

// Property: AnswersEquivalent agrees with the expected verdict for every row of the table.
TEST(AnswerGraderTest, EquivalenceTable) {
  int failures = 0;
  for (const EqCase& c : EquivalenceTable()) {
    bool got = AnswersEquivalent(c.candidate, c.truth);
    EXPECT_EQ(got, c.expected) << "candidate=[" << c.candidate << "] truth=[" << c.truth << "] norm(candidate)=["
                               << NormalizeAnswer(c.candidate) << "] norm(truth)=[" << NormalizeAnswer(c.truth) << "]";
    if (got != c.expected) ++failures;
  }
  EXPECT_EQ(failures, 0);
}

// Property: the table is large enough to cover the rules (at least 150 cases, both verdicts present).
TEST(AnswerGraderTest, TableSize) {
  size_t equal = 0;
  for (const EqCase& c : EquivalenceTable()) equal += c.expected ? 1 : 0;
  EXPECT_GE(EquivalenceTable().size(), 150u);
  EXPECT_GE(equal, 50u);
  EXPECT_GE(EquivalenceTable().size() - equal, 50u);
}

// Property: every rule is symmetric, so swapping candidate and truth never changes a verdict in the table.
TEST(AnswerGraderTest, SymmetricOnTable) {
  for (const EqCase& c : EquivalenceTable()) {
    EXPECT_EQ(AnswersEquivalent(c.candidate, c.truth), AnswersEquivalent(c.truth, c.candidate))
        << "candidate=[" << c.candidate << "] truth=[" << c.truth << "]";
  }
}

// Property: NormalizeAnswer produces the documented canonical forms.
TEST(AnswerGraderTest, NormalizeCanonicalForms) {
  EXPECT_EQ(NormalizeAnswer("\\dfrac{1}{2}"), "1/2");
  EXPECT_EQ(NormalizeAnswer("$2\\sqrt3$"), "2\\sqrt{3}");
  EXPECT_EQ(NormalizeAnswer("\\left\\{ 3, 2 \\right\\}"), "{3,2}");
  EXPECT_EQ(NormalizeAnswer("The answer is \\text{(B)}."), "b");
  EXPECT_EQ(NormalizeAnswer("1,000 meters"), "1000");
  EXPECT_EQ(NormalizeAnswer("x^{2} \\cdot y"), "x^2y");
  EXPECT_EQ(NormalizeAnswer("(0, 1]"), "(0,1]");
}

struct ExtractCase {
  const char* text;
  const char* answer;
  AnswerSource source;
};

// Property: ExtractFinalAnswer returns the last non-empty box (nested braces kept), else the last number.
TEST(AnswerGraderTest, Extraction) {
  // clang-format off
  const std::vector<ExtractCase> cases = {
      {"so the answer is \\boxed{42}.", "42", AnswerSource::kBoxed},
      {"\\boxed{\\frac{1}{2}}", "\\frac{1}{2}", AnswerSource::kBoxed},
      {"nested \\boxed{\\{1, \\{2\\}\\}} done", "\\{1, \\{2\\}\\}", AnswerSource::kBoxed},
      {"\\boxed{x^{2}+\\frac{a}{b}}", "x^{2}+\\frac{a}{b}", AnswerSource::kBoxed},
      {"first \\boxed{1} then \\boxed{2} finally \\boxed{3}", "3", AnswerSource::kBoxed},
      {"\\boxed{1} and \\fbox{2}", "2", AnswerSource::kFbox},
      {"\\fbox{7} then \\boxed{8}", "8", AnswerSource::kBoxed},
      {"$\\boxed 5$", "5", AnswerSource::kBoxed},
      {"\\boxed  12 is it", "12", AnswerSource::kBoxed},
      {"answer \\boxed{9} and the prompt said \\boxed{}", "9", AnswerSource::kBoxed},
      {"\\boxed{5} then truncated \\boxed{6", "5", AnswerSource::kBoxed},
      {"\\boxed{\\text{Yes}}", "\\text{Yes}", AnswerSource::kBoxed},
      {"We get 3 apples and then 17 pears.", "17", AnswerSource::kLastNumber},
      {"The total is 1,234,567 dollars", "1,234,567", AnswerSource::kLastNumber},
      {"so x = -4.", "-4", AnswerSource::kLastNumber},
      {"ratio 3/4 of it", "3/4", AnswerSource::kLastNumber},
      {"pi is about 3.14159, right", "3.14159", AnswerSource::kLastNumber},
      {"values 1,2 and 5", "5", AnswerSource::kLastNumber},
      {"pages 3-4", "4", AnswerSource::kLastNumber},
      {"x2 squared", "2", AnswerSource::kLastNumber},
      {"costs -0.5 now", "-0.5", AnswerSource::kLastNumber},
      {"no number here", "", AnswerSource::kNone},
      {"", "", AnswerSource::kNone},
      {"\\boxed{}", "", AnswerSource::kNone},
  };
  // clang-format on
  for (const ExtractCase& c : cases) {
    ExtractedAnswer got = ExtractFinalAnswer(c.text);
    EXPECT_EQ(got.text, c.answer) << "text=[" << c.text << "]";
    EXPECT_EQ(got.source, c.source) << "text=[" << c.text << "] source=" << AnswerSourceName(got.source);
  }
}

// Property: the extracted answer of a full response grades against the truth (extraction + equivalence).
TEST(AnswerGraderTest, ExtractThenGrade) {
  EXPECT_TRUE(AnswersEquivalent(ExtractFinalAnswer("... thus $\\boxed{\\dfrac{3}{6}}$").text, "0.5"));
  EXPECT_TRUE(AnswersEquivalent(ExtractFinalAnswer("The total is 1,000 dollars.").text, "1000"));
  EXPECT_FALSE(AnswersEquivalent(ExtractFinalAnswer("I could not solve it.").text, "0"));
}

// Property: source names are stable strings for logs and JSONL.
TEST(AnswerGraderTest, SourceNames) {
  EXPECT_EQ(AnswerSourceName(AnswerSource::kNone), "none");
  EXPECT_EQ(AnswerSourceName(AnswerSource::kBoxed), "boxed");
  EXPECT_EQ(AnswerSourceName(AnswerSource::kFbox), "fbox");
  EXPECT_EQ(AnswerSourceName(AnswerSource::kLastNumber), "last_number");
}

// Property: extraction, normalisation and grading are total: arbitrary bytes (unbalanced braces, lone
// backslashes, invalid UTF-8, deep nesting) never crash and an input always equals itself unless it is empty.
TEST(AnswerGraderTest, ArbitraryInputIsSafe) {
  const std::string alphabet = "{}()[]\\$^_,./%-+ 0123456789abxBCfractextboxedsqrt\xE2\x88\x9A\xFF";
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>(state >> 33);
  };
  int self_equal = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s;
    size_t len = next() % 40;
    for (size_t i = 0; i < len; ++i) s += alphabet[next() % alphabet.size()];
    if (iter % 7 == 0) s = "\\boxed{" + s;
    if (iter % 11 == 0) s = "\\frac{" + s + "}{";
    ExtractedAnswer e = ExtractFinalAnswer(s);
    EXPECT_EQ(e.text.empty(), e.source == AnswerSource::kNone) << s;
    std::string norm = NormalizeAnswer(s);
    if (!norm.empty() && AnswersEquivalent(s, s)) ++self_equal;
    AnswersEquivalent(s, "1");
  }
  EXPECT_GT(self_equal, 1000);
  EXPECT_FALSE(AnswersEquivalent(std::string(5000, '{'), std::string(5000, '{') + "1"));
  EXPECT_TRUE(AnswersEquivalent(std::string(200, '(') + "5" + std::string(200, ')'), "5"));
}

}  // namespace
}  // namespace distill::data
