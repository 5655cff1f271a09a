// ParseJsonFast against nlohmann::json::parse, the parser it stands in for: the same DOM for every valid document,
// and no document accepted that nlohmann rejects (on random mutations of realistic trace lines too).
#include "tokenizers/json_fast.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

namespace distill::tok {
namespace {

using nlohmann::json;

std::optional<json> Reference(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

// Property: long strings with escapes at every offset (LaTeX-dense reasoning: a backslash every few bytes, across
// word boundaries and past the decoder's first buffer) decode exactly as nlohmann decodes them.
TEST(JsonFast, LongEscapedStringsDecodeExactly) {
  std::mt19937 rng(7);
  int valid = 0;
  const std::vector<std::string> pieces = {"\\\\frac", "\\n", "\\\"", "\\u00e9", "\\ud83d\\ude00", "\\t",
                                           "plain text ", "\xe4\xb8\xad", "x", "\\/"};
  for (size_t target : {0u, 1u, 7u, 8u, 9u, 15u, 4095u, 4096u, 4097u, 70000u}) {
    for (int round = 0; round < 8; ++round) {
      std::string body, third;  // `third`: the first third of the pieces (whole escapes and characters)
      while (body.size() < target) {
        body += pieces[rng() % pieces.size()];
        if (body.size() < target / 3) third = body;
      }
      const std::string doc = "{\"reasoning\": \"" + body + "\", \"n\": [\"" + third + "\"]}";
      std::optional<json> expected = Reference(doc);
      std::optional<json> fast = ParseJsonFast(doc);
      ASSERT_EQ(fast.has_value(), expected.has_value()) << target;
      if (expected) {
        EXPECT_EQ(*fast, *expected) << target;
        ++valid;
      }
    }
  }
  EXPECT_EQ(valid, 80);
}

// Property: a valid document parses to exactly nlohmann's value, including number kinds.
TEST(JsonFast, SameValueAsNlohmannOnValidDocuments) {
  const std::vector<std::string> docs = {
      R"({})", R"([])", R"("")", R"(0)", R"(-0)", R"(-1)", R"(3.25)", R"(1e3)", R"(-2.5E-3)", R"(true)",
      R"(false)", R"(null)", R"(18446744073709551615)", R"(18446744073709551616)", R"(-9223372036854775808)",
      R"(-9223372036854775809)", R"(  {"a" : [1, 2.0, "x", null, {"b": false}] }  )",
      R"({"k": 1, "k": 2})",  // last duplicate wins
      R"({"s": "esc \" \\ \/ \b \f \n \r \t \u00e9 \u4e2d \ud83d\ude00 end"})",
      R"({"prompt_id": "p1", "sample_index": 0, "messages": [{"role": "user", "content": "What is 2+2?"}],)"
      R"( "reasoning": "Two plus two.\nSo 4.", "answer": "\\boxed{4}", "usage": {"prompt_tokens": 12},)"
      R"( "latency_s": 1.5, "extra": {}})",
      "{\"utf8\": \"caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87\"}",
  };
  for (const std::string& doc : docs) {
    SCOPED_TRACE(doc);
    std::optional<json> fast = ParseJsonFast(doc);
    ASSERT_TRUE(fast.has_value());
    const json ref = json::parse(doc);
    EXPECT_EQ(*fast, ref);
    EXPECT_EQ(fast->type(), ref.type());
    EXPECT_EQ(fast->dump(), ref.dump());
  }
}

// Property: every malformed document nlohmann rejects is rejected (callers then report nlohmann's error).
TEST(JsonFast, RejectsInvalidDocuments) {
  const std::vector<std::string> docs = {
      "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{a:1}", "{'a':1}", "01", "-", "1.", ".5", "1e", "+1", "--1",
      "\"tab\there\"", "\"nl\nhere\"", "\"bad \\x escape\"", "\"\\u12\"", "\"\\ud83d\"", "\"\\ude00\"",
      "\"\\ud83d\\u0041\"", "tru", "nulll", "[1 2]", "{\"a\" 1}", "{} {}", "\"unterminated", "[", "// c\n{}",
  };
  for (const std::string& doc : docs) {
    SCOPED_TRACE(doc);
    EXPECT_FALSE(Reference(doc).has_value()) << "test case is valid JSON";
    EXPECT_FALSE(ParseJsonFast(doc).has_value());
  }
}

// Property: nesting is bounded (the caller's nlohmann fallback handles deeper documents).
TEST(JsonFast, DeepNestingIsDeclinedNotOverflowed) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_FALSE(ParseJsonFast(deep).has_value());
  const std::string ok = std::string(100, '[') + std::string(100, ']');
  EXPECT_TRUE(ParseJsonFast(ok).has_value());
}

