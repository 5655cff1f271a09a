// The shard builder's text mode (BuildOptions::kind = kText, `distill build --text`): plain {"text", "id"?} lines
// become tokens + EOS with loss on every token, packed and split like traces. What each test proves is in its
// comment.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "data/build/builder.h"
#include "data/build/fingerprint.h"
#include "data/shard/shard.h"
#include "gtest/gtest.h"
#include "tests/testing/shard_documents.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/node_reference.h"
#include "tokenizers/bpe_trainer.h"
#include "tokenizers/model_folder.h"

namespace distill::build {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using Doc = testing::ShardDocument;

std::string TempDir(const std::string& name) { return testing::FreshDir("distill-shard-text", name); }
using testing::ReadFile;

// Problem → answer lines like the demo's pretraining text, with ids shared by pairs of lines.
std::vector<json> Texts(int count) {
  std::vector<json> out;
  for (int i = 0; i < count; ++i) {
    const int a = (i * 37) % 1000, b = (i * 91) % 1000;
    std::string text = absl::StrCat("Problem: what is ", a, " + ", b, "?\nAnswer: ", a + b);
    for (int k = 0; k < i % 9; ++k) absl::StrAppend(&text, " Check: ", a, " plus ", b, " is ", a + b, ".");
    if (i % 11 == 0) text += " 中文 😀";
    json line = {{"text", text}};
    if (i % 4 != 3) line["id"] = absl::StrCat("q", i / 2);  // every fourth line has no id
    out.push_back(std::move(line));
  }
  return out;
}

std::string WriteLines(const std::string& dir, const std::vector<json>& lines,
                       const std::vector<std::string>& raw = {}) {
  const std::string path = dir + "/text.jsonl";
  std::ofstream out(path, std::ios::binary);
  for (const json& l : lines) out << l.dump() << "\n";
  for (const std::string& l : raw) out << l << "\n";
  return path;
}

using testing::Documents;

BuildOptions TextOptions(const std::string& input, const std::string& out, const std::string& model) {
  BuildOptions o;
  o.kind = InputKind::kText;
  o.inputs = {input};
  o.model = model;
  o.out = out;
  o.seq_len = 256;
  o.threads = 2;
  o.chunk_lines = 7;
  o.pack_window = 30;
  return o;
}

// A tiny model folder like the demo's: a BPE trained here, eos <|im_end|>, no chat template.
std::string TinyModel(const std::string& dir, bool with_eos = true) {
  std::vector<std::string> corpus;
  for (const json& t : Texts(200)) corpus.push_back(t["text"]);
  tok::BpeTrainOptions o;
  o.vocab_size = 400;
  o.special_tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  auto trained = tok::TrainByteLevelBpe(corpus, o);
  EXPECT_TRUE(trained.ok()) << trained.status();
  tok::TokenizerFolderOptions folder;
  if (with_eos) folder.eos_token = "<|im_end|>";
  folder.pad_token = "<|endoftext|>";
  EXPECT_TRUE(tok::WriteTokenizerFolder(dir, *trained, folder).ok());
  return dir;
}

// Property (round trip): with a real vocabulary (Qwen3) and with a tiny trained one without a chat template, every
// document of every row of both splits decodes to exactly one input text followed by the EOS token, its ids are
// the tokenizer's encoding of the text plus the EOS id, its loss mask is all 1, every text appears exactly once,
// and the manifest says "kind": "text" with an empty template fingerprint and the model's tokenizer fingerprint.
TEST(ShardText, RowsDecodeToTheTextsPlusEos) {
  const std::string dir = TempDir("roundtrip");
  const std::vector<json> texts = Texts(150);
  const std::string input = WriteLines(dir, texts);
  for (const std::string& model_dir : {testing::LenmlModel("qwen3"), TinyModel(dir + "/tiny")}) {
    SCOPED_TRACE(model_dir);
    BuildOptions o = TextOptions(input, dir + "/shards", model_dir);
    o.val_fraction = 0.3;
    auto report = BuildShards(o);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->samples, 150);
    EXPECT_EQ(report->bad_lines, 0);
    EXPECT_EQ(report->loss_tokens, report->tokens);
    EXPECT_GT(report->validation.samples, 0);
    auto model = tok::LoadModelTokenization(model_dir);
    ASSERT_TRUE(model.ok());
    const int32_t eos = *model->tokenizer->PieceToId("<|im_end|>");
    std::multiset<std::string> expected;
    for (const json& t : texts) expected.insert(t["text"].get<std::string>() + "<|im_end|>");
    std::multiset<std::string> got;
    for (const std::string split : {"train", "validation"}) {
      auto set = shard::ShardSet::Open(o.out, split);
      ASSERT_TRUE(set.ok()) << set.status();
      for (const Doc& d : Documents(**set)) {
        auto decoded = model->tokenizer->Decode(d.first);
        ASSERT_TRUE(decoded.ok());
        got.insert(*decoded);
        EXPECT_EQ(d.first.back(), eos);
        EXPECT_TRUE(std::all_of(d.second.begin(), d.second.end(), [](uint8_t m) { return m == 1; }));
        const std::string text = decoded->substr(0, decoded->size() - std::string("<|im_end|>").size());
        auto ids = model->tokenizer->Encode(text);
        ASSERT_TRUE(ids.ok());
        ids->push_back(eos);
        EXPECT_EQ(*ids, d.first);
      }
    }
    EXPECT_EQ(got, expected);
    auto manifest = shard::ReadManifest(o.out);
    ASSERT_TRUE(manifest.ok()) << manifest.status();
    EXPECT_EQ((*manifest)["kind"], "text");
    EXPECT_EQ((*manifest)["template_fingerprint"], "");
    EXPECT_EQ((*manifest)["tokenizer_fingerprint"], TokenizerFingerprint(*model));
    EXPECT_EQ((*manifest)["tokenizer"]["eos_token"], "<|im_end|>");
  }
}

