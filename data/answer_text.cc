#include "data/answer_text.h"

#include <algorithm>
#include <array>
#include <optional>

namespace distill::data::answer_internal {
namespace {

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (Lower(s[i]) != Lower(prefix[i])) return false;
  }
  return true;
}

void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  size_t pos = 0;
  while ((pos = s->find(from, pos)) != std::string::npos) {
    s->replace(pos, from.size(), to);
    pos += to.size();
  }
}

bool IsTextWrapper(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kWrappers = {"text",       "textbf", "textit", "textrm",
                                                                 "textnormal", "mathrm", "mathbf", "mathit",
                                                                 "mbox",       "emph",   "textsf", "mathsf"};
  return std::find(kWrappers.begin(), kWrappers.end(), name) != kWrappers.end();
}

// Nesting deeper than this is copied verbatim (bounds recursion on degenerate input).
constexpr int kMaxDepth = 64;

std::string Stage1(std::string_view in, int depth);

// Reads a macro argument at `i` ({…} or one non-space character); returns it and moves `i` past it.
std::optional<std::string_view> ReadArg(std::string_view s, size_t* i) {
  while (*i < s.size() && IsSpace(s[*i])) ++*i;
  if (*i >= s.size()) return std::nullopt;
  if (s[*i] == '{') {
    size_t close = MatchBrace(s, *i);
    if (close == kNpos) return std::nullopt;
    std::string_view arg = s.substr(*i + 1, close - *i - 1);
    *i = close + 1;
    return arg;
  }
  if (s[*i] == '\\') {  // \frac\pi2: a command as the argument
    size_t j = *i + 1;
    while (j < s.size() && IsAlpha(s[j])) ++j;
    if (j == *i + 1) ++j;
    std::string_view arg = s.substr(*i, j - *i);
    *i = j;
    return arg;
  }
  std::string_view arg = s.substr(*i, 1);
  ++*i;
  return arg;
}

std::string Stage1(std::string_view in, int depth) {
  if (depth > kMaxDepth) return std::string(in);
  std::string out;
  size_t i = 0;
  while (i < in.size()) {
    char c = in[i];
    if (c == '$') {
      ++i;
      continue;
    }
    if (c != '\\') {
      out += c;
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < in.size() && IsAlpha(in[j])) ++j;
    std::string_view name = in.substr(i + 1, j - i - 1);
    if (name.empty()) {  // one-character command: \, \! \; \: \  \$ \% \{ \}
      if (j >= in.size()) break;
      char sym = in[j];
      if (sym == '%') out += '%';
      if (sym == '{') out += '{';
      if (sym == '}') out += '}';
      if (sym == ' ') out += ' ';
      if (sym == '\\') out += ' ';  // line break
      i = j + 1;
      continue;
    }
    i = j;
    if (name == "left" || name == "right" || name == "big" || name == "Big" || name == "bigl" || name == "bigr" ||
        name == "Bigl" || name == "Bigr" || name == "displaystyle" || name == "textstyle") {
      if (i < in.size() && in[i] == '.') ++i;  // \left. is an invisible delimiter
      continue;
    }
    if (name == "quad" || name == "qquad") {
      out += ' ';
      continue;
    }
    if (name == "circ" || name == "degree") continue;
    if (name == "cdot" || name == "times") {
      out += '*';
      continue;
    }
    if (name == "le" || name == "leq") {
      out += "<=";
      continue;
    }
    if (name == "ge" || name == "geq") {
      out += ">=";
      continue;
    }
    if (name == "ne" || name == "neq") {
      out += "!=";
      continue;
    }
    if (name == "boxed" || name == "fbox" || IsTextWrapper(name)) {
      size_t k = i;
      while (k < in.size() && IsSpace(in[k])) ++k;
      if (k < in.size() && in[k] == '{') {
        std::optional<std::string_view> arg = ReadArg(in, &i);
        if (arg) out += Stage1(*arg, depth + 1);
      }
      continue;
    }
    if (name == "frac" || name == "dfrac" || name == "tfrac" || name == "cfrac") {
      size_t k = i;
      std::optional<std::string_view> num = ReadArg(in, &k);
      std::optional<std::string_view> den = num ? ReadArg(in, &k) : std::nullopt;
      if (num && den) {
        out += "\\frac{" + Stage1(*num, depth + 1) + "}{" + Stage1(*den, depth + 1) + "}";
        i = k;
      } else {
        out += "\\frac";
      }
      continue;
    }
    if (name == "sqrt") {
      std::string index;
      size_t k = i;
      if (k < in.size() && in[k] == '[') {
        size_t close = in.find(']', k);
        if (close != kNpos) {
          index = "[" + Stage1(in.substr(k + 1, close - k - 1), depth + 1) + "]";
          k = close + 1;
        }
      }
      std::optional<std::string_view> arg = ReadArg(in, &k);
      if (arg) {
        out += "\\sqrt" + index + "{" + Stage1(*arg, depth + 1) + "}";
        i = k;
      } else {
        out += "\\sqrt";
      }
      continue;
    }
    out += '\\';
    out += name;
  }
  return out;
}