// Property: on 20,000 seeded random byte edits of trace lines, whenever either parser accepts, both accept and
// agree on the value; Skip() accepts exactly the same documents.
TEST(JsonFast, AgreesWithNlohmannOnMutations) {
  const std::string base =
      R"({"prompt_id": "p-17", "sample_index": 3, "messages": [{"role": "user", "content": "Solve x^2 = 4."}],)"
      R"( "reasoning": "We need x.\nx = \u00b12 \ud83d\ude00 so", "answer": "\\boxed{2}", "n": -12.5e-1,)"
      R"( "ok": true, "none": null, "big": 123456789012345678901234567890})";
  const std::string alphabet = "{}[]\":,\\/ubfnrt0123456789-+.eE \n\tx\x01";
  std::mt19937_64 rng(7);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string doc = base;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % doc.size();
      switch (rng() % 3) {
        case 0: doc[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: doc.erase(at, 1); break;
        default: doc.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
      }
    }
    std::optional<json> fast = ParseJsonFast(doc);
    std::optional<json> ref = Reference(doc);
    ASSERT_EQ(fast.has_value(), ref.has_value()) << doc;
    JsonReader skipping(doc);
    ASSERT_EQ(skipping.Skip() && skipping.AtEnd(), ref.has_value()) << "Skip() on " << doc;
    if (fast) {
      ++accepted;
      ASSERT_EQ(fast->dump(), ref->dump()) << doc;
    }
  }
  EXPECT_GT(accepted, 100);  // the mutations exercise the accepting paths too
}

// Reads {"k": [ints or strings], ...} with the streaming calls into key -> "i:<n>" / "s:<text>" items.
std::optional<std::vector<std::string>> Stream(const std::string& doc) {
  JsonReader reader(doc);
  std::vector<std::string> items;
  std::string text;
  const bool ok = reader.ForEachMember([&](const std::string& key) {
    items.push_back("key:" + key);
    return reader.ForEachElement([&] {
      if (reader.Peek() == '"') {
        if (!reader.String(text)) return false;
        items.push_back("s:" + text);
        return true;
      }
      int64_t n;
      if (!reader.Int64(n)) return false;
      items.push_back("i:" + std::to_string(n));
      return true;
    });
  });
  if (!ok || !reader.AtEnd()) return std::nullopt;
  return items;
}

// Property: the streaming calls visit members and elements in file order with the values nlohmann reads, and
// refuse what nlohmann refuses (missing or trailing commas, missing colons, fractions as integers, trailing text).
TEST(JsonFast, StreamingReaderVisitsInOrderAndStaysStrict) {
  const auto items = Stream(R"( { "b" : [1, -2, "x\u00e9\n"], "a": [], "b": ["again", 9223372036854775807] } )");
  ASSERT_TRUE(items.has_value());
  EXPECT_EQ(*items, (std::vector<std::string>{"key:b", "i:1", "i:-2", "s:x\u00e9\n", "key:a", "key:b", "s:again",
                                              "i:9223372036854775807"}));
  for (const std::string bad : {R"({"a": [1,]})", R"({"a": [1 2]})", R"({"a" [1]})", R"({"a": [1],})",
                                R"({"a": [1.5]})", R"({"a": [1e2]})", R"({"a": [9223372036854775808]})",
                                R"({"a": [01]})", R"({"a": [1]} x)", R"({"a": ["\x"]})", R"({"a": [1])", R"([])"}) {
    EXPECT_FALSE(Stream(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace distill::tok