// Property: a tokenizer config that adds BOS (DeepSeek-V3: add_bos_token true) gets BOS first in every document,
// as `tokenizer(text)` would, and EOS last.
TEST(ShardText, BosWhenTheTokenizerConfigAddsIt) {
  const std::string dir = TempDir("bos");
  const std::string model_dir = testing::LenmlModel("deepseek_v3");
  BuildOptions o = TextOptions(WriteLines(dir, Texts(20)), dir + "/shards", model_dir);
  o.seq_len = 512;
  ASSERT_TRUE(BuildShards(o).ok());
  auto model = tok::LoadModelTokenization(model_dir);
  ASSERT_TRUE(model.ok());
  ASSERT_TRUE(model->add_bos_token);
  const int32_t bos = *model->tokenizer->PieceToId(*model->bos_token);
  const int32_t eos = *model->tokenizer->PieceToId(*model->eos_token);
  auto set = shard::ShardSet::Open(o.out, "train");
  ASSERT_TRUE(set.ok());
  const auto docs = Documents(**set);
  ASSERT_EQ(docs.size(), 20u);
  for (const Doc& d : docs) {
    EXPECT_EQ(d.first.front(), bos);
    EXPECT_EQ(d.first.back(), eos);
    EXPECT_EQ(std::count(d.first.begin(), d.first.end(), bos), 1);
  }
}

