#include "tokenizers/jinja/lexer.h"

#include <algorithm>
#include <utility>

#include "tokenizers/jinja/ast.h"
#include "tokenizers/jinja/js_text.h"

namespace distill::tok::jinja {
namespace {

// Preprocessed text plus, for each byte, its offset in the original source (one extra entry for the end).
struct Mapped {
  std::string s;
  std::vector<size_t> off;
  void Push(char c, size_t o) {
    s += c;
    off.push_back(o);
  }
};

bool AfterLineTerminator(const std::string& s, size_t i) {
  if (i == 0) return true;
  const char p = s[i - 1];
  if (p == '\n' || p == '\r') return true;
  return i >= 3 && static_cast<unsigned char>(s[i - 3]) == 0xE2 && static_cast<unsigned char>(s[i - 2]) == 0x80 &&
         (static_cast<unsigned char>(s[i - 1]) == 0xA8 || static_cast<unsigned char>(s[i - 1]) == 0xA9);
}

// lstrip_blocks: /^[ \t]*({[#%-])/gm -> "$1".
Mapped LstripBlocks(const Mapped& in) {
  Mapped out;
  const std::string& s = in.s;
  for (size_t i = 0; i < s.size();) {
    if (AfterLineTerminator(s, i)) {
      size_t j = i;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
      if (j + 1 < s.size() && s[j] == '{' && (s[j + 1] == '#' || s[j + 1] == '%' || s[j + 1] == '-')) {
        out.Push(s[j], in.off[j]);
        out.Push(s[j + 1], in.off[j + 1]);
        i = j + 2;
        continue;
      }
    }
    out.Push(s[i], in.off[i]);
    ++i;
  }
  out.off.push_back(in.off.back());
  return out;
}

// trim_blocks: /([#%-]})\n/g -> "$1".
Mapped TrimBlocks(const Mapped& in) {
  Mapped out;
  const std::string& s = in.s;
  for (size_t i = 0; i < s.size();) {
    if (i + 2 < s.size() && (s[i] == '#' || s[i] == '%' || s[i] == '-') && s[i + 1] == '}' && s[i + 2] == '\n') {
      out.Push(s[i], in.off[i]);
      out.Push(s[i + 1], in.off[i + 1]);
      i += 3;
      continue;
    }
    out.Push(s[i], in.off[i]);
    ++i;
  }
  out.off.push_back(in.off.back());
  return out;
}

// /(\s*){%(-?)\s*(?:end)?generation\s*(-?)%}(\s*)/gs -> (lstrip ? "" : before) + (rstrip ? "" : after).
Mapped StripGenerationTags(const Mapped& in) {
  const std::string& s = in.s;
  if (s.find("generation") == std::string::npos) return in;
  Mapped out;
  size_t copied = 0;  // s[0, copied) is emitted or consumed
  size_t i = 0;
  while (i < s.size()) {
    size_t p = s.find("{%", i);
    if (p == std::string::npos) break;
    size_t j = p + 2;
    const bool lstrip = j < s.size() && s[j] == '-';
    if (lstrip) ++j;
    while (size_t n = JsSpaceAt(s, j)) j += n;
    if (s.compare(j, 3, "end") == 0 && s.compare(j + 3, 10, "generation") == 0) j += 3;
    if (s.compare(j, 10, "generation") != 0) {
      i = p + 1;
      continue;
    }
    j += 10;
    while (size_t n = JsSpaceAt(s, j)) j += n;
    const bool rstrip = j < s.size() && s[j] == '-';
    if (rstrip) ++j;
    if (s.compare(j, 2, "%}") != 0) {
      i = p + 1;
      continue;
    }
    j += 2;
    // Leading whitespace run (not reaching back into what an earlier match consumed).
    size_t before = p;
    {
      std::vector<size_t> starts;
      for (size_t k = copied; k < p;) {
        size_t len;
        const char32_t c = DecodeUtf8(s, k, &len);
        if (!IsJsSpace(c)) starts.clear();
        else starts.push_back(k);
        k += len;
      }
      if (!starts.empty()) before = starts.front();
    }
    size_t after = j;
    while (size_t n = JsSpaceAt(s, after)) after += n;
    for (size_t k = copied; k < before; ++k) out.Push(s[k], in.off[k]);
    if (!lstrip)
      for (size_t k = before; k < p; ++k) out.Push(s[k], in.off[k]);
    if (!rstrip)
      for (size_t k = j; k < after; ++k) out.Push(s[k], in.off[k]);
    copied = after;
    i = after;
  }
  for (size_t k = copied; k < s.size(); ++k) out.Push(s[k], in.off[k]);
  out.off.push_back(in.off.back());
  return out;
}

Mapped Preprocess(std::string_view source) {
  Mapped m;
  size_t n = source.size();
  if (n > 0 && source[n - 1] == '\n') --n;
  m.s.assign(source.substr(0, n));
  m.off.resize(n + 1);
  for (size_t i = 0; i <= n; ++i) m.off[i] = i;
  return StripGenerationTags(TrimBlocks(LstripBlocks(m)));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWordChar(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

struct Op {
  const char* seq;
  TokenType type;
};
constexpr Op kOps[] = {
    {"{%", TokenType::kOpenStatement}, {"%}", TokenType::kCloseStatement}, {"{{", TokenType::kOpenExpression},
    {"}}", TokenType::kCloseExpression}, {"(", TokenType::kOpenParen}, {")", TokenType::kCloseParen},
    {"{", TokenType::kOpenBrace}, {"}", TokenType::kCloseBrace}, {"[", TokenType::kOpenBracket},
    {"]", TokenType::kCloseBracket}, {",", TokenType::kComma}, {".", TokenType::kDot}, {":", TokenType::kColon},
    {"|", TokenType::kPipe}, {"<=", TokenType::kComparison}, {">=", TokenType::kComparison},
    {"==", TokenType::kComparison}, {"!=", TokenType::kComparison}, {"<", TokenType::kComparison},
    {">", TokenType::kComparison}, {"+", TokenType::kAdditive}, {"-", TokenType::kAdditive},
    {"~", TokenType::kAdditive}, {"**", TokenType::kPower}, {"*", TokenType::kMultiplicative},
    {"//", TokenType::kMultiplicative}, {"/", TokenType::kMultiplicative}, {"%", TokenType::kMultiplicative},
    {"=", TokenType::kEquals},
};

int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) : m_(Preprocess(source)), src_(m_.s) {}

  std::vector<Token> Run() {
    while (cur_ < src_.size()) Step();
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void Fail(const std::string& msg, size_t at) const {
    throw JinjaError(msg, m_.off[std::min(at, src_.size())]);
  }
  char At(size_t i) const { return i < src_.size() ? src_[i] : '\0'; }
  bool StartsAt(const char* seq) const { return src_.compare(cur_, std::char_traits<char>::length(seq), seq) == 0; }
  void Push(TokenType t, std::string v, size_t start) { tokens_.push_back({t, std::move(v), m_.off[start]}); }
  const Token* Last() const { return tokens_.empty() ? nullptr : &tokens_.back(); }

  // consumeWhile's end check: consuming the last character of the input is an error.
  void Advance(size_t n) {
    cur_ += n;
    if (cur_ >= src_.size()) Fail("unexpected end of template", cur_);
  }

  void StripTrailingWhitespace() {
    if (!tokens_.empty() && tokens_.back().type == TokenType::kText) {
      tokens_.back().value = JsTrimEnd(tokens_.back().value);
      if (tokens_.back().value.empty()) tokens_.pop_back();
    }
  }
  void SkipLeadingWhitespace() {
    while (size_t n = JsSpaceAt(src_, cur_)) cur_ += n;
  }
  std::string Digits() {
    const size_t start = cur_;
    while (IsDigit(At(cur_))) Advance(1);
    return src_.substr(start, cur_ - start);
  }

  std::string StringBody(char quote, size_t start) {
    std::string out;
    while (cur_ >= src_.size() || src_[cur_] != quote) {
      if (cur_ >= src_.size()) Fail("unterminated string literal", start);
      if (src_[cur_] == '\\') {
        ++cur_;
        if (cur_ >= src_.size()) Fail("unterminated string literal", start);
        const char e = src_[cur_++];
        if (e == 'x' || e == 'u') {
          const size_t len = e == 'x' ? 2 : 4;
          unsigned v = 0;
          for (size_t k = 0; k < len; ++k) {
            const int h = HexValue(At(cur_ + k));
            if (h < 0 || cur_ + k >= src_.size()) Fail("invalid hexadecimal escape sequence", cur_ - 2);
            v = v * 16 + static_cast<unsigned>(h);
          }
          cur_ += len;
          if (v >= 0xD800 && v <= 0xDBFF && At(cur_) == '\\' && At(cur_ + 1) == 'u') {
            unsigned lo = 0;
            bool ok = true;
            for (size_t k = 0; k < 4; ++k) {
              const int h = HexValue(At(cur_ + 2 + k));
              if (h < 0) ok = false;
              lo = lo * 16 + static_cast<unsigned>(h < 0 ? 0 : h);
            }
            if (ok && lo >= 0xDC00 && lo <= 0xDFFF) {
              v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
              cur_ += 6;
            }
          }
          AppendUtf8(out, v);
          continue;
        }
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'v': out += '\v'; break;
          case '\'': out += '\''; break;
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          default: Fail(std::string("unexpected escaped character '") + e + "'", cur_ - 2);
        }
        continue;
      }
      out += src_[cur_++];
      if (cur_ >= src_.size()) Fail("unterminated string literal", start);
    }
    return out;
  }

  void Step() {
    const Token* last = Last();
    if (!last || last->type == TokenType::kCloseStatement || last->type == TokenType::kCloseExpression ||
        last->type == TokenType::kComment) {
      const size_t start = cur_;
      while (cur_ < src_.size() &&
             !(src_[cur_] == '{' && (At(cur_ + 1) == '%' || At(cur_ + 1) == '{' || At(cur_ + 1) == '#')))
        ++cur_;
      if (cur_ > start) {
        Push(TokenType::kText, src_.substr(start, cur_ - start), start);
        return;
      }
    }
    if (src_[cur_] == '{' && At(cur_ + 1) == '#') {
      const size_t start = cur_;
      cur_ += 2;
      const bool strip_before = At(cur_) == '-';
      if (strip_before) ++cur_;
      std::string comment;
      while (At(cur_) != '#' || At(cur_ + 1) != '}') {
        if (cur_ + 2 >= src_.size()) Fail("missing end of comment tag '#}'", start);
        comment += src_[cur_++];
      }
      const bool strip_after = !comment.empty() && comment.back() == '-';
      if (strip_after) comment.pop_back();
      if (strip_before) StripTrailingWhitespace();
      Push(TokenType::kComment, std::move(comment), start);
      cur_ += 2;
      if (strip_after) SkipLeadingWhitespace();
      return;
    }
    if (StartsAt("{%-")) {
      StripTrailingWhitespace();
      Push(TokenType::kOpenStatement, "{%", cur_);
      cur_ += 3;
      return;
    }
    if (StartsAt("{{-")) {
      StripTrailingWhitespace();
      Push(TokenType::kOpenExpression, "{{", cur_);
      curly_ = 0;
      cur_ += 3;
      return;
    }
    while (size_t n = JsSpaceAt(src_, cur_)) Advance(n);
    if (StartsAt("-%}")) {
      Push(TokenType::kCloseStatement, "%}", cur_);
      cur_ += 3;
      SkipLeadingWhitespace();
      return;
    }
    if (StartsAt("-}}")) {
      Push(TokenType::kCloseExpression, "}}", cur_);
      cur_ += 3;
      SkipLeadingWhitespace();
      return;
    }
    const size_t start = cur_;
    const char ch = src_[cur_];
    if (ch == '-' || ch == '+') {
      const Token* prev = Last();
      if (!prev || prev->type == TokenType::kText) Fail(std::string("unexpected character '") + ch + "'", cur_);
      switch (prev->type) {
        case TokenType::kIdentifier:
        case TokenType::kNumber:
        case TokenType::kString:
        case TokenType::kCloseParen:
        case TokenType::kCloseBracket:
          break;
        default: {
          ++cur_;
          std::string num = Digits();
          if (!num.empty() && At(cur_) == '.' && IsDigit(At(cur_ + 1))) {
            ++cur_;
            num += "." + Digits();
          }
          const bool is_num = !num.empty();
          Push(is_num ? TokenType::kNumber : TokenType::kUnary, std::string(1, ch) + num, start);
          return;
        }
      }
    }
    for (const Op& op : kOps) {
      if (op.type == TokenType::kCloseExpression && curly_ > 0) continue;
      if (StartsAt(op.seq)) {
        Push(op.type, op.seq, cur_);
        if (op.type == TokenType::kOpenExpression) curly_ = 0;
        else if (op.type == TokenType::kOpenBrace) ++curly_;
        else if (op.type == TokenType::kCloseBrace) --curly_;
        cur_ += std::char_traits<char>::length(op.seq);
        return;
      }
    }
    if (ch == '\'' || ch == '"') {
      ++cur_;
      std::string body = StringBody(ch, start);
      Push(TokenType::kString, std::move(body), start);
      ++cur_;
      return;
    }
    if (IsDigit(ch)) {
      std::string num = Digits();
      const Token* prev = Last();
      if (!(prev && prev->type == TokenType::kDot) && At(cur_) == '.' && IsDigit(At(cur_ + 1))) {
        ++cur_;
        num += "." + Digits();
      }
      Push(TokenType::kNumber, std::move(num), start);
      return;
    }
    if (IsWordChar(ch)) {
      while (IsWordChar(At(cur_))) Advance(1);
      Push(TokenType::kIdentifier, src_.substr(start, cur_ - start), start);
      return;
    }
    size_t len;
    const char32_t cp = DecodeUtf8(src_, cur_, &len);
    std::string shown;
    AppendUtf8(shown, cp);
    Fail("unexpected character '" + shown + "'", cur_);
  }

  Mapped m_;
  const std::string& src_;
  size_t cur_ = 0;
  int curly_ = 0;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> Tokenize(std::string_view source) { return Lexer(source).Run(); }

std::string LineColumn(std::string_view source, size_t offset) {
  offset = std::min(offset, source.size());
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset;) {
    if (source[i] == '\n') {
      ++line;
      col = 1;
      ++i;
      continue;
    }
    size_t len;
    DecodeUtf8(source, i, &len);
    i += len;
    ++col;
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

}  // namespace distill::tok::jinja
