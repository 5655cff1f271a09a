#include "tools/teacher/problems.h"

#include <cstdlib>
#include <numeric>
#include <regex>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tools/teacher/rng.h"

namespace distill::teacher {
namespace {

__extension__ typedef __int128 I128;  // exact intermediates (GCC/Clang)

absl::StatusOr<Rational> Make(I128 num, I128 den) {
  if (den == 0) return absl::InvalidArgumentError("division by zero");
  if (den < 0) num = -num, den = -den;
  I128 a = num < 0 ? -num : num, b = den;
  while (b != 0) {
    I128 t = a % b;
    a = b;
    b = t;
  }
  if (a > 1) num /= a, den /= a;
  constexpr I128 kMax = INT64_MAX;
  if (num > kMax || num < -kMax || den > kMax) return absl::OutOfRangeError("number too large");
  return Rational{static_cast<int64_t>(num), static_cast<int64_t>(den)};
}

Rational Int(int64_t v) { return Rational{v, 1}; }

// ---- arithmetic expressions -------------------------------------------------------------------------------

// Recursive-descent evaluator over "0-9 + - * / ( ) spaces" that records each binary operation as a step.
class ExpressionParser {
 public:
  ExpressionParser(std::string_view text, std::vector<SolutionStep>* steps) : text_(text), steps_(steps) {}

  absl::StatusOr<Rational> Parse() {
    auto value = Expr();
    if (!value.ok()) return value;
    SkipSpaces();
    if (pos_ != text_.size()) return absl::InvalidArgumentError("trailing characters in expression");
    return value;
  }

