// A fast strict JSON reader. nlohmann's lexer appends string bytes one at a time and its DOM keeps objects in
// std::map, which made JSON a sixth of `distill build` and most of loading a 150k-token tokenizer.json; this one
// copies runs between quotes and escapes in bulk and lets a caller stream the large members itself. It accepts
// exactly RFC 8259 JSON (no comments, trailing commas, lone surrogates, control characters in strings, or leading
// zeros) and builds the same DOM nlohmann builds (last duplicate key wins; integers as unsigned when non-negative,
// signed when negative, double when they overflow). On any failure it reports false / nullopt and says nothing:
// callers re-parse with nlohmann for its exact error message. The text must be valid UTF-8 (checked by the caller).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace distill::tok {

// The JSON value spelled by `text` (surrounding whitespace allowed), or nullopt when `text` is not valid JSON
// or nests deeper than 512 levels.
std::optional<nlohmann::json> ParseJsonFast(std::string_view text);

// A forward-only reader over `text` (not owned; must outlive the reader). Each call skips the whitespace before
// what it reads and returns false on malformed input, after which the position is unspecified.
class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  // Any value, as a DOM.
  bool Value(nlohmann::json& out) { return ValueAt(out, 0); }
  // Any value, checked as strictly as Value() but not kept.
  bool Skip() { return SkipAt(0); }
  // A string value, unescaped into `out`.
  bool String(std::string& out);
  // An integer value that fits int64_t; false for fractions, exponents and anything else.
  bool Int64(int64_t& out);
  // Object members: calls member(key) with the reader at the member's value, which member must read; false when
  // member returns false or the object is malformed. A repeated key is passed again (the caller decides).
  template <class F>
  bool ForEachMember(F&& member) {
    if (!Consume('{')) return false;
    if (Consume('}')) return true;
    std::string key;
    do {
      SkipSpace();
      if (p_ == end_ || *p_ != '"' || !QuotedString(key) || !Consume(':') || !member(key)) return false;
    } while (Consume(','));
    return Consume('}');
  }
  // Array elements: calls element() with the reader at each element, which element must read.
  template <class F>
  bool ForEachElement(F&& element) {
    if (!Consume('[')) return false;
    if (Consume(']')) return true;
    do {
      if (!element()) return false;
    } while (Consume(','));
    return Consume(']');
  }
  // The next character after whitespace (not consumed), or '\0' at the end.
  char Peek() {
    SkipSpace();
    return p_ == end_ ? '\0' : *p_;
  }
  // True when only whitespace is left.
  bool AtEnd() {
    SkipSpace();
    return p_ == end_;
  }

 private:
  void SkipSpace() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool Consume(char c) {
    SkipSpace();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  bool ValueAt(nlohmann::json& out, int depth);
  bool SkipAt(int depth);
  bool Literal(std::string_view word);
  bool Hex4(uint32_t& value);
  bool QuotedString(std::string& out);
  bool Number(nlohmann::json& out);

  const char* p_;
  const char* end_;
  std::string skipped_;  // scratch for skipped strings
};

}  // namespace distill::tok
