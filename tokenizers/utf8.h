// UTF-8 helpers for the tokenizer.json backend: validation that names the byte offset, code point decoding,
// Rust-compatible lossy conversion, and a fast Unicode class lookup (letter, number, space, ...) used by the
// pre-tokenizer scanners.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace distill::tok::utf8 {

// Byte offset of the first byte that does not start a valid UTF-8 sequence (overlongs, surrogates and code
// points above U+10FFFF are invalid), or std::string_view::npos when `s` is valid.
size_t FindInvalid(std::string_view s);
// Length of the valid UTF-8 sequence starting at s[0] (`n` bytes remain, n >= 1), or 0 when it is not one.
int ValidSequenceLength(const unsigned char* s, size_t n);

// Decodes the code point starting at p (which must be valid UTF-8 with at least one byte left); sets *len.
inline uint32_t Decode(const char* p, int* len) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  if (u[0] < 0x80) { *len = 1; return u[0]; }
  if (u[0] < 0xE0) { *len = 2; return ((u[0] & 0x1Fu) << 6) | (u[1] & 0x3Fu); }
  if (u[0] < 0xF0) { *len = 3; return ((u[0] & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu); }
  *len = 4;
  return ((u[0] & 0x07u) << 18) | ((u[1] & 0x3Fu) << 12) | ((u[2] & 0x3Fu) << 6) | (u[3] & 0x3Fu);
}

// Number of bytes of the sequence whose lead byte is `b` (valid input assumed).
inline int SeqLen(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

// Appends the UTF-8 encoding of `cp`.
void Append(uint32_t cp, std::string* out);

// Like Rust's String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD.
std::string Lossy(std::string_view bytes);

// Unicode classes as the HF regex engines (Oniguruma) see them.
enum Class : uint8_t {
  kLetter = 1,   // \p{L}
  kNumber = 2,   // \p{N}
  kSpace = 4,    // \s (White_Space: 9-D, 20, 85, A0, 1680, 2000-200A, 2028, 2029, 202F, 205F, 3000)
  kPunct = 8,    // \p{P}
  kSymbol = 16,  // \p{S}
  kMark = 32,    // \p{M}
};
// Class bits of a code point (table lookup for the first planes, utf8proc beyond).
uint8_t Classes(uint32_t cp);

// Rust char::is_whitespace (the White_Space property).
inline bool IsWhitespace(uint32_t cp) { return (Classes(cp) & kSpace) != 0; }

}  // namespace distill::tok::utf8
