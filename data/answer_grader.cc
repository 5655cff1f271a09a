#include "data/answer_grader.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

#include "data/answer_text.h"

namespace distill::data {
namespace {

using answer_internal::CanonElement;
using answer_internal::IsAlpha;
using answer_internal::IsDigit;
using answer_internal::IsGroupedNumber;
using answer_internal::IsSpace;
using answer_internal::kNpos;
using answer_internal::MatchBrace;
using answer_internal::MatchBracket;
using answer_internal::MatchNumber;
using answer_internal::PrepareLatex;
using answer_internal::SplitTopLevel;
using answer_internal::StripSentence;
using answer_internal::StripUnits;
using answer_internal::StripVariablePrefix;
using answer_internal::Trim;

constexpr long double kRelTolerance = 1e-9L;
__extension__ typedef __int128 Wide;    // exact rational arithmetic
constexpr size_t kMaxExactDigits = 17;  // |p|,|q| < 1e17 keeps every cross product inside __int128

// ---------------------------------------------------------------------------------------------------------------
// Extraction.

struct BoxHit {
  std::string content;
  AnswerSource source = AnswerSource::kNone;
};

BoxHit LastBox(std::string_view text) {
  struct Cmd {
    std::string_view name;
    AnswerSource source;
  };
  static constexpr std::array<Cmd, 2> kCmds = {{{"\\boxed", AnswerSource::kBoxed}, {"\\fbox", AnswerSource::kFbox}}};
  std::vector<std::pair<size_t, const Cmd*>> hits;
  for (const Cmd& cmd : kCmds) {
    for (size_t pos = text.find(cmd.name); pos != kNpos; pos = text.find(cmd.name, pos + 1)) {
      size_t after = pos + cmd.name.size();
      if (after < text.size() && IsAlpha(text[after])) continue;  // \boxedx is another command
      hits.emplace_back(pos, &cmd);
    }
  }
  std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [pos, cmd] : hits) {
    size_t i = pos + cmd->name.size();
    std::string_view content;
    if (i < text.size() && (text[i] == '{' || IsSpace(text[i]))) {
      while (i < text.size() && IsSpace(text[i])) ++i;
      if (i < text.size() && text[i] == '{') {
        size_t close = MatchBrace(text, i);
        if (close == kNpos) continue;  // truncated box: not an answer
        content = text.substr(i + 1, close - i - 1);
      } else {
        size_t end = i;
        while (end < text.size() && !IsSpace(text[end]) && text[end] != '$') ++end;
        content = text.substr(i, end - i);
      }
    }
    content = Trim(content);
    if (content.empty()) continue;  // "put your answer in \boxed{}" quoted from the prompt
    return {std::string(content), cmd->source};
  }
  return {};
}

std::string LastNumber(std::string_view text) {
  std::string_view last;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    bool prev_word = i > 0 && (IsDigit(text[i - 1]) || IsAlpha(text[i - 1]) || text[i - 1] == '.');
    bool starts = (IsDigit(c) || (c == '.' && i + 1 < text.size() && IsDigit(text[i + 1]))) && !prev_word;
    bool sign = c == '-' && !prev_word && i + 1 < text.size() &&
                (IsDigit(text[i + 1]) || (text[i + 1] == '.' && i + 2 < text.size() && IsDigit(text[i + 2])));
    if (starts || sign || (IsDigit(c) && i > 0 && IsAlpha(text[i - 1]))) {
      size_t len = MatchNumber(text, i);
      if (len > 0) {
        last = text.substr(i, len);
        i += len;
        continue;
      }
    }
    ++i;
  }
  return std::string(last);
}

// ---------------------------------------------------------------------------------------------------------------
// Structure: scalar, set, bracketed tuple/interval, bare list.

enum class Shape { kScalar, kSet, kBracketed, kBare };

struct Parsed {
  Shape shape = Shape::kScalar;
  char open = 0;
  char close = 0;
  std::vector<std::string> elements;  // canonical
};

