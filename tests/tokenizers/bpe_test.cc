// Unit tests of the tokenizer.json BPE backend on small hand-made tokenizer.json files: merge forms and ranks,
// ignore_merges, added-token flags, pre-tokenizers (Split behaviours, Digits, ByteLevel), invalid UTF-8, EncodeBatch,
// and the fast cl100k scanner against PCRE2. The expected pieces for added-token flags, Digits and ByteLevel were
// checked against HF tokenizers 0.23.2 on the same files.
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tokenizers/bpe.h"
#include "tokenizers/pretokenizer.h"
#include "tokenizers/tokenizer.h"

namespace distill::tok {
namespace {

using Json = nlohmann::json;

// A byte-level tokenizer.json: the 256 byte tokens (ids 0..255 in byte order) plus `extra` pieces (ids from 256 on,
// byte-level spelled from raw bytes), the given merges (raw bytes, as pairs), and the given pipeline parts.
Json MakeJson(const std::vector<std::string>& extra, const std::vector<std::pair<std::string, std::string>>& merges,
              bool pair_form = true) {
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) vocab[BytesToByteLevel(std::string(1, static_cast<char>(b)))] = b;
  int id = 256;
  for (const auto& e : extra) vocab[BytesToByteLevel(e)] = id++;
  Json m = Json::array();
  for (const auto& [a, b] : merges) {
    if (pair_form) {
      m.push_back(Json::array({BytesToByteLevel(a), BytesToByteLevel(b)}));
    } else {
      m.push_back(BytesToByteLevel(a) + " " + BytesToByteLevel(b));
    }
  }
  Json j;
  j["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", m}};
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}};
  j["decoder"] = {{"type", "ByteLevel"}};
  j["added_tokens"] = Json::array();
  return j;
}

std::unique_ptr<Tokenizer> Load(const Json& j) {
  auto t = ParseTokenizerJson(j.dump(), "test.json");
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *std::move(t) : nullptr;
}

std::vector<std::string> Pieces(const Tokenizer& t, std::string_view text) {
  auto ids = t.Encode(text);
  EXPECT_TRUE(ids.ok()) << ids.status();
  std::vector<std::string> out;
  if (!ids.ok()) return out;
  for (TokenId id : *ids) out.push_back(t.TokenBytes(id));
  return out;
}

using V = std::vector<std::string>;

// Property: merges given as "a b" strings and as ["a","b"] pairs load to the same model; merges apply by rank.
TEST(Bpe, MergeFormsAndRanks) {
  const std::vector<std::pair<std::string, std::string>> merges = {{"l", "l"}, {"h", "e"}, {"he", "ll"}, {"hell", "o"}};
  const V extra = {"ll", "he", "hell", "hello"};
  auto a = Load(MakeJson(extra, merges, true));
  auto b = Load(MakeJson(extra, merges, false));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(Pieces(*a, "hello"), V({"hello"}));
  EXPECT_EQ(*a->Encode("hello hell"), *b->Encode("hello hell"));
  EXPECT_EQ(Pieces(*a, "helo"), V({"he", "l", "o"}));
  // Rank decides which overlapping pair merges: "abc" with (a b) first vs (b c) first.
  auto ab = Load(MakeJson({"ab", "bc"}, {{"a", "b"}, {"b", "c"}}));
  auto bc = Load(MakeJson({"ab", "bc"}, {{"b", "c"}, {"a", "b"}}));
  EXPECT_EQ(Pieces(*ab, "abc"), V({"ab", "c"}));
  EXPECT_EQ(Pieces(*bc, "abc"), V({"a", "bc"}));
  // Equal pairs merge leftmost first: "aaa" → "aa" "a".
  auto aa = Load(MakeJson({"aa"}, {{"a", "a"}}));
  EXPECT_EQ(Pieces(*aa, "aaa"), V({"aa", "a"}));
  // Long words take the priority-queue path and agree with the short-word path.
  std::string longw(200, 'a');
  auto ids = aa->Encode(longw);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->size(), 100u);
}

