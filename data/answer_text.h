// Internal text helpers of the answer grader (data/answer_grader.cc): bracket matching, number spans and the
// normalisation stages. Not a public API; see data/answer_grader.h for the rules.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace distill::data::answer_internal {

inline constexpr size_t kNpos = std::string_view::npos;

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// `s` without leading and trailing ASCII whitespace.
std::string_view Trim(std::string_view s);

// Index of the '}' matching the '{' at `open` (escaped \{ \} skipped), or npos.
size_t MatchBrace(std::string_view s, size_t open);

// Index of the closer matching the bracket at `open`, any of ( [ { opening and ) ] } closing, or npos.
size_t MatchBracket(std::string_view s, size_t open);

// Splits at `sep` outside any bracket.
std::vector<std::string_view> SplitTopLevel(std::string_view s, char sep);

// Length of the number starting at `i` (0 when none): [-]digits with optional 1,234 groups, decimals, /digits.
size_t MatchNumber(std::string_view s, size_t i);

// Stage 1 on a whole answer: Unicode math symbols to LaTeX/ASCII, $ and spacing commands dropped, \text-like
// wrappers and \boxed unwrapped, \frac/\sqrt arguments braced, \cdot/\times to *, \{ \} to braces. Spaces kept.
std::string PrepareLatex(std::string_view answer);

// Removes "The answer is"/"Answer:" prefixes and trailing periods.
std::string_view StripSentence(std::string_view s);

// Removes a leading "x =", "x_1 =", "\theta =", "x \in" when the rest has no other '='.
std::string_view StripVariablePrefix(std::string_view s);

// Strips unit words after a number ("5 cm", "12 square units", "9 m^2"); "40 percent" becomes "40%".
std::string StripUnits(std::string_view s);

// True when `s` is one number written with thousands separators (-12,345.67, 1,000%).
bool IsGroupedNumber(std::string_view s);

// Canonical text of one element (stage 2): prefixes/units stripped, separators removed, spaces removed,
// lower-cased outside command names, ^{x} → ^x, \frac{a}{b} → a/b, implicit '*' dropped, wrapping brackets
// and multiple-choice decorations removed.
std::string CanonElement(std::string_view raw);

}  // namespace distill::data::answer_internal
