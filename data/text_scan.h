// Internal helpers of the trace filters: lenient UTF-8 decoding, Unicode categories (utf8proc), script of a
// letter, and removal of math/LaTeX/code spans before counting prose letters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace distill::data::text_scan {

// Writing system of a letter, coarse enough for language-mixing checks.
enum class Script : uint8_t {
  kNone,
  kLatin,
  kGreek,
  kCyrillic,
  kArabic,
  kHebrew,
  kDevanagari,
  kThai,
  kHangul,
  kKana,
  kHan,
  kOther
};
inline constexpr size_t kScriptCount = 12;
static_assert(static_cast<size_t>(Script::kOther) + 1 == kScriptCount, "kScriptCount covers every Script");

// Lower-case name of a script ("latin", "han", …).
std::string_view ScriptName(Script script);

// Script of code point `cp` by block ranges (kOther for letters outside the listed scripts).
Script ScriptOf(uint32_t cp);

// True for scripts written as space-separated words of several letters (one-letter words there are variables).
bool IsAlphabetic(Script script);

// Decodes the code point at *i and advances *i; an invalid byte decodes as U+FFFD and advances by one.
uint32_t NextCodePoint(std::string_view s, size_t* i);

// Number of code points in `s` (lenient decoding as NextCodePoint).
int64_t CodePointCount(std::string_view s);

// Unicode general category tests: L*, M*, N*.
bool IsLetter(uint32_t cp);
bool IsMark(uint32_t cp);
bool IsNumber(uint32_t cp);
// P* or S* (punctuation or symbol).
bool IsPunctOrSymbol(uint32_t cp);
// Z* or an ASCII/Unicode whitespace control.
bool IsSeparator(uint32_t cp);

// Appends the UTF-8 encoding of `cp`.
void AppendUtf8(uint32_t cp, std::string* out);

// Appends the simple lower-case mapping of `cp` in UTF-8.
void AppendLower(uint32_t cp, std::string* out);

// `text` with code (``` fences, `inline`), math ($$…$$, $…$, \[…\], \(…\)) and LaTeX command names replaced by
// spaces, leaving the prose whose letters count for language mixing.
std::string StripMathAndCode(std::string_view text);

}  // namespace distill::data::text_scan
