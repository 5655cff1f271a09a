// The teacher's column working is arithmetic a reader can replay: every column line is a true equation, the
// written digits read back (most significant first, with a leading carry) give the step's result, and the demo's
// problems are all worked this way and solved to their stated answers.
#include "tools/teacher/column_arithmetic.h"

#include <regex>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tools/teacher/problems.h"
#include "tools/teacher/trace.h"

namespace distill::teacher {
namespace {

SolutionStep Step(int64_t a, char op, int64_t b) {
  auto result = Apply(Rational{a, 1}, op, Rational{b, 1});
  return SolutionStep{"", Rational{a, 1}, op, Rational{b, 1}, *result};
}

// Replays the working: checks each column's equation and rebuilds the result from the written digits.
int64_t Replay(const std::string& work) {
  // "x + y + c = v", "x - y - b = v" (or "… is negative, borrow: x+10 - y - b = v"), "x × y = p, p + c = v";
  // then ", write d carry|borrow k."
  static const std::regex column(
      R"((\d+) (\+|-|×) (\d+) (?:= (\d+), (\d+) )?(\+|-) (\d+) (?:is negative, borrow: (\d+) - \d+ - \d+ )?= (\d+), )"
      R"(write (\d+) (carry|borrow) (\d+)\.)");
  static const std::regex lead(R"(The carry (\d+) leads\.)");
  std::string digits;
  for (std::sregex_iterator it(work.begin(), work.end(), column), end; it != end; ++it) {
    const std::smatch& m = *it;
    int64_t x = std::stoll(m[1]), y = std::stoll(m[3]), c = std::stoll(m[7]), value = std::stoll(m[9]);
    std::string op = m[2];
    EXPECT_EQ(op == "×", m[4].matched) << "a product is stated before its carry is added, and only then: " << m[0];
    if (m[4].matched) {
      EXPECT_EQ(std::stoll(m[4]), x * y) << m[0];
      EXPECT_EQ(std::stoll(m[5]), x * y) << m[0];
    }
    int64_t expected = op == "+" ? x + y + c : op == "×" ? x * y + c : (m[8].matched ? std::stoll(m[8]) : x) - y - c;
    EXPECT_EQ(expected, value) << m[0];
    EXPECT_EQ(std::stoll(m[10]), value % 10) << m[0];
    digits.insert(digits.begin(), m[10].str()[0]);
  }
  std::smatch m;
  if (std::regex_search(work, m, lead)) digits.insert(0, m[1].str());
  return std::stoll(digits);
}

TEST(ColumnWork, EveryColumnIsTrueAndTheDigitsReadBackToTheResult) {
  for (auto [a, op, b] : {std::tuple{347, '+', 29}, {999, '+', 1}, {5, '+', 95}, {1000, '-', 1}, {347, '-', 29},
                          {90, '-', 90}, {347, '*', 6}, {7, '*', 86}, {999, '*', 9}, {10, '*', 2}}) {
    SolutionStep step = Step(a, op, b);
    std::string work = ColumnWork(step);
    ASSERT_FALSE(work.empty()) << a << op << b;
    EXPECT_EQ(Replay(work), step.result.num) << work;
  }
}

// Property: OneColumnFacts (what the demo's base is pretrained on) holds every fact the working of two-digit
// addition, subtraction and multiplication by one digit states, word for word, and each of them is true.
TEST(OneColumnFacts, CoverEveryFactOfTheWorkingAndAreTrue) {
  const std::vector<std::string> facts = OneColumnFacts();
  const std::set<std::string> known(facts.begin(), facts.end());
  EXPECT_EQ(known.size(), facts.size()) << "no repeats";
  static const std::regex fact(R"((\d+) (\+|-|×) (\d+)(?: (\+|-) (\d+))? = (\d+))");
  for (const std::string& f : facts) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(f, m, fact)) << f;
    int64_t value = m[2] == "+" ? std::stoll(m[1]) + std::stoll(m[3])
                    : m[2] == "-" ? std::stoll(m[1]) - std::stoll(m[3])
                                  : std::stoll(m[1]) * std::stoll(m[3]);
    if (m[4].matched) value += (m[4] == "+" ? 1 : -1) * std::stoll(m[5]);
    EXPECT_EQ(value, std::stoll(m[6])) << f;
  }
  size_t stated = 0;
  for (int64_t a = 10; a <= 99; ++a) {
    for (auto [op, b] : {std::pair{'+', a * 7 % 100}, {'-', a * 7 % (a + 1)}, {'*', 2 + a % 8}}) {
      const std::string work = ColumnWork(Step(a, op, b));
      for (std::sregex_iterator it(work.begin(), work.end(), fact), end; it != end; ++it, ++stated)
        EXPECT_TRUE(known.count(it->str())) << it->str() << " in " << work;
    }
  }
  EXPECT_GT(stated, 500u);
}

TEST(ColumnWork, OnlyStepsWorkedByHandInColumns) {
  EXPECT_EQ(ColumnWork(Step(3, '+', 4)), "");     // one digit each: a fact, not a column sum
  EXPECT_EQ(ColumnWork(Step(12, '-', 30)), "");   // negative result
  EXPECT_EQ(ColumnWork(Step(12, '*', 13)), "");   // two multi-digit factors: worked by parts instead
  EXPECT_EQ(ColumnWork(Step(84, '/', 7)), "");
  EXPECT_EQ(ColumnWork(Step(-12, '+', 30)), "");
}

TEST(DemoProblems, AreDeterministicSolvableAndWorkedInColumns) {
  auto problems = GenerateDemoProblems(7, 60);
  ASSERT_EQ(problems.size(), 60u);
  EXPECT_EQ(GenerateDemoProblems(7, 60)[17].text, problems[17].text);
  for (const Problem& p : problems) {
    auto solved = SolveProblem(MathPrompt(p.text));
    ASSERT_TRUE(solved.ok()) << p.text;
    EXPECT_EQ(FormatRational(solved->value), p.answer) << p.text;
    EXPECT_EQ(solved->family, p.family) << p.text;
    Completion c = ComposeCompletion(MathPrompt(p.text), 1, DefectRates{});
    EXPECT_NE(c.reasoning.find("Column by column from the right: "), std::string::npos) << c.reasoning;
  }
}

}  // namespace
}  // namespace distill::teacher