Parsed ParseAnswer(std::string_view answer) {
  std::string s1 = PrepareLatex(answer);
  std::string_view s = StripSentence(s1);
  s = StripVariablePrefix(s);
  Parsed p;
  if (IsGroupedNumber(StripUnits(s))) {
    p.elements.push_back(CanonElement(s));
    return p;
  }
  std::string_view inner;
  if (!s.empty() && (s.front() == '{' || s.front() == '(' || s.front() == '[') && MatchBracket(s, 0) == s.size() - 1 &&
      s.size() >= 2) {
    inner = s.substr(1, s.size() - 2);
    if (SplitTopLevel(inner, ',').size() > 1) {
      p.shape = s.front() == '{' ? Shape::kSet : Shape::kBracketed;
      p.open = s.front();
      p.close = s.back();
      if (p.shape == Shape::kSet && p.close != '}') p.shape = Shape::kBracketed;
    }
  }
  if (p.shape == Shape::kScalar) {
    if (SplitTopLevel(s, ',').size() > 1) {
      p.shape = Shape::kBare;
      inner = s;
    } else {
      p.elements.push_back(CanonElement(s));
      return p;
    }
  }
  for (std::string_view part : SplitTopLevel(inner, ',')) p.elements.push_back(CanonElement(part));
  return p;
}

// ---------------------------------------------------------------------------------------------------------------
// Numbers.

struct Number {
  bool exact = false;  // p/q holds the value exactly
  Wide p = 0, q = 1;   // q > 0
  long double value = 0;
  std::string integer;  // canonical digits (with '-') when the text was a plain integer, any size
  bool percent = false;
};

// An integer power base^exp (exp up to 2 digits, braces allowed) whose value stays below 1e17, exactly.
std::optional<Number> ParsePower(bool negative, std::string_view base, std::string_view exp) {
  if (exp.size() >= 2 && exp.front() == '{' && exp.back() == '}') exp = exp.substr(1, exp.size() - 2);
  if (exp.empty() || exp.size() > 2 || base.size() > kMaxExactDigits) return std::nullopt;
  int e = 0;
  for (char c : exp) {
    if (!IsDigit(c)) return std::nullopt;
    e = e * 10 + (c - '0');
  }
  Wide b = 0;
  for (char c : base) b = b * 10 + (c - '0');
  const Wide limit = static_cast<Wide>(100000000000000000LL);  // 1e17
  Wide v = 1;
  for (int k = 0; k < e; ++k) {
    v *= b;
    if (v >= limit) return std::nullopt;
  }
  Number n;
  n.exact = true;
  n.p = negative ? -v : v;
  n.value = static_cast<long double>(n.p);
  n.integer = std::to_string(static_cast<long long>(n.p));
  return n;
}

// Parses an unsigned or signed real: [+-]digits[.digits][e±d | *10^d | *10^{d}], optionally in parentheses.
std::optional<Number> ParseReal(std::string_view s) {
  if (s.size() >= 2 && s.front() == '(' && s.back() == ')') s = s.substr(1, s.size() - 2);
  bool negative = false;
  size_t i = 0;
  while (i < s.size() && (s[i] == '-' || s[i] == '+')) {
    if (s[i] == '-') negative = !negative;
    ++i;
  }
  size_t int_start = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  std::string_view int_part = s.substr(int_start, i - int_start);
  std::string_view frac_part;
  bool has_point = false;
  if (i < s.size() && s[i] == '.') {
    has_point = true;
    size_t f = ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    frac_part = s.substr(f, i - f);
  }
  if (int_part.empty() && frac_part.empty()) return std::nullopt;
  long exponent = 0;
  bool has_exponent = false;
  if (i < s.size()) {
    std::string_view rest = s.substr(i);
    std::string_view digits;
    if (rest.front() == '^' && !has_point && !int_part.empty()) return ParsePower(negative, int_part, rest.substr(1));
    if (rest.front() == 'e') {
      digits = rest.substr(1);
    } else if (rest.substr(0, 4) == "*10^") {
      digits = rest.substr(4);
      if (digits.size() >= 2 && digits.front() == '{' && digits.back() == '}') {
        digits = digits.substr(1, digits.size() - 2);
      }
    } else {
      return std::nullopt;
    }
    bool exp_negative = false;
    if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) {
      exp_negative = digits.front() == '-';
      digits.remove_prefix(1);
    }
    if (digits.empty() || digits.size() > 4) return std::nullopt;
    for (char c : digits) {
      if (!IsDigit(c)) return std::nullopt;
      exponent = exponent * 10 + (c - '0');
    }
    if (exp_negative) exponent = -exponent;
    has_exponent = true;
  }
  Number n;
  std::string text(int_part.empty() ? "0" : std::string(int_part));
  if (has_point) {
    text += '.';
    text.append(frac_part);
  }
  n.value = std::strtold(text.c_str(), nullptr) * std::pow(10.0L, static_cast<long double>(exponent));
  if (negative) n.value = -n.value;
  if (!has_point && !has_exponent) {
    std::string_view digits = int_part;
    while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
    if (negative && digits != "0") n.integer.push_back('-');
    n.integer.append(digits);
    if (digits.size() <= kMaxExactDigits) {
      n.exact = true;
      Wide v = 0;
      for (char c : digits) v = v * 10 + (c - '0');
      n.p = negative ? -v : v;
    }
  }
  return n;
}