std::string ReplaceUnicode(std::string_view in) {
  std::string s(in);
  ReplaceAll(&s, "\xE2\x88\x92", "-");         // − minus sign
  ReplaceAll(&s, "\xE2\x88\x9A", "\\sqrt ");   // √
  ReplaceAll(&s, "\xCF\x80", "\\pi ");         // π
  ReplaceAll(&s, "\xE2\x88\x9E", "\\infty ");  // ∞
  ReplaceAll(&s, "\xC3\x97", "*");             // ×
  ReplaceAll(&s, "\xC2\xB7", "*");             // ·
  ReplaceAll(&s, "\xE2\x8B\x85", "*");         // ⋅
  ReplaceAll(&s, "\xC2\xB0", "");              // °
  ReplaceAll(&s, "\xE2\x89\xA4", "<=");        // ≤
  ReplaceAll(&s, "\xE2\x89\xA5", ">=");        // ≥
  ReplaceAll(&s, "\xC2\xA0", " ");             // no-break space
  ReplaceAll(&s, "\xE2\x80\xAF", " ");         // narrow no-break space
  ReplaceAll(&s, "^{\\circ}", "");
  ReplaceAll(&s, "^\\circ", "");
  ReplaceAll(&s, "{,}", ",");  // 1{,}000
  ReplaceAll(&s, "\\dfrac", "\\frac");
  ReplaceAll(&s, "\\tfrac", "\\frac");
  return s;
}

bool IsUnitWord(std::string_view w) {
  static constexpr std::array<std::string_view, 64> kUnits = {
      "cm",         "mm",        "km",     "m",      "meter",   "metre", "centimeter", "centimetre",
      "millimeter", "kilometer", "inch",   "inches", "in",      "foot",  "feet",       "ft",
      "yard",       "yd",        "mile",   "mi",     "kg",      "gram",  "kilogram",   "mg",
      "pound",      "lb",        "lbs",    "ounce",  "oz",      "ton",   "second",     "sec",
      "minute",     "min",       "hour",   "hr",     "h",       "day",   "week",       "month",
      "year",       "dollar",    "cent",   "euro",   "degree",  "deg",   "radian",     "rad",
      "unit",       "square",    "sq",     "cubic",  "liter",   "litre", "ml",         "gallon",
      "mph",        "kmh",       "people", "person", "student", "way",   "time",       "point"};
  if (std::find(kUnits.begin(), kUnits.end(), w) != kUnits.end()) return true;
  if (w.size() > 2 && w.back() == 's') {
    std::string_view stem = w.substr(0, w.size() - 1);
    if (std::find(kUnits.begin(), kUnits.end(), stem) != kUnits.end()) return true;
    if (stem == "inche") return true;
  }
  return false;
}

bool IsSimpleAtom(std::string_view s) {
  if (s.empty()) return false;
  size_t start = s.front() == '-' ? 1 : 0;
  for (size_t i = start; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+' || c == '-' || c == '*' || c == '/' || c == '(' || c == ')' || c == ',' || c == '=' || c == '^') {
      return false;
    }
  }
  return start < s.size();
}

// \frac{A}{B} → A/B, parenthesising non-atomic parts; a fraction glued to a preceding digit or letter (mixed
// number, 2\frac{\pi}{3}) is parenthesised as a whole so it cannot fuse into another number.
std::string CanonFractions(std::string_view s, int depth = 0) {
  if (depth > kMaxDepth) return std::string(s);
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s.substr(i, 6) == "\\frac{") {
      size_t num_close = MatchBrace(s, i + 5);
      if (num_close != kNpos && num_close + 1 < s.size() && s[num_close + 1] == '{') {
        size_t den_close = MatchBrace(s, num_close + 1);
        if (den_close != kNpos) {
          std::string num = CanonFractions(s.substr(i + 6, num_close - i - 6), depth + 1);
          std::string den = CanonFractions(s.substr(num_close + 2, den_close - num_close - 2), depth + 1);
          std::string frac = (IsSimpleAtom(num) ? num : "(" + num + ")") + "/" +
                             (IsSimpleAtom(den) && den.front() != '-' ? den : "(" + den + ")");
          bool glued = !out.empty() && (IsDigit(out.back()) || IsAlpha(out.back()) || out.back() == '}');
          out += glued ? "(" + frac + ")" : frac;
          i = den_close + 1;
          continue;
        }
      }
    }
    out += s[i];
    ++i;
  }
  return out;
}

}  // namespace

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Index of the '}' matching the '{' at `open`, or npos.
size_t MatchBrace(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
      ++i;  // escaped brace: literal, not structure
      continue;
    }
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  return kNpos;
}