 private:
  void SkipSpaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }
  bool Peek(char c) {
    SkipSpaces();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  absl::StatusOr<Rational> Record(const Rational& lhs, char op, const Rational& rhs) {
    auto result = Apply(lhs, op, rhs);
    if (!result.ok()) return result;
    steps_->push_back(SolutionStep{"", lhs, op, rhs, *result});
    return result;
  }
  absl::StatusOr<Rational> Expr() {
    auto lhs = Term();
    if (!lhs.ok()) return lhs;
    while (Peek('+') || Peek('-')) {
      char op = text_[pos_++];
      auto rhs = Term();
      if (!rhs.ok()) return rhs;
      lhs = Record(*lhs, op, *rhs);
      if (!lhs.ok()) return lhs;
    }
    return lhs;
  }
  absl::StatusOr<Rational> Term() {
    auto lhs = Factor();
    if (!lhs.ok()) return lhs;
    while (Peek('*') || Peek('/')) {
      char op = text_[pos_++];
      auto rhs = Factor();
      if (!rhs.ok()) return rhs;
      lhs = Record(*lhs, op, *rhs);
      if (!lhs.ok()) return lhs;
    }
    return lhs;
  }
  absl::StatusOr<Rational> Factor() {
    if (++depth_ > 64) return absl::InvalidArgumentError("expression nested too deeply");
    SkipSpaces();
    if (pos_ >= text_.size()) return absl::InvalidArgumentError("expression ends early");
    char c = text_[pos_];
    absl::StatusOr<Rational> value;
    if (c == '-') {
      ++pos_;
      value = Factor();
      if (value.ok()) value = Rational{-value->num, value->den};
    } else if (c == '(') {
      ++pos_;
      value = Expr();
      if (value.ok() && !Peek(')')) value = absl::InvalidArgumentError("missing ')'");
      if (value.ok()) ++pos_;
    } else if (c >= '0' && c <= '9') {
      size_t start = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      int64_t v = 0;
      if (pos_ - start > 18 || !absl::SimpleAtoi(absl::string_view(text_.data() + start, pos_ - start), &v))
        value = absl::OutOfRangeError("number too large");
      else
        value = Int(v);
    } else {
      value = absl::InvalidArgumentError("unexpected character in expression");
    }
    --depth_;
    return value;
  }

  std::string_view text_;
  std::vector<SolutionStep>* steps_;
  size_t pos_ = 0;
  int depth_ = 0;
};

bool IsExpressionChar(char c) {
  return (c >= '0' && c <= '9') || c == ' ' || c == '+' || c == '-' || c == '*' || c == '/' || c == '(' ||
         c == ')';
}

absl::StatusOr<Solution> SolveArithmetic(std::string_view prompt) {
  std::string text = absl::StrReplaceAll(absl::string_view(prompt.data(), prompt.size()), {{"\xC3\x97", "*"}, {"\xC3\xB7", "/"}, {"\xE2\x88\x92", "-"}});
  std::string best;
  Solution best_solution;
  size_t i = 0;
  while (i < text.size()) {
    if (!IsExpressionChar(text[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < text.size() && IsExpressionChar(text[j])) ++j;
    std::string_view run(text.data() + i, j - i);
    i = j;
    while (!run.empty() && (run.front() == ' ' || run.front() == '+' || run.front() == '*' || run.front() == '/'))
      run.remove_prefix(1);
    while (!run.empty() && (run.back() == ' ' || run.back() == '+' || run.back() == '-' || run.back() == '*' ||
                            run.back() == '/'))
      run.remove_suffix(1);
    bool has_digit = run.find_first_of("0123456789") != std::string_view::npos;
    bool has_op = run.size() > 1 && run.substr(1).find_first_of("+-*/") != std::string_view::npos;
    if (!has_digit || !has_op || run.size() <= best.size()) continue;
    Solution solution;
    ExpressionParser parser(run, &solution.steps);
    auto value = parser.Parse();
    if (!value.ok()) {
      if (value.status().code() != absl::StatusCode::kInvalidArgument ||
          absl::string_view(value.status().message()) == "division by zero")
        return value.status();
      continue;
    }
    if (solution.steps.empty()) continue;
    solution.family = "arithmetic";
    solution.question = std::string(run);
    solution.value = *value;
    best = std::string(run);
    best_solution = std::move(solution);
  }
  if (best.empty()) return absl::NotFoundError("no arithmetic expression or known word problem in the prompt");
  return best_solution;
}

// ---- word problems ----------------------------------------------------------------------------------------

int64_t ToInt(const std::string& digits) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(digits, &v)) v = 0;
  return v;
}

using Match = std::smatch;
using Builder = absl::StatusOr<Solution> (*)(const Match& m);

absl::Status AddStep(Solution& s, std::string why, Rational lhs, char op, Rational rhs) {
  auto result = Apply(lhs, op, rhs);
  if (!result.ok()) return result.status();
  s.steps.push_back(SolutionStep{std::move(why), lhs, op, rhs, *result});
  s.value = *result;
  return absl::OkStatus();
}

#define TEACHER_RETURN_IF_ERROR(expr)   \
  do {                                  \
    absl::Status status_ = (expr);      \
    if (!status_.ok()) return status_; \
  } while (0)

absl::StatusOr<Solution> BuildAdd(const Match& m) {
  Solution s;
  s.unit = m[3];
  s.facts = {absl::StrCat(m[1].str(), " starts with ", m[2].str(), " ", m[3].str(), "."),
             absl::StrCat(m[1].str(), " buys ", m[4].str(), " more.")};
  TEACHER_RETURN_IF_ERROR(AddStep(s, "Buying more means adding them:", Int(ToInt(m[2])), '+', Int(ToInt(m[4]))));
  return s;
}
absl::StatusOr<Solution> BuildGive(const Match& m) {
  Solution s;
  s.unit = m[3];
  s.facts = {absl::StrCat(m[1].str(), " starts with ", m[2].str(), " ", m[3].str(), "."),
             absl::StrCat(m[1].str(), " gives ", m[4].str(), " of them to ", m[5].str(), ".")};
  TEACHER_RETURN_IF_ERROR(
      AddStep(s, "Giving some away means subtracting:", Int(ToInt(m[2])), '-', Int(ToInt(m[4]))));
  return s;
}
absl::StatusOr<Solution> BuildSpeed(const Match& m) {
  Solution s;
  s.unit = "kilometers";
  s.facts = {absl::StrCat("The ", m[1].str(), " goes ", m[2].str(), " km every hour."),
             absl::StrCat("It travels for ", m[3].str(), " hours.")};
  TEACHER_RETURN_IF_ERROR(AddStep(s, "Distance is speed times time:", Int(ToInt(m[2])), '*', Int(ToInt(m[3]))));
  return s;
}
absl::StatusOr<Solution> BuildRate(const Match& m) {
  Solution s;
  s.unit = m[3];
  s.facts = {absl::StrCat("The ", m[1].str(), " makes ", m[2].str(), " ", m[3].str(), " each minute."),
             absl::StrCat("It works for ", m[4].str(), " minutes.")};
  TEACHER_RETURN_IF_ERROR(
      AddStep(s, "The total is the rate times the number of minutes:", Int(ToInt(m[2])), '*', Int(ToInt(m[4]))));
  return s;
}
absl::StatusOr<Solution> BuildAge(const Match& m) {
  Solution s;
  s.unit = "years old";
  s.facts = {absl::StrCat(m[1].str(), " is ", m[2].str(), " now."),
             absl::StrCat(m[3].str(), " is ", m[4].str(), " years older than ", m[1].str(), ".")};
  TEACHER_RETURN_IF_ERROR(
      AddStep(s, absl::StrCat("First, ", m[3].str(), "'s age now:"), Int(ToInt(m[2])), '+', Int(ToInt(m[4]))));
  TEACHER_RETURN_IF_ERROR(AddStep(s, absl::StrCat("In ", m[5].str(), " years ", m[3].str(), " will be:"), s.value,
                                  '+', Int(ToInt(m[5]))));
  return s;
}
absl::StatusOr<Solution> BuildPrice(const Match& m) {
  Solution s;
  s.unit = "dollars";
  s.facts = {absl::StrCat(m[2].str(), " ", m[3].str(), " at $", m[4].str(), " each."),
             absl::StrCat(m[5].str(), " ", m[6].str(), " at $", m[7].str(), " each.")};
  TEACHER_RETURN_IF_ERROR(
      AddStep(s, absl::StrCat("The ", m[3].str(), " cost:"), Int(ToInt(m[2])), '*', Int(ToInt(m[4]))));
  Rational first = s.value;
  TEACHER_RETURN_IF_ERROR(
      AddStep(s, absl::StrCat("The ", m[6].str(), " cost:"), Int(ToInt(m[5])), '*', Int(ToInt(m[7]))));
  Rational second = s.value;
  TEACHER_RETURN_IF_ERROR(AddStep(s, "Together:", first, '+', second));
  return s;
}
absl::StatusOr<Solution> BuildShare(const Match& m) {
  Solution s;
  s.unit = m[3];
  s.facts = {absl::StrCat(m[1].str(), " has ", m[2].str(), " ", m[3].str(), " to share."),
             absl::StrCat("There are ", m[4].str(), " friends, each getting the same amount.")};
  TEACHER_RETURN_IF_ERROR(
      AddStep(s, "Sharing equally means dividing:", Int(ToInt(m[2])), '/', Int(ToInt(m[4]))));
  return s;
}
absl::StatusOr<Solution> BuildGroups(const Match& m) {
  Solution s;
  s.unit = m[4];
  s.facts = {absl::StrCat("There are ", m[1].str(), " ", m[2].str(), "."),
             absl::StrCat("Each ", m[5].str(), " holds ", m[3].str(), " ", m[4].str(), ".")};
  TEACHER_RETURN_IF_ERROR(
      AddStep(s, "Equal groups means multiplying:", Int(ToInt(m[1])), '*', Int(ToInt(m[3]))));
  return s;
}

struct Family {
  const char* name;
  std::regex pattern;
  Builder build;
};

const std::vector<Family>& Families() {
  static const std::vector<Family>* families = [] {
    auto* f = new std::vector<Family>;
    auto add = [&](const char* name, const char* pattern, Builder build) {
      f->push_back(Family{name, std::regex(pattern, std::regex::ECMAScript | std::regex::optimize), build});
    };
    add("add", R"(([A-Z][a-z]+) has (\d+) ([a-z]+) and buys (\d+) more\. How many \3 does (?:he|she) have\?)",
        BuildAdd);
    add("give",
        R"(([A-Z][a-z]+) has (\d+) ([a-z]+) and gives (\d+) to ([A-Z][a-z]+)\. How many \3 does (?:he|she) have left\?)",
        BuildGive);
    add("speed",
        R"(An? ([a-z]+) travels at (\d+) km per hour for (\d+) hours\. How many kilometers does it travel\?)",
        BuildSpeed);
    add("rate", R"(An? ([a-z]+) makes (\d+) ([a-z]+) per minute\. How many \3 does it make in (\d+) minutes\?)",
        BuildRate);
    add("age",
        R"(([A-Z][a-z]+) is (\d+) years old\. ([A-Z][a-z]+) is (\d+) years older than \1\. How old will \3 be in (\d+) years\?)",
        BuildAge);
    add("price",
        R"(([A-Z][a-z]+) buys (\d+) ([a-z]+) at \$(\d+) each and (\d+) ([a-z]+) at \$(\d+) each\. How many dollars does (?:he|she) spend in total\?)",
        BuildPrice);
    add("share",
        R"(([A-Z][a-z]+) shares (\d+) ([a-z]+) equally among (\d+) friends\. How many \3 does each friend get\?)",
        BuildShare);
    add("groups",
        R"(There are (\d+) ([a-z]+) with (\d+) ([a-z]+) in each ([a-z]+)\. How many \4 are there in total\?)",
        BuildGroups);
    return f;
  }();
  return *families;
}

// ---- generation -------------------------------------------------------------------------------------------

struct Person {
  const char* name;
  const char* pronoun;
};
constexpr Person kPeople[] = {{"Tom", "he"},    {"Anna", "she"}, {"Ben", "he"},    {"Maria", "she"},
                              {"Lucas", "he"},  {"Sofia", "she"}, {"Omar", "he"},  {"Priya", "she"},
                              {"Kenji", "he"},  {"Lena", "she"}};
constexpr const char* kItems[] = {"apples", "pencils", "marbles", "stickers", "books", "cookies", "cards", "shells"};
constexpr const char* kVehicles[] = {"train", "car", "bus", "truck", "cyclist"};
constexpr const char* kMachines[] = {"machine", "printer", "robot", "factory"};
constexpr const char* kProducts[] = {"bolts", "pages", "parts", "toys"};
constexpr const char* kGoods[] = {"notebooks", "pens", "apples", "sandwiches", "tickets", "candles"};
constexpr const char* kContainers[][2] = {{"boxes", "box"}, {"bags", "bag"}, {"crates", "crate"}, {"baskets", "basket"}};

template <typename T, size_t N>
const T& Pick(Rng& rng, const T (&items)[N]) {
  return items[rng.Index(N)];
}

std::string Fraction(int64_t num, int64_t den) {
  int64_t g = std::gcd(num < 0 ? -num : num, den);
  num /= g;
  den /= g;
  return den == 1 ? std::to_string(num) : absl::StrCat(num, "/", den);
}

Problem GenerateArithmetic(Rng& rng) {
  Problem p;
  p.family = "arithmetic";
  switch (rng.Index(7)) {
    case 0: {
      int64_t a = rng.Range(100, 99999), b = rng.Range(100, 99999);
      p.text = absl::StrCat("What is ", a, " + ", b, "?");
      p.answer = std::to_string(a + b);
      break;
    }
    case 1: {
      int64_t a = rng.Range(10, 9999), b = rng.Range(10, 9999);
      p.text = absl::StrCat("What is ", a, " - ", b, "?");
      p.answer = std::to_string(a - b);
      break;
    }
    case 2: {
      int64_t a = rng.Range(12, 999), b = rng.Range(11, 99);
      p.text = absl::StrCat("What is ", a, " * ", b, "?");
      p.answer = std::to_string(a * b);
      break;
    }
    case 3: {
      int64_t b = rng.Range(2, 40);
      int64_t a = rng.Chance(0.7) ? b * rng.Range(2, 500) : rng.Range(10, 500);
      p.text = absl::StrCat("What is ", a, " / ", b, "?");
      p.answer = Fraction(a, b);
      break;
    }
    case 4: {
      int64_t a = rng.Range(2, 99), b = rng.Range(2, 99), c = rng.Range(2, 19);
      p.text = absl::StrCat("Compute (", a, " + ", b, ") * ", c, ".");
      p.answer = std::to_string((a + b) * c);
      break;
    }
    case 5: {
      int64_t a = rng.Range(11, 99), b = rng.Range(3, 49), c = rng.Range(1, 999);
      p.text = absl::StrCat("Calculate ", a, " * ", b, " - ", c, ".");
      p.answer = std::to_string(a * b - c);
      break;
    }
    default: {
      int64_t a = rng.Range(10, 99), b = rng.Range(1, 60), c = rng.Range(1, 30), d = rng.Range(1, 30);
      p.text = absl::StrCat("Evaluate (", a, " - ", b, ") * (", c, " + ", d, ").");
      p.answer = std::to_string((a - b) * (c + d));
      break;
    }
  }
  return p;
}

Problem GenerateWord(int family, Rng& rng) {
  Problem p;
  const Person& who = Pick(rng, kPeople);
  const Person* other = &Pick(rng, kPeople);
  while (other == &who) other = &Pick(rng, kPeople);
  const char* item = Pick(rng, kItems);
  switch (family) {
    case 1: {
      int64_t a = rng.Range(2, 60), b = rng.Range(1, 40);
      p.family = "add";
      p.text = absl::StrCat(who.name, " has ", a, " ", item, " and buys ", b, " more. How many ", item, " does ",
                            who.pronoun, " have?");
      p.answer = std::to_string(a + b);
      break;
    }
    case 2: {
      int64_t a = rng.Range(10, 90), b = rng.Range(1, a - 1);
      p.family = "give";
      p.text = absl::StrCat(who.name, " has ", a, " ", item, " and gives ", b, " to ", other->name, ". How many ",
                            item, " does ", who.pronoun, " have left?");
      p.answer = std::to_string(a - b);
      break;
    }
    case 3: {
      const char* vehicle = Pick(rng, kVehicles);
      int64_t s = rng.Range(20, 120), h = rng.Range(2, 9);
      p.family = "speed";
      p.text = absl::StrCat("A ", vehicle, " travels at ", s, " km per hour for ", h,
                            " hours. How many kilometers does it travel?");
      p.answer = std::to_string(s * h);
      break;
    }
    case 4: {
      const char* machine = Pick(rng, kMachines);
      const char* product = Pick(rng, kProducts);
      int64_t r = rng.Range(3, 40), m = rng.Range(2, 30);
      p.family = "rate";
      p.text = absl::StrCat("A ", machine, " makes ", r, " ", product, " per minute. How many ", product,
                            " does it make in ", m, " minutes?");
      p.answer = std::to_string(r * m);
      break;
    }
    case 5: {
      int64_t a = rng.Range(5, 40), d = rng.Range(1, 30), y = rng.Range(1, 15);
      p.family = "age";
      p.text = absl::StrCat(who.name, " is ", a, " years old. ", other->name, " is ", d, " years older than ",
                            who.name, ". How old will ", other->name, " be in ", y, " years?");
      p.answer = std::to_string(a + d + y);
      break;
    }
    case 6: {
      const char* first = Pick(rng, kGoods);
      const char* second = Pick(rng, kGoods);
      while (std::string_view(second) == first) second = Pick(rng, kGoods);
      int64_t n = rng.Range(1, 9), price1 = rng.Range(1, 20), m = rng.Range(1, 9), price2 = rng.Range(1, 20);
      p.family = "price";
      p.text = absl::StrCat(who.name, " buys ", n, " ", first, " at $", price1, " each and ", m, " ", second,
                            " at $", price2, " each. How many dollars does ", who.pronoun, " spend in total?");
      p.answer = std::to_string(n * price1 + m * price2);
      break;
    }
    case 7: {
      int64_t k = rng.Range(2, 9), each = rng.Range(2, 25);
      p.family = "share";
      p.text = absl::StrCat(who.name, " shares ", k * each, " ", item, " equally among ", k,
                            " friends. How many ", item, " does each friend get?");
      p.answer = std::to_string(each);
      break;
    }
    default: {
      const auto& container = Pick(rng, kContainers);
      int64_t g = rng.Range(2, 15), n = rng.Range(2, 30);
      p.family = "groups";
      p.text = absl::StrCat("There are ", g, " ", container[0], " with ", n, " ", item, " in each ", container[1],
                            ". How many ", item, " are there in total?");
      p.answer = std::to_string(g * n);
      break;
    }
  }
  return p;
}

}  // namespace

std::string FormatRational(const Rational& value) {
  return value.den == 1 ? std::to_string(value.num) : absl::StrCat(value.num, "/", value.den);
}

std::string BoxedForm(const Rational& value) {
  if (value.den == 1) return std::to_string(value.num);
  return absl::StrCat(value.num < 0 ? "-" : "", "\\frac{", value.num < 0 ? -value.num : value.num, "}{", value.den,
                      "}");
}

absl::StatusOr<Rational> Apply(const Rational& lhs, char op, const Rational& rhs) {
  using I = I128;
  switch (op) {
    case '+':
      return Make(I(lhs.num) * rhs.den + I(rhs.num) * lhs.den, I(lhs.den) * rhs.den);
    case '-':
      return Make(I(lhs.num) * rhs.den - I(rhs.num) * lhs.den, I(lhs.den) * rhs.den);
    case '*':
      return Make(I(lhs.num) * rhs.num, I(lhs.den) * rhs.den);
    case '/':
      if (rhs.num == 0) return absl::InvalidArgumentError("division by zero");
      return Make(I(lhs.num) * rhs.den, I(lhs.den) * rhs.num);
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown operator '", std::string(1, op), "'"));
  }
}

absl::StatusOr<Solution> SolveProblem(std::string_view prompt) {
  // std::regex recurses per matched character: a long run of letters in a huge prompt would overflow the stack.
  constexpr size_t kMaxWordProblemPrompt = 8192;
  if (prompt.size() > kMaxWordProblemPrompt) return SolveArithmetic(prompt);
  std::string text(prompt);
  for (const Family& family : Families()) {
    std::smatch m;
    if (!std::regex_search(text, m, family.pattern)) continue;
    auto solution = family.build(m);
    if (!solution.ok()) return solution.status();
    solution->family = family.name;
    solution->question = m[0].str();
    return solution;
  }
  return SolveArithmetic(prompt);
}

std::vector<Problem> GenerateProblems(uint64_t seed, int count) {
  std::vector<Problem> problems;
  for (int i = 0; i < count; ++i) {
    Rng rng(MixSeed(seed, static_cast<uint64_t>(i)));
    int slot = i % 12;  // a third arithmetic, then the eight word-problem families in turn
    problems.push_back(slot < 4 ? GenerateArithmetic(rng) : GenerateWord(slot - 3, rng));
  }
  return problems;
}

std::vector<Problem> GenerateDemoProblems(uint64_t seed, int count) {
  std::vector<Problem> problems;
  for (int i = 0; i < count; ++i) {
    Rng rng(MixSeed(seed ^ 0xde30de30de30de30ULL, static_cast<uint64_t>(i)));
    Problem p;
    int64_t a = rng.Range(10, 99), b = rng.Range(10, 99);
    switch (i % 6) {
      case 0:
        p = {"arithmetic", absl::StrCat("What is ", a, " + ", b, "?"), std::to_string(a + b)};
        break;
      case 1:
        if (a < b) std::swap(a, b);
        p = {"arithmetic", absl::StrCat("What is ", a, " - ", b, "?"), std::to_string(a - b)};
        break;
      case 2: {
        int64_t d = rng.Range(2, 9);
        p = {"arithmetic", absl::StrCat("What is ", a, " * ", d, "?"), std::to_string(a * d)};
        break;
      }
      default: {
        // The add, give and groups word families in column-friendly ranges.
        const Person& who = Pick(rng, kPeople);
        const Person* other = &Pick(rng, kPeople);
        while (other == &who) other = &Pick(rng, kPeople);
        const char* item = Pick(rng, kItems);
        int64_t x = rng.Range(10, 99), y = rng.Range(10, 99);
        if (i % 6 == 3) {
          p = {"add",
               absl::StrCat(who.name, " has ", x, " ", item, " and buys ", y, " more. How many ", item, " does ",
                            who.pronoun, " have?"),
               std::to_string(x + y)};
        } else if (i % 6 == 4) {
          if (x < y) std::swap(x, y);
          p = {"give",
               absl::StrCat(who.name, " has ", x, " ", item, " and gives ", y, " to ", other->name, ". How many ",
                            item, " does ", who.pronoun, " have left?"),
               std::to_string(x - y)};
        } else {
          const auto& container = Pick(rng, kContainers);
          int64_t g = rng.Range(2, 9);
          p = {"groups",
               absl::StrCat("There are ", g, " ", container[0], " with ", x, " ", item, " in each ", container[1],
                            ". How many ", item, " are there in total?"),
               std::to_string(g * x)};
        }
      }
    }
    problems.push_back(std::move(p));
  }
  return problems;
}

std::string MathPrompt(std::string_view text) {
  return absl::StrCat(absl::string_view(text.data(), text.size()),
                      "\nPlease reason step by step, and put your final answer within \\boxed{}.");
}

}  // namespace distill::teacher
