#include "tools/teacher/trace.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/teacher/column_arithmetic.h"
#include "tools/teacher/problems.h"
#include "tools/teacher/rng.h"

namespace distill::teacher {
namespace {

constexpr const char* kOpenings[] = {"Okay, let's see.", "Alright, so I need to figure this out.",
                                     "Hmm, let me think about this carefully.", "Okay, so I have this problem."};
constexpr const char* kFirst[] = {"First, ", "Let's start: ", "To begin, "};
constexpr const char* kNext[] = {"Next, ", "Then ", "Now "};
constexpr const char* kFinally[] = {"Finally, ", "Last step: ", "And finally, "};
constexpr const char* kConclude[] = {"So the answer should be ", "That gives ", "So the result is "};
constexpr const char* kConfident[] = {"I'm confident the answer is ", "So the final answer is ",
                                      "Therefore, the answer is "};
constexpr const char* kVerify[] = {"Let me verify: ", "Let me check by working backwards: ", "Let me verify this: "};
constexpr const char* kWait[] = {"Wait, that doesn't look right.", "Wait, let me recheck that.",
                                 "Hmm, wait. That seems off."};
constexpr const char* kChinese[] = {"让我再仔细检查一下这个计算。", "所以我们需要先算出这一步的结果。",
                                    "这个结果看起来是合理的。", "嗯，我再想一想这个问题。"};

std::string OpText(char op) {
  switch (op) {
    case '*':
      return " × ";
    case '/':
      return " ÷ ";
    default:
      return absl::StrCat(" ", std::string(1, op), " ");
  }
}

std::string Equation(const Rational& lhs, char op, const Rational& rhs, const Rational& result) {
  return absl::StrCat(FormatRational(lhs), OpText(op), FormatRational(rhs), " = ", FormatRational(result));
}

std::string Operand(const Rational& v) {
  return v.num < 0 ? absl::StrCat("(", FormatRational(v), ")") : FormatRational(v);
}

// "347 × 29": break the second factor into tens and units, the way R1 multiplies by hand.
std::string MultiplyByParts(const SolutionStep& step) {
  if (!step.lhs.IsInteger() || !step.rhs.IsInteger() || step.lhs.num < 10 || step.rhs.num < 11) return "";
  int64_t tens = step.rhs.num / 10 * 10, units = step.rhs.num % 10;
  if (units == 0) return "";
  int64_t a = step.lhs.num * tens, b = step.lhs.num * units;
  return absl::StrCat("I'll compute ", step.lhs.num, " × ", step.rhs.num, " by parts. Let me break it down: ",
                      step.lhs.num, " × ", tens, " = ", a, ", and ", step.lhs.num, " × ",
                      units, " = ", b, ". Adding them: ", a, " + ", b, " = ", a + b, ".");
}

// "Let me verify: …" by the inverse operation of the last step.
std::string Verification(const SolutionStep& step, Rng& rng) {
  char inverse = 0;
  Rational other;
  switch (step.op) {
    case '+':
      inverse = '-', other = step.rhs;
      break;
    case '-':
      inverse = '+', other = step.rhs;
      break;
    case '*':
      if (step.rhs.num == 0) return "";
      inverse = '/', other = step.rhs;
      break;
    case '/':
      inverse = '*', other = step.rhs;
      break;
    default:
      return "";
  }
  auto back = Apply(step.result, inverse, other);
  if (!back.ok()) return "";
  return absl::StrCat(kVerify[rng.Index(3)], FormatRational(step.result), OpText(inverse), Operand(other), " = ",
                      FormatRational(*back), ", which matches ", FormatRational(step.lhs), ". Good.");
}

Rational WrongValue(const Rational& v, Rng& rng) {
  int64_t off = rng.Range(1, 9) * (rng.Chance(0.5) ? 1 : -1);
  auto wrong = Apply(v, '+', Rational{off, 1});
  return wrong.ok() ? *wrong : Rational{v.num + 1, v.den};
}

std::string Unit(const Solution& s) { return s.unit.empty() ? "" : absl::StrCat(" ", s.unit); }

}  // namespace

int CountTokens(std::string_view text) {
  int count = 0;
  bool in_word = false;
  for (char c : text) {
    bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in_word) ++count;
    in_word = !space;
  }
  return count;
}

std::string TruncateTokens(std::string_view text, int max_tokens) {
  int count = 0;
  bool in_word = false;
  for (size_t i = 0; i < text.size(); ++i) {
    bool space = text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r';
    if (!space && !in_word) {
      if (count == max_tokens) {
        size_t end = i;
        while (end > 0 && (text[end - 1] == ' ' || text[end - 1] == '\n' || text[end - 1] == '\t' ||
                           text[end - 1] == '\r'))
          --end;
        return std::string(text.substr(0, end));
      }
      ++count;
    }
    in_word = !space;
  }
  return std::string(text);
}