// Property: with ignore_merges, a pre-token that is itself in the vocabulary is emitted directly, even when the
// merges cannot build it; without it, the merges decide.
TEST(Bpe, IgnoreMerges) {
  Json j = MakeJson({"xyz", "xy"}, {{"x", "y"}});
  auto plain = Load(j);
  EXPECT_EQ(Pieces(*plain, "xyz"), V({"xy", "z"}));
  j["model"]["ignore_merges"] = true;
  auto ignoring = Load(j);
  EXPECT_EQ(Pieces(*ignoring, "xyz"), V({"xyz"}));
}

// Property: added tokens are matched in raw text before pre-tokenization, longest first; lstrip/rstrip swallow
// adjacent whitespace; single_word only matches outside words; special tokens are dropped by Decode(skip_special);
// normalized tokens match normalized text. Ids follow HF: the written ids 300.. leave a gap after the 256-piece
// vocabulary, so HF (and we) number them 256.., and "é" — also the byte-level piece of byte 0xE9 — takes id 233.
TEST(Bpe, AddedTokenFlags) {
  Json j = MakeJson({}, {});
  j["added_tokens"] = Json::array({
      {{"id", 300}, {"content", "<a>"}, {"special", true}, {"normalized", false}},
      {{"id", 301}, {"content", "<a><b>"}, {"special", true}, {"normalized", false}},
      {{"id", 302}, {"content", "[L]"}, {"special", false}, {"lstrip", true}, {"normalized", false}},
      {{"id", 303}, {"content", "[R]"}, {"special", false}, {"rstrip", true}, {"normalized", false}},
      {{"id", 304}, {"content", "\xC3\xA9"}, {"special", false}, {"normalized", true}},
      {{"id", 305}, {"content", "[W]"}, {"special", false}, {"single_word", true}, {"normalized", false}},
      {{"id", 306}, {"content", "<a>"}, {"special", false}, {"normalized", false}},  // repeated content: ignored
  });
  j["normalizer"] = {{"type", "NFC"}};
  auto t = Load(j);
  ASSERT_TRUE(t);
  const TokenId a = 256, ab = 257, l = 258, r = 259, e_acute = 233, w = 260;
  // These id sequences are what HF tokenizers 0.23.2 returns for the same file and texts.
  EXPECT_EQ(*t->Encode("x<a>y"), std::vector<TokenId>({'x', a, 'y'}));
  EXPECT_EQ(*t->Encode("<a><b><a>"), std::vector<TokenId>({ab, a}));  // longest match first
  EXPECT_EQ(*t->Encode("x  [L]y"), std::vector<TokenId>({'x', l, 'y'}));  // lstrip
  EXPECT_EQ(*t->Encode("x[R] \t y"), std::vector<TokenId>({'x', r, 'y'}));  // rstrip
  EXPECT_EQ(*t->Encode("x [R]"), std::vector<TokenId>({'x', ' ', r}));
  // Normalized token: decomposed e + U+0301 becomes é after NFC and then matches.
  EXPECT_EQ(*t->Encode("e\xCC\x81!"), std::vector<TokenId>({e_acute, '!'}));
  EXPECT_EQ(*t->Encode("a [W] b"), std::vector<TokenId>({'a', ' ', w, ' ', 'b'}));
  EXPECT_EQ(*t->Encode("a[W]b"), std::vector<TokenId>({'a', '[', 'W', ']', 'b'}));
  const std::vector<TokenId> ids = {'x', a, 'y', l};
  EXPECT_EQ(*t->Decode(ids), "x<a>y[L]");
  EXPECT_EQ(*t->Decode(ids, /*skip_special=*/true), "xy[L]");
  EXPECT_TRUE(t->IsSpecial(a));
  EXPECT_FALSE(t->IsSpecial(l));
  EXPECT_EQ(t->PieceToId("<a><b>"), ab);
  EXPECT_EQ(t->IdToPiece(r), "[R]");
  EXPECT_EQ(t->VocabSize(), 261u);
  EXPECT_EQ(t->AddedTokens().size(), 6u);
  EXPECT_FALSE(t->Decode(std::vector<TokenId>{261}).ok());
  EXPECT_FALSE(t->Decode(std::vector<TokenId>{-1}).ok());
}