std::optional<Number> ParseNumber(std::string_view s) {
  Number result;
  bool percent = false;
  if (!s.empty() && s.back() == '%') {
    percent = true;
    s.remove_suffix(1);
  }
  std::vector<std::string_view> parts = SplitTopLevel(s, '/');
  if (parts.size() == 1) {
    std::optional<Number> n = ParseReal(s);
    if (!n) return std::nullopt;
    result = *n;
  } else if (parts.size() == 2) {
    std::optional<Number> a = ParseReal(parts[0]);
    std::optional<Number> b = ParseReal(parts[1]);
    if (!a || !b || b->value == 0) return std::nullopt;
    result.value = a->value / b->value;
    if (a->exact && b->exact) {
      result.exact = true;
      result.p = a->p * b->q;
      result.q = a->q * b->p;
      if (result.q < 0) {
        result.p = -result.p;
        result.q = -result.q;
      }
    }
  } else {
    return std::nullopt;
  }
  result.percent = percent;
  return result;
}

bool SameValue(const Number& a, const Number& b) {
  if (!a.integer.empty() && !b.integer.empty()) return a.integer == b.integer;
  if (a.exact && b.exact) return a.p * b.q == b.p * a.q;
  if (a.value == b.value) return true;
  if (!std::isfinite(a.value) || !std::isfinite(b.value)) return false;
  long double scale = std::max(std::fabs(a.value), std::fabs(b.value));
  return std::fabs(a.value - b.value) <= kRelTolerance * scale;
}

// The readings of a number: itself, plus p/100 when written as a percentage.
std::vector<Number> Readings(const Number& n) {
  Number plain = n;
  plain.percent = false;
  std::vector<Number> out = {plain};
  if (n.percent) {
    Number hundredth = plain;
    hundredth.integer.clear();
    hundredth.value /= 100;
    if (hundredth.exact) hundredth.q *= 100;
    out.push_back(hundredth);
  }
  return out;
}

bool ElementsEquivalent(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return false;
  if (a == b) return true;
  std::optional<Number> na = ParseNumber(a);
  std::optional<Number> nb = ParseNumber(b);
  if (!na || !nb) return false;
  for (const Number& x : Readings(*na)) {
    for (const Number& y : Readings(*nb)) {
      if (SameValue(x, y)) return true;
    }
  }
  return false;
}

bool Ordered(const Parsed& a, const Parsed& b) {
  if (a.elements.size() != b.elements.size()) return false;
  for (size_t i = 0; i < a.elements.size(); ++i) {
    if (!ElementsEquivalent(a.elements[i], b.elements[i])) return false;
  }
  return true;
}

