// Answer graders for `distill verify`: pull the final answer out of a response and decide whether it matches a
// ground-truth answer. Rules (all exercised in tests/data/answer_grader_test.cc):
//  - Extraction: the content of the LAST non-empty \boxed{…} / \boxed … / \fbox{…}; otherwise the last number
//    in the text (integer, decimal, negative, 1,234,567 thousands groups, a/b fractions); otherwise nothing.
//  - Numbers: integers, integer powers (10^{3}) and fractions of integers compare exactly (rational
//    cross-multiplication, plain integers of any length digit by digit); as soon as either side is a decimal or
//    uses scientific notation (1.5e3, 1.5\times10^{3}) the comparison is |a-b| <= 1e-9 * max(|a|,|b|).
//  - Percent: "p%" (also p\%, "p percent") equals both p and p/100; a number without % is only itself. So with
//    truth "50%", the candidates 50, 50% and 0.5 all match; with truth "50", both 50 and 50% match.
//  - Thousands separators: "1,000" is 1000 only when the whole answer is one number whose commas all sit
//    between a 1-3 digit head and 3-digit groups with no space; any other comma separates list elements.
//  - Lists: {a,b} is a set (order-free, element multiset); (a,b) is a tuple or open interval and [a,b],
//    (a,b], [a,b) intervals: element-wise in order, bracket kinds must match; a bare list "a, b" equals a set
//    order-free and a ( ) tuple in order, and another bare list order-free (the "all solutions" form).
//  - Everything else compares as normalised text: case-insensitive (LaTeX command names keep their case),
//    spaces, $, \left/\right, spacing commands, \text-like wrappers, units after numbers, a trailing period
//    and "x =" / "The answer is" prefixes removed; \dfrac/\tfrac/\frac12 → \frac{1}{2}, \sqrt2/√2 → \sqrt{2},
//    \cdot/\times → *, ^{2} → ^2, \{ \} → { }, "(B)" → "b"; "(B) 12" also equals the option letter "B".
//  - Not covered: algebraic equivalence (1/\sqrt{2} vs \sqrt{2}/2, x+1 vs 1+x) and mixed numbers (1\frac{1}{2} is
//    kept apart from 11/2 but not evaluated); an empty candidate never matches.
#pragma once

#include <string>
#include <string_view>

namespace distill::data {

// How ExtractFinalAnswer found its answer.
enum class AnswerSource { kNone, kBoxed, kFbox, kLastNumber };

// Stable lower-case name of an AnswerSource ("none", "boxed", "fbox", "last_number").
std::string_view AnswerSourceName(AnswerSource source);

// The answer pulled out of a response and how it was found (text is empty when source is kNone).
struct ExtractedAnswer {
  std::string text;
  AnswerSource source = AnswerSource::kNone;
};

// Final answer of `text`: the last non-empty \boxed / \fbox content (braces nested), else the last number.
ExtractedAnswer ExtractFinalAnswer(std::string_view text);

// Content of the last non-empty \boxed{…}/\boxed …/\fbox{…} in `text`, or "" when there is none.
std::string LastBoxedContent(std::string_view text);

// Canonical text form of an answer (the textual comparison key used by AnswersEquivalent; see rules above).
std::string NormalizeAnswer(std::string_view answer);

// True when `candidate` expresses the same answer as `ground_truth` under the rules above.
bool AnswersEquivalent(std::string_view candidate, std::string_view ground_truth);

}  // namespace distill::data