// Index of the closer matching the bracket at `open`, treating ( [ { as openers and ) ] } as closers (so
// half-open intervals like (1,2] match), or npos.
size_t MatchBracket(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if ((c == ')' || c == ']' || c == '}') && --depth == 0) return i;
  }
  return kNpos;
}

// Splits at commas outside any bracket.
std::vector<std::string_view> SplitTopLevel(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '(' || c == '[' || c == '{') ++depth;
    if (c == ')' || c == ']' || c == '}') --depth;
    if (c == sep && depth == 0) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

// Length of the number starting at `i` (0 when none): [-]digits with optional 1,234 groups, decimals and /digits.
size_t MatchNumber(std::string_view s, size_t i) {
  size_t j = i;
  if (j < s.size() && s[j] == '-') ++j;
  size_t digits_start = j;
  while (j < s.size() && IsDigit(s[j])) ++j;
  size_t head = j - digits_start;
  if (head >= 1 && head <= 3) {
    size_t k = j;
    bool grouped = false;
    while (k + 3 < s.size() && s[k] == ',' && IsDigit(s[k + 1]) && IsDigit(s[k + 2]) && IsDigit(s[k + 3]) &&
           (k + 4 >= s.size() || !IsDigit(s[k + 4]))) {
      k += 4;
      grouped = true;
    }
    if (grouped) j = k;
  }
  bool has_int = j > digits_start;
  bool decimal = false;
  if (j + 1 < s.size() && s[j] == '.' && IsDigit(s[j + 1])) {
    ++j;
    while (j < s.size() && IsDigit(s[j])) ++j;
    decimal = true;
  }
  if (!has_int && !decimal) return 0;
  if (!decimal && j + 1 < s.size() && s[j] == '/' && IsDigit(s[j + 1])) {
    ++j;
    while (j < s.size() && IsDigit(s[j])) ++j;
  }
  return j - i;
}

// ---------------------------------------------------------------------------------------------------------------
// Normalisation, stage 1: whole answer, spaces kept (they matter for units and thousands separators).

// Removes "The answer is", "Answer:" … prefixes and a trailing period.
std::string_view StripSentence(std::string_view s) {
  static constexpr std::array<std::string_view, 10> kPrefixes = {
      "the final answer is", "final answer is", "the answer is", "answer is", "final answer:", "answer:",
      "therefore,",          "therefore",       "thus,",         "so,"};
  bool changed = true;
  while (changed) {
    changed = false;
    s = Trim(s);
    for (std::string_view p : kPrefixes) {
      if (StartsWithNoCase(s, p)) {
        s.remove_prefix(p.size());
        s = Trim(s);
        if (!s.empty() && s.front() == ':') s.remove_prefix(1);
        changed = true;
      }
    }
    if (!s.empty() && s.back() == '.') {
      s.remove_suffix(1);
      changed = true;
    }
  }
  return s;
}

// Removes a leading "x =", "x_1 =", "\theta =", "x \in" when the rest has no other '='.
std::string_view StripVariablePrefix(std::string_view s) {
  s = Trim(s);
  size_t i = 0;
  if (i < s.size() && IsAlpha(s[i])) {
    ++i;
    if (i < s.size() && s[i] == '_') {
      ++i;
      if (i < s.size() && s[i] == '{') {
        size_t close = MatchBrace(s, i);
        if (close == kNpos) return s;
        i = close + 1;
      } else if (i < s.size() && (IsAlpha(s[i]) || IsDigit(s[i]))) {
        ++i;
      }
    }
  } else if (i < s.size() && s[i] == '\\') {
    ++i;
    while (i < s.size() && IsAlpha(s[i])) ++i;
    if (i == 1 || s.substr(1, i - 1) == "frac" || s.substr(1, i - 1) == "sqrt") return s;
  } else {
    return s;
  }
  while (i < s.size() && IsSpace(s[i])) ++i;
  std::string_view rest;
  if (i < s.size() && s[i] == '=') {
    rest = s.substr(i + 1);
  } else if (s.substr(i, 3) == "\\in" && (i + 3 >= s.size() || !IsAlpha(s[i + 3]))) {
    rest = s.substr(i + 3);
  } else {
    return s;
  }
  rest = Trim(rest);
  if (rest.empty() || rest.find('=') != kNpos) return s;
  return rest;
}