// Property (determinism): 1, 2 and 3 threads, and reading 7 lines or 1 line at a time, give byte-identical shard
// files and manifests.
TEST(ShardText, ByteIdenticalWhateverTheThreadCount) {
  const std::string dir = TempDir("determinism");
  const std::string input = WriteLines(dir, Texts(120), {"{bad json", R"({"id": "x"})"});
  const std::string model = TinyModel(dir + "/tiny");
  BuildOptions a = TextOptions(input, dir + "/one", model);
  a.threads = 1;
  a.val_fraction = 0.25;
  BuildOptions b = a;
  b.threads = 2;
  b.out = dir + "/two";
  BuildOptions c = a;
  c.threads = 3;
  c.chunk_lines = 1;
  c.out = dir + "/three";
  ASSERT_TRUE(BuildShards(a).ok());
  ASSERT_TRUE(BuildShards(b).ok());
  ASSERT_TRUE(BuildShards(c).ok());
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(a.out)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_GE(names.size(), 3u);  // manifest, train, validation
  for (const std::string& n : names) {
    EXPECT_EQ(ReadFile(a.out + "/" + n), ReadFile(b.out + "/" + n)) << n << " differs (2 threads)";
    EXPECT_EQ(ReadFile(a.out + "/" + n), ReadFile(c.out + "/" + n)) << n << " differs (3 threads, chunk 1)";
  }
}

// Property: bad lines — not JSON, not an object, no "text", "text" not a string, empty "text", an "id" that is
// neither a string nor an integer, invalid UTF-8, special-token text — are skipped and reported with
// "file:line" and the reason; the good lines around them are all built.
TEST(ShardText, BadLinesReportedWithLineNumbers) {
  const std::string dir = TempDir("bad");
  std::vector<json> good = Texts(5);
  const std::string path = dir + "/text.jsonl";
  {
    std::ofstream out(path, std::ios::binary);
    out << good[0].dump() << "\n";                            // 1
    out << "{not json\n";                                     // 2
    out << "[1, 2]\n";                                        // 3
    out << R"({"id": "a"})" << "\n";                          // 4
    out << R"({"text": 42})" << "\n";                         // 5
    out << good[1].dump() << "\n";                            // 6
    out << R"({"text": ""})" << "\n";                         // 7
    out << R"({"text": "ok", "id": [1]})" << "\n";            // 8
    out << "{\"text\": \"bad \xC3\x28 utf8\"}\n";             // 9
    out << "\n";                                              // 10: blank, not counted
    out << R"({"text": "a <|im_end|> inside"})" << "\n";      // 11
    out << good[2].dump() << "\n";                            // 12
    out << R"({"text": "integer id", "id": 7})" << "\n";      // 13: good
  }
  BuildOptions o = TextOptions(path, dir + "/shards", testing::LenmlModel("qwen3"));
  auto report = BuildShards(o);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->lines, 12);
  EXPECT_EQ(report->samples, 4);
  EXPECT_EQ(report->bad_lines, 8);
  std::map<int, std::string> bad;
  for (const auto& [where, error] : report->bad) {
    ASSERT_EQ(where.rfind(path + ":", 0), 0u) << where;
    bad[std::stoi(where.substr(path.size() + 1))] = error;
    EXPECT_EQ(error.rfind(where + ": ", 0), 0u) << "error does not start with its place: " << error;
  }
  ASSERT_EQ(bad.size(), 8u);
  EXPECT_NE(bad[2].find("not valid JSON"), std::string::npos) << bad[2];
  EXPECT_NE(bad[3].find("expected a JSON object"), std::string::npos) << bad[3];
  EXPECT_NE(bad[4].find("missing field 'text'"), std::string::npos) << bad[4];
  EXPECT_NE(bad[5].find("expected a string"), std::string::npos) << bad[5];
  EXPECT_NE(bad[7].find("'text' is empty"), std::string::npos) << bad[7];
  EXPECT_NE(bad[8].find("field 'id'"), std::string::npos) << bad[8];
  EXPECT_NE(bad[9].find("invalid UTF-8"), std::string::npos) << bad[9];
  EXPECT_NE(bad[11].find("special token \"<|im_end|>\""), std::string::npos) << bad[11];
  auto manifest = shard::ReadManifest(o.out);
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ((*manifest)["bad_lines"].size(), 8u);
  EXPECT_EQ((*manifest)["counts"]["bad_lines"], 8);
}