// Property: Split behaviours give HF's documented pieces for "the-final--countdown" split on "-".
TEST(PreTokenizer, SplitBehaviours) {
  const std::pair<SplitBehavior, V> cases[] = {
      {SplitBehavior::kRemoved, {"the", "final", "countdown"}},
      {SplitBehavior::kIsolated, {"the", "-", "final", "-", "-", "countdown"}},
      {SplitBehavior::kMergedWithPrevious, {"the-", "final-", "-", "countdown"}},
      {SplitBehavior::kMergedWithNext, {"the", "-final", "-", "-countdown"}},
      {SplitBehavior::kContiguous, {"the", "-", "final", "--", "countdown"}},
  };
  for (const auto& [behavior, want] : cases) {
    PreTokenizer p;
    auto re = CompileSplitPattern("-", /*literal=*/true);
    ASSERT_TRUE(re.ok());
    p.AddSplit(std::shared_ptr<const Regex>(std::move(*re)), behavior, false);
    PreTokenizeScratch scratch;
    std::vector<std::string_view> pieces;
    p.Run("the-final--countdown", &scratch, &pieces);
    EXPECT_EQ(V(pieces.begin(), pieces.end()), want) << static_cast<int>(behavior);
  }
  // invert: the matches become the gaps. Isolated with invert gives the same pieces; Removed keeps the dashes.
  PreTokenizer p;
  p.AddSplit(std::shared_ptr<const Regex>(*CompileSplitPattern("-", true)), SplitBehavior::kRemoved, true);
  PreTokenizeScratch scratch;
  std::vector<std::string_view> pieces;
  p.Run("the-final--countdown", &scratch, &pieces);
  EXPECT_EQ(V(pieces.begin(), pieces.end()), V({"-", "-", "-"}));
}

// Property: Digits(individual_digits) isolates every digit; without it, digit runs stay together.
TEST(PreTokenizer, Digits) {
  for (bool individual : {true, false}) {
    Json j = MakeJson({"12", "123"}, {{"1", "2"}, {"12", "3"}});
    j["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", Json::array({{{"type", "Digits"}, {"individual_digits", individual}},
                                                         {{"type", "ByteLevel"}, {"add_prefix_space", false},
                                                          {"use_regex", false}}})}};
    auto t = Load(j);
    ASSERT_TRUE(t);
    EXPECT_EQ(Pieces(*t, "a123b"), individual ? V({"a", "1", "2", "3", "b"}) : V({"a", "123", "b"}));
  }
}

// Property: ByteLevel add_prefix_space prepends a space to a text not starting with one; use_regex splits with the
// GPT-2 pattern (" hi" and " there" are separate words, so no merge crosses them).
TEST(PreTokenizer, ByteLevelPrefixSpaceAndRegex) {
  Json j = MakeJson({" h", " hi", "i ", "i t"}, {{" ", "h"}, {" h", "i"}, {"i", " "}, {"i ", "t"}});
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  auto t = Load(j);
  ASSERT_TRUE(t);
  EXPECT_EQ(Pieces(*t, "hi"), V({" hi"}));
  EXPECT_EQ(Pieces(*t, " hi"), V({" hi"}));
  EXPECT_EQ(Pieces(*t, "hi there"), V({" hi", " ", "t", "h", "e", "r", "e"}));
  // After a Split, every piece gets its own prefix space (HF applies ByteLevel per split).
  Json seq = j;
  seq["pre_tokenizer"] = {{"type", "Sequence"},
                          {"pretokenizers", Json::array({{{"type", "Split"}, {"pattern", {{"String", "-"}}},
                                                          {"behavior", "Isolated"}, {"invert", false}},
                                                         {{"type", "ByteLevel"}, {"add_prefix_space", true},
                                                          {"use_regex", false}}})}};
  auto per_split = Load(seq);
  EXPECT_EQ(Pieces(*per_split, "hi-hi"), V({" hi", " ", "-", " hi"}));
  j["pre_tokenizer"]["use_regex"] = false;
  j["pre_tokenizer"]["add_prefix_space"] = false;
  auto whole = Load(j);
  EXPECT_EQ(Pieces(*whole, "hi t"), V({"h", "i t"}));
}

// Property: invalid UTF-8 input is an InvalidArgument error that names the byte offset of the bad sequence.
TEST(Bpe, InvalidUtf8NamesOffset) {
  auto t = Load(MakeJson({}, {}));
  auto r = t->Encode("abc\xC3(def");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("byte 3"), std::string_view::npos) << r.status();
  EXPECT_FALSE(t->Encode("\xED\xA0\x80").ok());  // a surrogate
  EXPECT_TRUE(t->Encode("").ok());
  EXPECT_TRUE(t->Encode("")->empty());
}

