#include "tokenizers/jinja/js_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace distill::tok::jinja {

char32_t DecodeUtf8(std::string_view s, size_t i, size_t* len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  *len = 1;
  if (b0 < 0x80) return b0;
  int n = 0;
  char32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    n = 1;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 2;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 3;
    cp = b0 & 0x07;
  } else {
    return 0xFFFD;
  }
  if (i + static_cast<size_t>(n) >= s.size()) return 0xFFFD;
  for (int k = 1; k <= n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD;
  *len = static_cast<size_t>(n) + 1;
  return cp;
}

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::vector<char32_t> ToCodePoints(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len;
    out.push_back(DecodeUtf8(s, i, &len));
    i += len;
  }
  return out;
}

std::string FromCodePoints(const std::vector<char32_t>& cps, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end && i < cps.size(); ++i) AppendUtf8(out, cps[i]);
  return out;
}

bool IsJsSpace(char32_t c) {
  switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0xA0: case 0x1680: case 0x2028:
    case 0x2029: case 0x202F: case 0x205F: case 0x3000: case 0xFEFF:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

size_t JsSpaceAt(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  size_t len;
  const char32_t c = DecodeUtf8(s, i, &len);
  return IsJsSpace(c) ? len : 0;
}

std::string_view JsTrimView(std::string_view s, bool start, bool end) {
  if (start) {
    size_t i = 0;
    while (size_t n = JsSpaceAt(s, i)) i += n;
    s.remove_prefix(i);
  }
  if (end) {
    // Walk back one code point at a time (continuation bytes are 10xxxxxx), so the cost is the whitespace's, not
    // the string's: rstrip runs on every multi-kilobyte trace in chat templates.
    size_t stop = s.size();
    while (stop > 0) {
      size_t from = stop - 1;
      while (from > 0 && stop - from < 4 && (static_cast<unsigned char>(s[from]) & 0xC0) == 0x80) --from;
      size_t len;
      const char32_t c = DecodeUtf8(s, from, &len);
      if (from + len != stop || !IsJsSpace(c)) break;
      stop = from;
    }
    s = s.substr(0, stop);
  }
  return s;
}

std::string JsTrimStart(std::string_view s) { return std::string(JsTrimView(s, true, false)); }
std::string JsTrimEnd(std::string_view s) { return std::string(JsTrimView(s, false, true)); }
std::string JsTrim(std::string_view s) { return std::string(JsTrimView(s, true, true)); }

size_t Utf16Length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    size_t len;
    const char32_t c = DecodeUtf8(s, i, &len);
    i += len;
    n += c >= 0x10000 ? 2 : 1;
  }
  return n;
}

bool Utf16At(std::string_view s, double index, std::string* out) {
  const double n = static_cast<double>(Utf16Length(s));
  double k = std::trunc(index);
  if (std::isnan(k)) k = 0;
  if (k < 0) k += n;
  if (k < 0 || k >= n) return false;
  size_t target = static_cast<size_t>(k), unit = 0;
  for (size_t i = 0; i < s.size();) {
    size_t len;
    const char32_t c = DecodeUtf8(s, i, &len);
    const size_t w = c >= 0x10000 ? 2 : 1;
    if (target < unit + w) {
      out->clear();
      AppendUtf8(*out, w == 2 ? 0xFFFD : c);
      return true;
    }
    unit += w;
    i += len;
  }
  return false;
}

std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string JsNumberToString(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0) return "0";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string s(buf, r.ptr);
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    s.erase(0, 1);
  }
  const size_t e = s.find('e');
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (s[i] != '.') digits += s[i];
  const int exp = std::atoi(s.c_str() + e + 1);
  const int k = static_cast<int>(digits.size());
  const int n = exp + 1;
  std::string out;
  if (neg) out.push_back('-');
  if (k <= n && n <= 21) {
    out.append(digits);
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<size_t>(n));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(n), std::string::npos);
  } else if (-6 < n && n <= 0) {
    out.append("0.");
    out.append(static_cast<size_t>(-n), '0');
    out.append(digits);
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    out.append(n - 1 >= 0 ? "e+" : "e-");
    out.append(std::to_string(std::abs(n - 1)));
  }
  return out;
}

namespace {
// Longest prefix of s (from i) that is a StrDecimalLiteral without sign; returns its length.
size_t DecimalPrefix(std::string_view s, size_t i) {
  size_t j = i;
  bool digits = false;
  while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j, digits = true;
  if (j < s.size() && s[j] == '.') {
    size_t f = j + 1;
    bool frac = false;
    while (f < s.size() && s[f] >= '0' && s[f] <= '9') ++f, frac = true;
    if (digits || frac) {
      j = f;
      digits = true;
    }
  }
  if (!digits) return 0;
  if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
    size_t x = j + 1;
    if (x < s.size() && (s[x] == '+' || s[x] == '-')) ++x;
    size_t d = x;
    while (d < s.size() && s[d] >= '0' && s[d] <= '9') ++d;
    if (d > x) j = d;
  }
  return j - i;
}
}  // namespace

double JsParseInt(std::string_view s) {
  const std::string t = JsTrimStart(s);
  size_t i = 0;
  double sign = 1;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) sign = t[i++] == '-' ? -1 : 1;
  double v = 0;
  bool any = false;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
    v = v * 10 + (t[i++] - '0');
    any = true;
  }
  return any ? sign * v : std::numeric_limits<double>::quiet_NaN();
}

double JsParseFloat(std::string_view s) {
  const std::string t = JsTrimStart(s);
  size_t i = 0;
  double sign = 1;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) sign = t[i++] == '-' ? -1 : 1;
  if (t.compare(i, 8, "Infinity") == 0) return sign * std::numeric_limits<double>::infinity();
  const size_t n = DecimalPrefix(t, i);
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  return sign * std::strtod(t.substr(i, n).c_str(), nullptr);
}

double JsStringToNumber(std::string_view s) {
  const std::string t = JsTrim(s);
  if (t.empty()) return 0;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X' || t[1] == 'o' || t[1] == 'O' || t[1] == 'b' ||
                                      t[1] == 'B')) {
    const int base = (t[1] == 'x' || t[1] == 'X') ? 16 : (t[1] == 'o' || t[1] == 'O') ? 8 : 2;
    double v = 0;
    for (size_t i = 2; i < t.size(); ++i) {
      int d;
      const char c = t[i];
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else return nan;
      if (d >= base) return nan;
      v = v * base + d;
    }
    return v;
  }
  size_t i = 0;
  double sign = 1;
  if (t[i] == '+' || t[i] == '-') sign = t[i++] == '-' ? -1 : 1;
  if (t.compare(i, std::string::npos, "Infinity") == 0) return sign * std::numeric_limits<double>::infinity();
  const size_t n = DecimalPrefix(t, i);
  if (n == 0 || i + n != t.size()) return nan;
  return sign * std::strtod(t.substr(i, n).c_str(), nullptr);
}

std::string JsonQuote(std::string_view s, bool ensure_ascii) {
  std::string out = "\"";
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    size_t len;
    const char32_t c = DecodeUtf8(s, i, &len);
    i += len;
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (c < 0x20) {
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else if (ensure_ascii && c >= 0x7F) {
      if (c >= 0x10000) {
        const char32_t v = c - 0x10000;
        std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                      static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
      } else {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      }
      out += buf;
    } else {
      AppendUtf8(out, c);
    }
  }
  out += '"';
  return out;
}

}  // namespace distill::tok::jinja