// Property (split): the split follows IsValidation of the line's "id" (lines sharing an id land together), or of
// "line N" when it has none, so it is stable under reordering of ids and reruns.
TEST(ShardText, SplitByIdOrLineNumber) {
  const std::string dir = TempDir("split");
  const std::vector<json> texts = Texts(200);
  const std::string model_dir = testing::LenmlModel("qwen3");
  BuildOptions o = TextOptions(WriteLines(dir, texts), dir + "/shards", model_dir);
  o.val_fraction = 0.4;
  auto report = BuildShards(o);
  ASSERT_TRUE(report.ok()) << report.status();
  std::map<std::string, bool> expected_validation;  // text + eos → split
  int expected_val = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string key = texts[i].contains("id") ? texts[i]["id"].get<std::string>() : absl::StrCat("line ", i + 1);
    const bool val = IsValidation(key, o.val_fraction);
    expected_validation[texts[i]["text"].get<std::string>() + "<|im_end|>"] = val;
    expected_val += val;
  }
  EXPECT_GT(expected_val, 20);
  EXPECT_EQ(report->validation.samples, expected_val);
  auto model = tok::LoadModelTokenization(model_dir);
  ASSERT_TRUE(model.ok());
  for (const std::string split : {"train", "validation"}) {
    auto set = shard::ShardSet::Open(o.out, split);
    ASSERT_TRUE(set.ok()) << set.status();
    for (const Doc& d : Documents(**set)) {
      auto decoded = model->tokenizer->Decode(d.first);
      ASSERT_TRUE(decoded.ok());
      ASSERT_TRUE(expected_validation.contains(*decoded));
      EXPECT_EQ(expected_validation[*decoded], split == "validation") << *decoded;
    }
  }
}

// Property: a tokenizer without an eos_token is refused up front with a message naming the model and the fix
// (each text must end with EOS for the model to learn to stop); text mode needs no chat template.
TEST(ShardText, RefusesATokenizerWithoutEos) {
  const std::string dir = TempDir("noeos");
  const std::string model = TinyModel(dir + "/tiny", /*with_eos=*/false);
  auto report = BuildShards(TextOptions(WriteLines(dir, Texts(3)), dir + "/shards", model));
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(report.status().message().find("no eos_token"), std::string::npos) << report.status();
  EXPECT_NE(report.status().message().find(model), std::string::npos) << report.status();
}

// Property (compatibility): trace builds record "kind": "traces", and a manifest without "kind" (built before text
// mode existed) still opens.
TEST(ShardText, TraceManifestsSayTracesAndOldManifestsStillOpen) {
  const std::string dir = TempDir("traces");
  const std::string path = dir + "/accepted.jsonl";
  {
    std::ofstream out(path);
    out << json{{"prompt_id", "p1"},
                {"sample_index", 0},
                {"messages", json::array({{{"role", "user"}, {"content", "1+1?"}}})},
                {"reasoning", "one plus one"},
                {"answer", "2"},
                {"finish_reason", "stop"}}
               .dump()
        << "\n";
  }
  BuildOptions o;
  o.inputs = {path};
  o.model = testing::LenmlModel("qwen3");
  o.out = dir + "/shards";
  o.seq_len = 256;
  ASSERT_TRUE(BuildShards(o).ok());
  auto manifest = shard::ReadManifest(o.out);
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ((*manifest)["kind"], "traces");
  EXPECT_NE((*manifest)["template_fingerprint"], "");
  json old = *manifest;
  old.erase("kind");
  ASSERT_TRUE(shard::WriteFileAtomic(o.out + "/manifest.json", old.dump(2)).ok());
  auto set = shard::ShardSet::Open(o.out, "train");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ((*set)->num_rows(), 1u);
}

}  // namespace
}  // namespace distill::build
