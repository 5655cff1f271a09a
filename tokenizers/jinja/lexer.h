// Tokenizer with @huggingface/jinja's rules: the template is first preprocessed (one trailing newline dropped,
// lstrip_blocks and trim_blocks on, {% generation %} tags removed), then split into text and tag tokens with
// `-` whitespace control. Every token keeps the byte offset of its start in the original source.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace distill::tok::jinja {

enum class TokenType {
  kText,
  kNumber,
  kString,
  kIdentifier,
  kEquals,
  kOpenParen,
  kCloseParen,
  kOpenStatement,
  kCloseStatement,
  kOpenExpression,
  kCloseExpression,
  kOpenBracket,
  kCloseBracket,
  kOpenBrace,
  kCloseBrace,
  kComma,
  kDot,
  kColon,
  kPipe,
  kAdditive,        // + - ~
  kMultiplicative,  // * / // %
  kPower,           // **
  kComparison,      // < > <= >= == !=
  kUnary,           // a lone sign
  kComment,
};

struct Token {
  TokenType type;
  std::string value;
  size_t pos;  // byte offset in the original source
};

// Throws JinjaError on lexical errors.
std::vector<Token> Tokenize(std::string_view source);

// 1-based line and column (in code points) of a byte offset.
std::string LineColumn(std::string_view source, size_t offset);

}  // namespace distill::tok::jinja
