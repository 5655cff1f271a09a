// UTF-8 helpers: validation names the exact byte offset of the first bad sequence; lossy conversion matches Rust's
// String::from_utf8_lossy (one U+FFFD per maximal invalid subpart, which HF decode uses); class lookup matches the
// Oniguruma classes (\s is White_Space, so U+180E is not a space) the HF split patterns rely on; NFC normalization.
#include <string>

#include "gtest/gtest.h"
#include "tokenizers/normalizer.h"
#include "tokenizers/utf8.h"

namespace distill::tok {
namespace {

constexpr size_t npos = std::string_view::npos;

// Property: FindInvalid returns npos on valid UTF-8 and the offset of the first ill-formed sequence otherwise.
TEST(Utf8, FindInvalidOffsets) {
  EXPECT_EQ(utf8::FindInvalid(""), npos);
  EXPECT_EQ(utf8::FindInvalid("plain ascii text that is longer than eight bytes"), npos);
  EXPECT_EQ(utf8::FindInvalid("h\xC3\xA9llo \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF"), npos);
  EXPECT_EQ(utf8::FindInvalid(std::string("a\0b", 3)), npos);  // NUL is valid
  EXPECT_EQ(utf8::FindInvalid("abc\x80"), 3u);                  // lone continuation byte
  EXPECT_EQ(utf8::FindInvalid("abcdefghij\xC0\x80"), 10u);      // overlong NUL, after the 8-byte fast path
  EXPECT_EQ(utf8::FindInvalid("\xC1\xBF"), 0u);                 // overlong
  EXPECT_EQ(utf8::FindInvalid("ab\xE0\x80\x80"), 2u);           // overlong 3-byte
  EXPECT_EQ(utf8::FindInvalid("ab\xED\xA0\x80"), 2u);           // surrogate U+D800
  EXPECT_EQ(utf8::FindInvalid("\xF4\x90\x80\x80"), 0u);         // above U+10FFFF
  EXPECT_EQ(utf8::FindInvalid("xy\xF5\x80\x80\x80"), 2u);       // F5 never valid
  EXPECT_EQ(utf8::FindInvalid("x\xE4\xBD"), 1u);                // truncated at end
  EXPECT_EQ(utf8::FindInvalid("\xE4\xBD\xA0\xE4(\xA0"), 3u);    // bad continuation
  EXPECT_EQ(utf8::FindInvalid("\xFF"), 0u);
}

// Property: Lossy keeps valid text and replaces each maximal invalid subpart by one U+FFFD (Rust's behaviour).
TEST(Utf8, LossyMatchesRust) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(utf8::Lossy("h\xC3\xA9llo"), "h\xC3\xA9llo");
  EXPECT_EQ(utf8::Lossy("a\xE4\xBD"), "a" + r);                  // truncated 3-byte: one replacement
  EXPECT_EQ(utf8::Lossy("\xF0\x9F\x98"), r);                     // truncated 4-byte: one replacement
  EXPECT_EQ(utf8::Lossy("\xF0\x80\x80"), r + r + r);             // F0 80: not a prefix, each byte replaced
  EXPECT_EQ(utf8::Lossy("a\xED\xA0\x80" "b"), "a" + r + r + r + "b");  // surrogate
  EXPECT_EQ(utf8::Lossy("\xC3(\x80"), r + "(" + r);
  EXPECT_EQ(utf8::Lossy("\xE4\xBD\xE4\xBD\xA0"), r + "\xE4\xBD\xA0");
}

// Property: Decode/Append round-trip every code point class boundary.
TEST(Utf8, DecodeAppendRoundTrip) {
  for (uint32_t cp : {0x0u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xFFFFu, 0x10000u, 0x10FFFFu, 0x4F60u, 0x1F600u}) {
    std::string s;
    utf8::Append(cp, &s);
    int len;
    EXPECT_EQ(utf8::Decode(s.data(), &len), cp);
    EXPECT_EQ(static_cast<size_t>(len), s.size());
    EXPECT_EQ(utf8::FindInvalid(s), npos);
  }
}

// Property: class lookup gives \p{L}, \p{N}, \s (White_Space), \p{P}, \p{S}, \p{M} as Oniguruma does.
TEST(Utf8, Classes) {
  EXPECT_EQ(utf8::Classes('a'), utf8::kLetter);
  EXPECT_EQ(utf8::Classes(0x4F60), utf8::kLetter);   // 你
  EXPECT_EQ(utf8::Classes(0x20000), utf8::kLetter);  // CJK ext B
  EXPECT_EQ(utf8::Classes('7'), utf8::kNumber);
  EXPECT_EQ(utf8::Classes(0xB2), utf8::kNumber);     // superscript two (No)
  EXPECT_EQ(utf8::Classes(0x663), utf8::kNumber);    // Arabic-Indic three
  for (uint32_t cp : {0x9u, 0xAu, 0xBu, 0xCu, 0xDu, 0x20u, 0x85u, 0xA0u, 0x1680u, 0x2000u, 0x200Au, 0x2028u, 0x2029u,
                      0x202Fu, 0x205Fu, 0x3000u}) {
    EXPECT_EQ(utf8::Classes(cp), utf8::kSpace) << std::hex << cp;
  }
  EXPECT_EQ(utf8::Classes(0x180E) & utf8::kSpace, 0);  // Mongolian vowel separator: not White_Space
  EXPECT_EQ(utf8::Classes(0x200B) & utf8::kSpace, 0);  // zero width space: not White_Space
  EXPECT_EQ(utf8::Classes(0x1C) & utf8::kSpace, 0);    // file separator: not White_Space
  EXPECT_EQ(utf8::Classes('!'), utf8::kPunct);
  EXPECT_EQ(utf8::Classes('+'), utf8::kSymbol);
  EXPECT_EQ(utf8::Classes(0x1F600), utf8::kSymbol);
  EXPECT_EQ(utf8::Classes(0x301), utf8::kMark);
  EXPECT_EQ(utf8::Classes(0x0), 0);
}

// Property: NFC composes, reorders and maps singletons; already-NFC text reports "unchanged" (no copy).
TEST(Normalizer, Nfc) {
  Normalizer n;
  n.Add(Normalizer::Form::kNFC);
  std::string out;
  EXPECT_FALSE(n.Normalize("plain ascii", &out));
  EXPECT_FALSE(n.Normalize("caf\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD \xEA\xB0\x80", &out));  // café 你好 가
  ASSERT_TRUE(n.Normalize("cafe\xCC\x81", &out));
  EXPECT_EQ(out, "caf\xC3\xA9");
  ASSERT_TRUE(n.Normalize("\xE2\x84\xAB", &out));  // U+212B ANGSTROM SIGN → U+00C5
  EXPECT_EQ(out, "\xC3\x85");
  ASSERT_TRUE(n.Normalize("\xE1\x84\x80\xE1\x85\xA1", &out));  // conjoining jamo → 가
  EXPECT_EQ(out, "\xEA\xB0\x80");
  ASSERT_TRUE(n.Normalize("\xEA\xB0\x80\xE1\x86\xA8", &out));  // 가 + final jamo → 각
  EXPECT_EQ(out, "\xEA\xB0\x81");
  ASSERT_TRUE(n.Normalize("e\xCC\xA3\xCC\x81", &out));  // reordered marks compose to ệ́ form
  EXPECT_EQ(out, "\xE1\xBA\xB9\xCC\x81");
  Normalizer none;
  EXPECT_FALSE(none.Normalize("cafe\xCC\x81", &out));
}

}  // namespace
}  // namespace distill::tok