Completion ComposeCompletion(std::string_view prompt, uint64_t seed, const DefectRates& rates) {
  Rng rng(seed);
  Completion out;
  // Draw every decision up front so one rate never shifts the others' draws.
  bool empty = rng.Chance(rates.empty);
  bool no_reasoning = rng.Chance(rates.no_reasoning);
  bool wrong = rng.Chance(rates.wrong_answer);
  bool mix = rng.Chance(rates.language_mix);
  bool loop = rng.Chance(rates.loop);
  bool truncate = rng.Chance(rates.truncation);
  bool wait = rng.Chance(rates.wait_correction);
  if (empty) {
    out.defects.push_back("empty");
    return out;
  }

  auto solved = SolveProblem(prompt);
  if (!solved.ok()) {
    out.defects.push_back("unsolvable");
    bool undefined = solved.status().code() != absl::StatusCode::kNotFound;
    out.reasoning = undefined
                        ? absl::StrCat(kOpenings[rng.Index(4)], " I need to evaluate this, but ",
                                       std::string(solved.status().message()),
                                       " makes it undefined. So there is no numeric answer.")
                        : absl::StrCat(kOpenings[rng.Index(4)],
                                       " I don't see a calculation or a word problem I can solve here. Maybe the "
                                       "user wants a short reply.");
    out.content = undefined ? "The expression is undefined, so it has no numeric value."
                            : "I couldn't find a math problem in your message. Please send an arithmetic "
                              "expression or a word problem.";
    return out;
  }
  const Solution& s = *solved;
  Rational final_value = wrong ? WrongValue(s.value, rng) : s.value;
  if (wrong) out.defects.push_back("wrong_answer");

  std::vector<std::string> paragraphs;
  if (s.family == "arithmetic") {
    paragraphs.push_back(absl::StrCat(kOpenings[rng.Index(4)], " I need to compute ", s.question,
                                      ". I'll follow the order of operations: parentheses first, then "
                                      "multiplication and division, then addition and subtraction."));
  } else {
    paragraphs.push_back(absl::StrCat(kOpenings[rng.Index(4)], " The problem says: ", s.question));
    paragraphs.push_back(absl::StrCat("So, what do I know? ", absl::StrJoin(s.facts, " "),
                                      " The question asks for the result in ", s.unit.empty() ? "numbers" : s.unit,
                                      "."));
  }
  size_t wait_step = wait ? rng.Index(s.steps.size()) : s.steps.size();
  for (size_t i = 0; i < s.steps.size(); ++i) {
    const SolutionStep& step = s.steps[i];
    bool last = i + 1 == s.steps.size();
    Rational shown = last ? final_value : step.result;
    std::string p = step.why.empty() ? (i == 0 ? kFirst[rng.Index(3)] : (last ? kFinally[rng.Index(3)] : kNext[rng.Index(3)]))
                                     : step.why + " ";
    std::string columns = ColumnWork(step);
    if (!columns.empty()) {
      absl::StrAppend(&p, "Column by column from the right: ", columns, " So ");
    } else if (step.op == '*') {
      std::string parts = MultiplyByParts(step);
      if (!parts.empty()) absl::StrAppend(&p, parts, " So ");
    }
    if (i == wait_step && !(last && wrong)) {
      Rational slip = WrongValue(step.result, rng);
      absl::StrAppend(&p, Equation(step.lhs, step.op, step.rhs, slip),
                      ".\n\n", kWait[rng.Index(3)], " Let me redo it: ",
                      Equation(step.lhs, step.op, step.rhs, step.result), ". Yes, ", FormatRational(step.result),
                      " is correct.");
    } else {
      absl::StrAppend(&p, Equation(step.lhs, step.op, step.rhs, shown), ".");
    }
    paragraphs.push_back(std::move(p));
  }
  paragraphs.push_back(absl::StrCat(kConclude[rng.Index(3)], FormatRational(final_value), Unit(s), "."));
  std::string check = wrong ? "" : Verification(s.steps.back(), rng);
  paragraphs.push_back(check.empty() ? "Let me double-check the steps once more. Yes, that seems right."
                                     : check);
  if (s.steps.size() > 1 && rng.Chance(0.5)) {
    const SolutionStep& first = s.steps.front();
    paragraphs.push_back(absl::StrCat("Let me double-check the first step too: ",
                                      Equation(first.lhs, first.op, first.rhs, first.result), ". Yes, that's right."));
  }
  paragraphs.push_back(absl::StrCat(kConfident[rng.Index(3)], FormatRational(final_value), Unit(s), "."));

  if (mix) {
    out.defects.push_back("language_mix");
    size_t at = 1 + rng.Index(paragraphs.size() - 1);
    paragraphs.insert(paragraphs.begin() + static_cast<std::ptrdiff_t>(at), kChinese[rng.Index(4)]);
    paragraphs[paragraphs.size() - 2] += std::string(" ") + kChinese[rng.Index(4)];
  }
  if (loop) {
    out.defects.push_back("loop");
    size_t at = rng.Index(paragraphs.size());
    std::string repeated = paragraphs[at];
    paragraphs.insert(paragraphs.begin() + static_cast<std::ptrdiff_t>(at), static_cast<size_t>(rates.loop_repeats),
                      repeated);
  }
  out.reasoning = absl::StrJoin(paragraphs, "\n\n");

  std::vector<std::string> summary;
  for (size_t i = 0; i < s.steps.size(); ++i) {
    const SolutionStep& step = s.steps[i];
    summary.push_back(absl::StrCat(
        "- ", Equation(step.lhs, step.op, step.rhs, i + 1 == s.steps.size() ? final_value : step.result)));
  }
  out.content = absl::StrCat(s.family == "arithmetic" ? "Evaluating step by step:" : "Solving step by step:",
                             "\n\n", absl::StrJoin(summary, "\n"), "\n\nThe answer is ", FormatRational(final_value),
                             Unit(s), ".\n\n\\boxed{", BoxedForm(final_value), "}");

  if (no_reasoning) {
    out.defects.push_back("no_reasoning");
    out.reasoning.clear();
  } else if (truncate) {
    out.defects.push_back("truncated");
    int tokens = CountTokens(out.reasoning);
    int keep = static_cast<int>(tokens * (0.3 + 0.5 * rng.Unit()));
    out.reasoning = TruncateTokens(out.reasoning, keep < 1 ? 1 : keep);
    out.content.clear();
    out.truncated = true;
  }
  return out;
}

}  // namespace distill::teacher
