// Math problems the teacher simulator can solve, and a seeded generator of exactly those problems with their
// ground-truth answers (the demo's prompt generator and the tests use it).
//
// Families (text produced by GenerateProblems, recognised by SolveProblem; see docs/teacher-sim.md):
//   arithmetic: "What is 347 * 29?", "Compute (12 + 7) * 3.", "Calculate 58 * 13 - 77.", "What is 84 / 7?",
//               "Evaluate (45 - 18) * (6 + 9)." — integers, + - * / (also × ÷), parentheses, unary minus;
//               '/' is exact division: a non-integer result is a reduced fraction "a/b" (boxed \frac{a}{b}).
//   add:    "Tom has 12 apples and buys 7 more. How many apples does he have?"
//   give:   "Anna has 30 stickers and gives 8 to Ben. How many stickers does she have left?"
//   speed:  "A train travels at 60 km per hour for 3 hours. How many kilometers does it travel?"
//   rate:   "A machine makes 14 bolts per minute. How many bolts does it make in 9 minutes?"
//   age:    "Maria is 12 years old. Omar is 5 years older than Maria. How old will Omar be in 4 years?"
//   price:  "Lena buys 3 notebooks at $4 each and 2 pens at $3 each. How many dollars does she spend in total?"
//   share:  "Kenji shares 48 cookies equally among 6 friends. How many cookies does each friend get?"
//   groups: "There are 7 boxes with 12 pencils in each box. How many pencils are there in total?"
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace distill::teacher {

// An exact rational number (always reduced, denominator > 0). Arithmetic on it fails instead of overflowing.
struct Rational {
  int64_t num = 0;
  int64_t den = 1;
  bool IsInteger() const { return den == 1; }
  bool operator==(const Rational&) const = default;
};

// Text of a rational: "42", "-7", "7/3".
std::string FormatRational(const Rational& value);
// The form used inside \boxed{}: "42", "-7", "\frac{7}{3}" (negative fractions as "-\frac{7}{3}").
std::string BoxedForm(const Rational& value);

// Applies `op` ('+', '-', '*', '/'); InvalidArgument on division by zero, OutOfRange on int64 overflow.
absl::StatusOr<Rational> Apply(const Rational& lhs, char op, const Rational& rhs);

// One computation in a solution: `lhs op rhs = result`, with an optional sentence saying why.
struct SolutionStep {
  std::string why;  // e.g. "He buys 7 more, so I add them." ("" for bare arithmetic)
  Rational lhs;
  char op = '+';
  Rational rhs;
  Rational result;
};

// How a problem is solved: its family, facts read from the text, the computations and the final value.
struct Solution {
  std::string family;              // "arithmetic", "add", "give", "speed", "rate", "age", "price", "share", "groups"
  std::string question;            // the recognised problem text (without surrounding instructions)
  std::vector<std::string> facts;  // restated givens, one sentence each (may be empty for arithmetic)
  std::vector<SolutionStep> steps; // in order; the last step's result is `value`
  Rational value;
  std::string unit;                // "apples", "kilometers", "dollars", "years old" or "" for arithmetic
};

// Solves the problem in `prompt` (any surrounding text, such as DeepSeek's "Please reason step by step…"
// instruction, is ignored): word-problem templates first (in prompts up to 8 KiB), then the longest arithmetic
// expression in the text.
// NotFound when nothing solvable is present; InvalidArgument/OutOfRange for division by zero or overflow.
absl::StatusOr<Solution> SolveProblem(std::string_view prompt);

// A generated problem and its ground truth ("42", "-7" or "7/3").
struct Problem {
  std::string family;
  std::string text;
  std::string answer;
};

// `count` problems drawn deterministically from `seed` (same seed → same problems, on every platform): of every
// 12 consecutive problems 4 are arithmetic, then one of each word family (add, give, speed, rate, age, price,
// share, groups). Every problem is solvable by SolveProblem with the same answer.
std::vector<Problem> GenerateProblems(uint64_t seed, int count);

// The offline demo's problems, `count` drawn from `seed` in turns of six: a + b, a - b (a >= b), a * d (a, b
// two-digit, d in 2..9), then the add, give and groups word families with two-digit numbers and single-digit group
// counts: every step is one the teacher works column by column (ColumnWork), which a tiny student learns in
// minutes on a CPU, while answering directly (the base) stays mostly guesswork.
// `family` is "arithmetic", "add", "give" or "groups"; every problem is solvable by SolveProblem.
std::vector<Problem> GenerateDemoProblems(uint64_t seed, int count);

// The user turn DeepSeek recommends for math: `text` + "\nPlease reason step by step, and put your final answer
// within \boxed{}."
std::string MathPrompt(std::string_view text);

}  // namespace distill::teacher
