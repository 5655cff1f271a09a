#include "tokenizers/json_fast.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

namespace distill::tok {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 512;

void AppendUtf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// The first '"', '\\' or control character in [p, end), or end: eight bytes a step while none is in them (trace
// lines are mostly long runs of plain text).
const char* ScanPlain(const char* p, const char* end) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  auto has_byte = [](uint64_t w, uint8_t b) {
    const uint64_t x = w ^ (kOnes * b);
    return (x - kOnes) & ~x & kHighs;
  };
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    const uint64_t below_space = (w - kOnes * 0x20) & ~w & kHighs;  // some byte < 0x20 (exact as a yes/no)
    if (has_byte(w, '"') | has_byte(w, '\\') | below_space) break;
    p += 8;
  }
  while (p != end && *p != '"' && *p != '\\' && static_cast<unsigned char>(*p) >= 0x20) ++p;
  return p;
}

}  // namespace

bool JsonReader::ValueAt(json& out, int depth) {
  SkipSpace();
  if (p_ == end_) return false;
  switch (*p_) {
    case '{':
      if (depth + 1 > kMaxDepth) return false;
      out = json::object();
      return ForEachMember([&](const std::string& key) {
        json value;
        if (!ValueAt(value, depth + 1)) return false;
        out[key] = std::move(value);  // a repeated key replaces the earlier value, as in nlohmann
        return true;
      });
    case '[':
      if (depth + 1 > kMaxDepth) return false;
      out = json::array();
      return ForEachElement([&] {
        json value;
        if (!ValueAt(value, depth + 1)) return false;
        out.push_back(std::move(value));
        return true;
      });
    case '"': {
      std::string s;
      if (!QuotedString(s)) return false;
      out = std::move(s);
      return true;
    }
    case 't': out = true; return Literal("true");
    case 'f': out = false; return Literal("false");
    case 'n': out = nullptr; return Literal("null");
    default: return Number(out);
  }
}

bool JsonReader::SkipAt(int depth) {
  SkipSpace();
  if (p_ == end_) return false;
  switch (*p_) {
    case '{': {
      if (depth + 1 > kMaxDepth) return false;
      return ForEachMember([&](const std::string&) { return SkipAt(depth + 1); });
    }
    case '[':
      if (depth + 1 > kMaxDepth) return false;
      return ForEachElement([&] { return SkipAt(depth + 1); });
    case '"': return QuotedString(skipped_);
    case 't': return Literal("true");
    case 'f': return Literal("false");
    case 'n': return Literal("null");
    default: {
      json number;
      return Number(number);
    }
  }
}

bool JsonReader::String(std::string& out) {
  SkipSpace();
  return p_ != end_ && *p_ == '"' && QuotedString(out);
}

bool JsonReader::Int64(int64_t& out) {
  SkipSpace();
  json value;
  if (!Number(value)) return false;
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return false;
    out = static_cast<int64_t>(u);
    return true;
  }
  if (!value.is_number_integer()) return false;
  out = value.get<int64_t>();
  return true;
}

bool JsonReader::Literal(std::string_view word) {
  if (static_cast<size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0) return false;
  p_ += word.size();
  return true;
}

bool JsonReader::Hex4(uint32_t& value) {
  if (end_ - p_ < 4) return false;
  value = 0;
  for (int i = 0; i < 4; ++i) {
    const char c = *p_++;
    value <<= 4;
    if (c >= '0' && c <= '9') value |= static_cast<uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f') value |= static_cast<uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') value |= static_cast<uint32_t>(c - 'A' + 10);
    else return false;
  }
  return true;
}

// A string starting at the opening quote; runs without escapes are appended in one copy.
bool JsonReader::QuotedString(std::string& out) {
  ++p_;  // '"'
  out.clear();
  for (;;) {
    const char* run = p_;
    p_ = ScanPlain(p_, end_);
    out.append(run, p_);
    if (p_ == end_ || static_cast<unsigned char>(*p_) < 0x20) return false;
    if (*p_++ == '"') return true;
    if (p_ == end_) return false;
    switch (*p_++) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        uint32_t cp;
        if (!Hex4(cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a low surrogate alone
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t low;
          if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
          p_ += 2;
          if (!Hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        AppendUtf8(out, cp);
        break;
      }
      default: return false;
    }
  }
}

bool JsonReader::Number(json& out) {
  const char* start = p_;
  bool negative = false;
  if (p_ != end_ && *p_ == '-') {
    negative = true;
    ++p_;
  }
  auto digits = [&] {
    const char* d = p_;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ - d;
  };
  if (p_ == end_) return false;
  if (*p_ == '0') {
    ++p_;
  } else if (digits() == 0) {
    return false;
  }
  bool integer = true;
  if (p_ != end_ && *p_ == '.') {
    ++p_;
    integer = false;
    if (digits() == 0) return false;
  }
  if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
    ++p_;
    integer = false;
    if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
    if (digits() == 0) return false;
  }
  if (integer) {
    if (negative) {
      int64_t v;
      if (auto r = std::from_chars(start, p_, v); r.ec == std::errc() && r.ptr == p_) {
        out = v;
        return true;
      }
    } else {
      uint64_t v;
      if (auto r = std::from_chars(start, p_, v); r.ec == std::errc() && r.ptr == p_) {
        out = v;
        return true;
      }
    }
  }
  // Fractions, exponents and integers too large for 64 bits become doubles, as in nlohmann.
  double v;
  auto r = std::from_chars(start, p_, v);
  if (r.ptr != p_) return false;
  if (r.ec == std::errc::result_out_of_range) {
    // Underflow is a valid (tiny or zero) number to nlohmann, overflow to infinity an error: follow strtod.
    v = std::strtod(std::string(start, p_).c_str(), nullptr);
    if (!std::isfinite(v)) return false;
  }
  out = v;
  return true;
}

std::optional<json> ParseJsonFast(std::string_view text) {
  JsonReader reader(text);
  json value;
  if (!reader.Value(value) || !reader.AtEnd()) return std::nullopt;
  return value;
}

}  // namespace distill::tok