// Strips unit words (and "percent" → %) that follow a number: "5 cm", "12 square units", "3 m^2", "40 percent".
std::string StripUnits(std::string_view s) {
  std::string_view v = Trim(s);
  size_t cut = v.size();  // everything from `cut` on is unit words
  bool percent = false;
  while (true) {
    std::string_view head = Trim(v.substr(0, cut));
    size_t end = head.size();
    size_t w_end = end;  // optional ^2 / ^{3} after the unit
    if (end >= 2 && head[end - 2] == '^' && IsDigit(head[end - 1])) w_end = end - 2;
    if (end >= 4 && head.substr(end - 4, 2) == "^{" && IsDigit(head[end - 2]) && head[end - 1] == '}') {
      w_end = end - 4;
    }
    size_t w_start = w_end;
    while (w_start > 0 && IsAlpha(head[w_start - 1])) --w_start;
    if (w_start == w_end || w_start == 0 || head[w_start - 1] == '\\') break;
    std::string word;
    for (char c : head.substr(w_start, w_end - w_start)) word += Lower(c);
    bool rightmost = cut == v.size();
    if (rightmost && word == "percent") {
      percent = true;
    } else if (!IsUnitWord(word)) {
      break;
    }
    cut = w_start;
    if (percent) break;
  }
  if (cut == v.size()) return std::string(v);
  std::string_view before = Trim(v.substr(0, cut));
  if (before.empty()) return std::string(v);
  char last = before.back();
  if (!IsDigit(last) && last != '}' && last != '%') return std::string(v);
  std::string out(before);
  if (percent) out += '%';
  return out;
}

// True when `s` is one number written with thousands separators: -12,345.67 or 1,000%.
bool IsGroupedNumber(std::string_view s) {
  s = Trim(s);
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) s.remove_prefix(1);
  if (!s.empty() && s.back() == '%') s.remove_suffix(1);
  size_t len = MatchNumber(s, 0);
  return len == s.size() && s.find(',') != kNpos && s.find('/') == kNpos;
}

std::string CanonElement(std::string_view raw) {
  std::string_view s = StripSentence(raw);
  s = StripVariablePrefix(s);
  std::string t = StripUnits(s);
  if (IsGroupedNumber(t)) t.erase(std::remove(t.begin(), t.end(), ','), t.end());
  // Remove whitespace; lower-case everything except LaTeX command names.
  std::string u;
  for (size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (IsSpace(c)) continue;
    if (c == '\\') {
      u += c;
      while (i + 1 < t.size() && IsAlpha(t[i + 1])) u += t[++i];
      continue;
    }
    u += Lower(c);
  }
  // ^{x} → ^x, _{x} → _x for one-character scripts.
  std::string v;
  for (size_t i = 0; i < u.size(); ++i) {
    if ((u[i] == '^' || u[i] == '_') && i + 3 < u.size() && u[i + 1] == '{' && u[i + 3] == '}') {
      v += u[i];
      v += u[i + 2];
      i += 3;
      continue;
    }
    v += u[i];
  }
  std::string w = CanonFractions(v);
  // Implicit multiplication: drop '*' before a letter, command or bracket (2*\sqrt{3} = 2\sqrt{3}).
  std::string x;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] == '*' && i > 0 && i + 1 < w.size() && (IsAlpha(w[i + 1]) || w[i + 1] == '\\' || w[i + 1] == '(') &&
        (IsDigit(w[i - 1]) || IsAlpha(w[i - 1]) || w[i - 1] == ')' || w[i - 1] == '}')) {
      continue;
    }
    x += w[i];
  }
  // Strip brackets that wrap the whole element when there is no comma inside: (5) → 5, (b) → b, {5} → 5.
  while (x.size() >= 2 && (x.front() == '(' || x.front() == '{') && MatchBracket(x, 0) == x.size() - 1 &&
         x.find(',') == std::string::npos) {
    x = x.substr(1, x.size() - 2);
  }
  if (x == "infinity" || x == "inf") x = "\\infty";
  if (x == "-infinity" || x == "-inf") x = "-\\infty";
  // Multiple choice: "b)", "optionb", "choiceb" → "b".
  if (x.size() == 2 && x[0] >= 'a' && x[0] <= 'j' && (x[1] == ')' || x[1] == '.')) x.resize(1);
  for (std::string_view p : {"option", "choice"}) {
    if (x.size() == p.size() + 1 && x.compare(0, p.size(), p) == 0 && x.back() >= 'a' && x.back() <= 'j') {
      x = x.substr(p.size());
    }
  }
  return x;
}

std::string PrepareLatex(std::string_view answer) { return Stage1(ReplaceUnicode(answer), 0); }

}  // namespace distill::data::answer_internal
