// JavaScript-compatible text helpers: the reference engine (@huggingface/jinja) runs on JS strings (UTF-16) and
// JS numbers, so whitespace classes, lengths, number formatting and parsing follow ECMAScript here. Strings are
// UTF-8 in and out; invalid UTF-8 bytes are treated as U+FFFD.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace distill::tok::jinja {

// Decodes the code point at s[i]; sets *len to its byte length (1 for an invalid byte, reported as U+FFFD).
char32_t DecodeUtf8(std::string_view s, size_t i, size_t* len);
void AppendUtf8(std::string& out, char32_t cp);
std::vector<char32_t> ToCodePoints(std::string_view s);
std::string FromCodePoints(const std::vector<char32_t>& cps, size_t begin, size_t end);

// ECMAScript WhiteSpace + LineTerminator (the \s class and String.prototype.trim).
bool IsJsSpace(char32_t c);
// Byte length of the JS whitespace code point at s[i], or 0.
size_t JsSpaceAt(std::string_view s, size_t i);
// The part of `s` left after JS trimStart (`start`) and/or trimEnd (`end`), a view into `s`.
std::string_view JsTrimView(std::string_view s, bool start, bool end);
std::string JsTrimStart(std::string_view s);
std::string JsTrimEnd(std::string_view s);
std::string JsTrim(std::string_view s);

// Number of UTF-16 code units (JS String.length).
size_t Utf16Length(std::string_view s);
// JS str.at(i) on UTF-16 code units; a lone surrogate half comes back as U+FFFD. False when out of range.
bool Utf16At(std::string_view s, double index, std::string* out);

std::string AsciiUpper(std::string_view s);
std::string AsciiLower(std::string_view s);
// String.prototype.toUpperCase / toLowerCase (js_case.cc; common scripts, see there).
std::string JsToUpper(std::string_view s);
std::string JsToLower(std::string_view s);
// charAt(0).toUpperCase() + slice(1).
std::string JsCapitalize(std::string_view s);

// Number.prototype.toString() / String(n).
std::string JsNumberToString(double v);
// parseInt(s, 10) and parseFloat(s); NaN when nothing parses.
double JsParseInt(std::string_view s);
double JsParseFloat(std::string_view s);
// Number(s) (ToNumber on a string).
double JsStringToNumber(std::string_view s);

// JSON.stringify(string), optionally followed by the reference's ensure_ascii rewrite (\x7f-\uffff -> \uXXXX).
std::string JsonQuote(std::string_view s, bool ensure_ascii);

}  // namespace distill::tok::jinja
