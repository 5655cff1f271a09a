#include "data/text_scan.h"

#include <utf8proc.h>

#include <algorithm>

namespace distill::data::text_scan {
namespace {

struct Range {
  uint32_t lo, hi;
  Script script;
};

constexpr Range kRanges[] = {
    {0x0041, 0x005A, Script::kLatin},  {0x0061, 0x007A, Script::kLatin},    {0x00C0, 0x02AF, Script::kLatin},
    {0x0370, 0x03FF, Script::kGreek},  {0x0400, 0x052F, Script::kCyrillic}, {0x0590, 0x05FF, Script::kHebrew},
    {0x0600, 0x06FF, Script::kArabic}, {0x0750, 0x077F, Script::kArabic},   {0x0900, 0x097F, Script::kDevanagari},
    {0x0E00, 0x0E7F, Script::kThai},   {0x1100, 0x11FF, Script::kHangul},   {0x1E00, 0x1EFF, Script::kLatin},
    {0x1F00, 0x1FFF, Script::kGreek},  {0x2C60, 0x2C7F, Script::kLatin},    {0x3040, 0x30FF, Script::kKana},
    {0x3130, 0x318F, Script::kHangul}, {0x31F0, 0x31FF, Script::kKana},     {0x3400, 0x4DBF, Script::kHan},
    {0x4E00, 0x9FFF, Script::kHan},    {0xA720, 0xA7FF, Script::kLatin},    {0xAC00, 0xD7AF, Script::kHangul},
    {0xF900, 0xFAFF, Script::kHan},    {0xFB50, 0xFDFF, Script::kArabic},   {0xFE70, 0xFEFF, Script::kArabic},
    {0xFF21, 0xFF3A, Script::kLatin},  {0xFF41, 0xFF5A, Script::kLatin},    {0xFF66, 0xFF9D, Script::kKana},
    {0x20000, 0x3FFFF, Script::kHan},
};

utf8proc_category_t Category(uint32_t cp) { return utf8proc_category(static_cast<utf8proc_int32_t>(cp)); }

// End of the span starting at `from` that closes with `close`, or npos.
size_t SpanEnd(std::string_view s, size_t from, std::string_view close) {
  size_t end = s.find(close, from);
  return end == std::string_view::npos ? end : end + close.size();
}

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

std::string_view ScriptName(Script script) {
  switch (script) {
    case Script::kNone: return "none";
    case Script::kLatin: return "latin";
    case Script::kGreek: return "greek";
    case Script::kCyrillic: return "cyrillic";
    case Script::kArabic: return "arabic";
    case Script::kHebrew: return "hebrew";
    case Script::kDevanagari: return "devanagari";
    case Script::kThai: return "thai";
    case Script::kHangul: return "hangul";
    case Script::kKana: return "kana";
    case Script::kHan: return "han";
    case Script::kOther: return "other";
  }
  return "other";
}

Script ScriptOf(uint32_t cp) {
  for (const Range& r : kRanges) {
    if (cp >= r.lo && cp <= r.hi) return r.script;
  }
  return Script::kOther;
}

bool IsAlphabetic(Script script) {
  return script != Script::kHan && script != Script::kKana && script != Script::kThai && script != Script::kNone;
}

uint32_t NextCodePoint(std::string_view s, size_t* i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b = byte(*i);
  int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || *i + static_cast<size_t>(len) > s.size()) {
    ++*i;
    return 0xFFFD;
  }
  uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1Fu) : len == 3 ? (b & 0x0Fu) : (b & 0x07u);
  for (int k = 1; k < len; ++k) {
    unsigned char c = byte(*i + static_cast<size_t>(k));
    if ((c & 0xC0) != 0x80) {
      ++*i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (c & 0x3Fu);
  }
  *i += static_cast<size_t>(len);
  return cp > 0x10FFFF ? 0xFFFD : cp;
}

int64_t CodePointCount(std::string_view s) {
  int64_t n = 0;
  size_t i = 0;
  while (i < s.size()) {
    NextCodePoint(s, &i);
    ++n;
  }
  return n;
}

bool IsLetter(uint32_t cp) {
  utf8proc_category_t c = Category(cp);
  return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

bool IsMark(uint32_t cp) {
  utf8proc_category_t c = Category(cp);
  return c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME;
}

bool IsNumber(uint32_t cp) {
  utf8proc_category_t c = Category(cp);
  return c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO;
}

bool IsPunctOrSymbol(uint32_t cp) {
  utf8proc_category_t c = Category(cp);
  return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_SO;
}

bool IsSeparator(uint32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v' || cp == 0x85) return true;
  utf8proc_category_t c = Category(cp);
  return c >= UTF8PROC_CATEGORY_ZS && c <= UTF8PROC_CATEGORY_ZP;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  utf8proc_uint8_t buf[4];
  utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
  out->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

void AppendLower(uint32_t cp, std::string* out) {
  AppendUtf8(static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))), out);
}

std::string StripMathAndCode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    std::string_view rest = text.substr(i);
    size_t end = std::string_view::npos;
    if (rest.substr(0, 3) == "```") {
      end = SpanEnd(text, i + 3, "```");
      if (end == std::string_view::npos) end = text.size();
    } else if (rest.substr(0, 2) == "$$") {
      end = SpanEnd(text, i + 2, "$$");
    } else if (rest.substr(0, 2) == "\\[") {
      end = SpanEnd(text, i + 2, "\\]");
    } else if (rest.substr(0, 2) == "\\(") {
      end = SpanEnd(text, i + 2, "\\)");
    } else if (rest.front() == '$') {
      end = SpanEnd(text, i + 1, "$");
    } else if (rest.front() == '`') {
      end = SpanEnd(text, i + 1, "`");
    } else if (rest.front() == '\\') {
      end = i + 1;
      while (end < text.size() && IsAsciiAlpha(text[end])) ++end;
      if (end == i + 1) ++end;
    }
    if (end == std::string_view::npos) end = i + 1;  // unmatched opener: drop just it
    if (end > i + 1 || rest.front() == '$' || rest.front() == '`' || rest.front() == '\\') {
      out += ' ';
      i = std::min(end, text.size());
      continue;
    }
    out += text[i];
    ++i;
  }
  return out;
}

}  // namespace distill::data::text_scan