bool Unordered(const Parsed& a, const Parsed& b) {
  if (a.elements.size() != b.elements.size()) return false;
  std::vector<bool> used(b.elements.size(), false);
  for (const std::string& x : a.elements) {
    bool found = false;
    for (size_t j = 0; j < b.elements.size() && !found; ++j) {
      if (!used[j] && ElementsEquivalent(x, b.elements[j])) found = used[j] = true;
    }
    if (!found) return false;
  }
  return true;
}

// The option letter when `answer` starts with "(X)" or "X)" followed by more text ("(B) 12"), else 0.
char LeadingChoice(std::string_view answer) {
  std::string prepared = PrepareLatex(answer);
  std::string_view s = StripSentence(prepared);
  if (!s.empty() && s.front() == '(') s.remove_prefix(1);
  if (s.size() < 3 || s[1] != ')' || !IsSpace(s[2])) return 0;
  char letter = answer_internal::Lower(s[0]);
  return letter >= 'a' && letter <= 'j' ? letter : 0;
}

// True when one side is a bare option letter and the other starts with that option: "B" vs "(B) 12".
bool ChoiceMatches(const Parsed& letter_side, std::string_view other) {
  if (letter_side.shape != Shape::kScalar || letter_side.elements[0].size() != 1) return false;
  char letter = letter_side.elements[0][0];
  return letter >= 'a' && letter <= 'j' && LeadingChoice(other) == letter;
}

}  // namespace

std::string_view AnswerSourceName(AnswerSource source) {
  switch (source) {
    case AnswerSource::kBoxed: return "boxed";
    case AnswerSource::kFbox: return "fbox";
    case AnswerSource::kLastNumber: return "last_number";
    case AnswerSource::kNone: break;
  }
  return "none";
}

std::string LastBoxedContent(std::string_view text) { return LastBox(text).content; }

ExtractedAnswer ExtractFinalAnswer(std::string_view text) {
  BoxHit box = LastBox(text);
  if (box.source != AnswerSource::kNone) return {std::move(box.content), box.source};
  std::string number = LastNumber(text);
  if (!number.empty()) return {std::move(number), AnswerSource::kLastNumber};
  return {};
}

std::string NormalizeAnswer(std::string_view answer) {
  std::string boxed = LastBoxedContent(answer);
  Parsed p = ParseAnswer(boxed.empty() ? answer : std::string_view(boxed));
  std::string joined;
  for (size_t i = 0; i < p.elements.size(); ++i) {
    if (i > 0) joined += ',';
    joined += p.elements[i];
  }
  switch (p.shape) {
    case Shape::kScalar:
    case Shape::kBare: return joined;
    case Shape::kSet: return "{" + joined + "}";
    case Shape::kBracketed: return std::string(1, p.open) + joined + std::string(1, p.close);
  }
  return joined;
}

bool AnswersEquivalent(std::string_view candidate, std::string_view ground_truth) {
  std::string cbox = LastBoxedContent(candidate);
  std::string tbox = LastBoxedContent(ground_truth);
  std::string_view cv = cbox.empty() ? candidate : std::string_view(cbox);
  std::string_view tv = tbox.empty() ? ground_truth : std::string_view(tbox);
  Parsed c = ParseAnswer(cv);
  Parsed t = ParseAnswer(tv);
  auto is_unordered = [](Shape s) { return s == Shape::kSet || s == Shape::kBare; };
  auto is_tuple = [](const Parsed& p) { return p.shape == Shape::kBracketed && p.open == '(' && p.close == ')'; };
  if (ChoiceMatches(c, tv) || ChoiceMatches(t, cv)) return true;
  if (c.shape == Shape::kScalar || t.shape == Shape::kScalar) {
    return c.shape == t.shape && ElementsEquivalent(c.elements[0], t.elements[0]);
  }
  if (is_unordered(c.shape) && is_unordered(t.shape)) return Unordered(c, t);
  if (c.shape == Shape::kBracketed && t.shape == Shape::kBracketed) {
    return c.open == t.open && c.close == t.close && Ordered(c, t);
  }
  if ((c.shape == Shape::kBare && is_tuple(t)) || (t.shape == Shape::kBare && is_tuple(c))) return Ordered(c, t);
  return false;
}

}  // namespace distill::data
