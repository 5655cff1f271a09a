#include "tokenizers/json_fast.h"

#include <bit>
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

// Bit 7 of each byte of `w` that is '"', '\\' or a control character; exact up to the first such byte (borrows
// only flag bytes above it), so the lowest set bit locates it.
inline uint64_t SpecialBytes(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  auto zero_bytes = [](uint64_t x) { return (x - kOnes) & ~x & kHighs; };
  const uint64_t below_space = (w - kOnes * 0x20) & ~w & kHighs;
  return zero_bytes(w ^ (kOnes * '"')) | zero_bytes(w ^ (kOnes * '\\')) | below_space;
}

// A string is decoded into a per-thread buffer that grows as needed, then copied out once: the copy loop stores
// eight bytes at a time, so it needs slack past the decoded end.
struct DecodeBuffer {
  std::string bytes = std::string(4096, '\0');
  // Makes room for `slack` more bytes after `o`, keeping what is before it; returns the (possibly moved) `o`.
  char* Reserve(char* o, size_t slack) {
    const size_t used = static_cast<size_t>(o - bytes.data());
    if (bytes.size() - used < slack) bytes.resize(2 * (used + slack));
    return bytes.data() + used;
  }
};

void PutUtf8(char*& o, uint32_t cp) {
  if (cp < 0x80) {
    *o++ = static_cast<char>(cp);
  } else if (cp < 0x800) {
    *o++ = static_cast<char>(0xC0 | (cp >> 6));
    *o++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *o++ = static_cast<char>(0xE0 | (cp >> 12));
    *o++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *o++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *o++ = static_cast<char>(0xF0 | (cp >> 18));
    *o++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *o++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *o++ = static_cast<char>(0x80 | (cp & 0x3F));
  }
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
  thread_local DecodeBuffer buffer;
  constexpr size_t kSlack = 16;  // the most one step writes: an 8-byte word, or one escape (at most 4 bytes)
  char* o = buffer.Reserve(buffer.bytes.data(), kSlack);
  for (;;) {
    // Plain runs eight bytes a step: each word is stored whole, then the output advances past its plain prefix.
    // Reasoning text escapes often (LaTeX backslashes, newlines), so an escape must not restart anything costly.
    if constexpr (std::endian::native == std::endian::little) {
      while (end_ - p_ >= 8) {
        o = buffer.Reserve(o, kSlack);
        uint64_t w;
        std::memcpy(&w, p_, 8);
        std::memcpy(o, &w, 8);
        const uint64_t special = SpecialBytes(w);
        if (special == 0) {
          p_ += 8;
          o += 8;
          continue;
        }
        const int plain = std::countr_zero(special) / 8;
        p_ += plain;
        o += plain;
        break;
      }
    }
    for (; p_ != end_ && *p_ != '"' && *p_ != '\\' && static_cast<unsigned char>(*p_) >= 0x20; ++p_) {
      o = buffer.Reserve(o, kSlack);
      *o++ = *p_;
    }
    if (p_ == end_ || static_cast<unsigned char>(*p_) < 0x20) return false;
    if (*p_++ == '"') break;
    if (p_ == end_) return false;
    o = buffer.Reserve(o, kSlack);
    switch (*p_++) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '/': *o++ = '/'; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
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
        PutUtf8(o, cp);
        break;
      }
      default: return false;
    }
  }
  out.assign(buffer.bytes.data(), o);
  return true;
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