// Property: EncodeBatch returns exactly the sequential Encode results in input order, for any thread count, and
// reports the first failing input by index.
TEST(Bpe, EncodeBatchEqualsSequential) {
  auto t = Load(MakeJson({"ab", "abc"}, {{"a", "b"}, {"ab", "c"}}));
  std::vector<std::string> texts;
  std::mt19937 rng(7);
  for (int i = 0; i < 500; ++i) {
    std::string s;
    const int n = static_cast<int>(rng() % 60);
    for (int k = 0; k < n; ++k) s.push_back("abc d\n"[rng() % 6]);
    texts.push_back(s);
  }
  std::vector<std::vector<TokenId>> want;
  for (const auto& s : texts) want.push_back(*t->Encode(s));
  for (int threads : {0, 1, 2, 7}) {
    auto got = EncodeBatch(*t, texts, threads);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, want) << threads;
  }
  texts[300] = "bad\xFF";
  texts[400] = "\xFF";
  auto bad = EncodeBatch(*t, texts, 3);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("text 300"), std::string_view::npos) << bad.status();
}

// Property: per-thread word caches never leak results between tokenizers, however many are used in turn on one
// thread (more than the thread keeps caches for).
TEST(Bpe, CachesAreIsolatedPerTokenizer) {
  std::vector<std::unique_ptr<Tokenizer>> toks;
  toks.push_back(Load(MakeJson({"ab", "abc"}, {{"a", "b"}, {"ab", "c"}})));
  toks.push_back(Load(MakeJson({"bc", "abc"}, {{"b", "c"}, {"a", "bc"}})));
  toks.push_back(Load(MakeJson({"ab"}, {{"a", "b"}})));
  toks.push_back(Load(MakeJson({"bc"}, {{"b", "c"}})));
  toks.push_back(Load(MakeJson({}, {})));
  const V want[] = {{"abc"}, {"abc"}, {"ab", "c"}, {"a", "bc"}, {"a", "b", "c"}};
  for (int round = 0; round < 3; ++round) {
    for (size_t k = 0; k < toks.size(); ++k) EXPECT_EQ(Pieces(*toks[k], "abc"), want[k]) << k;
  }
  toks[0].reset();
  toks[0] = Load(MakeJson({}, {}));
  EXPECT_EQ(Pieces(*toks[0], "abc"), V({"a", "b", "c"}));
}

// Property: the hand-written scanner for the Qwen2/3 and Llama 3 split patterns finds exactly the matches PCRE2
// (with Oniguruma's \s) finds, on random strings over the characters where the alternatives interact.
TEST(PreTokenizer, FastScannerEqualsPcre2) {
  const std::string patterns[] = {
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
      "\\s+(?!\\S)|\\s+",
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
      "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"};
  const std::vector<std::string> alphabet = {
      "a", "s", "S", "t", "r", "e", "E", "v", "l", "L", "m", "d", "D", "'", "'", "1", "7", " ", " ", " ", "\n", "\r",
      "\t", "\v", "\f", "\xC2\xA0", "\xE1\xA0\x8E", "\xE3\x80\x80", "\xE2\x80\xA8", "\xC2\x85", ".", "!", "-", "$",
      "\xC5\xBF", "\xE4\xBD\xA0", "\xCC\x81", "\xF0\x9F\x98\x80", "\xD9\xA3", "\xC2\xB2", "\xE2\x80\x8B", "_"};
  std::mt19937 rng(12345);
  for (const auto& pattern : patterns) {
    auto fast = MakeFastScanner(pattern);
    ASSERT_NE(fast, nullptr);
    auto pcre = CompilePcre2Pattern(pattern);
    ASSERT_TRUE(pcre.ok()) << pcre.status();
    for (int iter = 0; iter < 20000; ++iter) {
      std::string s;
      const int n = 1 + static_cast<int>(rng() % 12);
      for (int k = 0; k < n; ++k) s += alphabet[rng() % alphabet.size()];
      MatchList a, b;
      fast->FindAll(s, &a);
      (*pcre)->FindAll(s, &b);
      ASSERT_EQ(a, b) << "input: " << Json(s).dump();
    }
  }
}

}  // namespace
}  // namespace distill::tok
