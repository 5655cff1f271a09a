// The shard builder with the real Qwen3 vocabulary and template: rows hold exactly the training views of the
// accepted traces (no sample split, boundaries exact), output is byte-identical for any thread count, packing
// beats one-sample-per-row on long-tailed lengths, prompts never straddle the split, bad lines are skipped and
// reported with line numbers, and a different tokenizer's fingerprint is refused.
#include "data/build/builder.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "data/build/fingerprint.h"
#include "data/shard/shard.h"
#include "gtest/gtest.h"
#include "tests/testing/shard_documents.h"
#include "tests/testing/node_reference.h"
#include "tokenizers/training_view.h"

namespace distill::build {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using Doc = testing::ShardDocument;

std::string TempDir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("distill-build-" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string kWords[] = {"so", "the", "sum", "is", "then", "we", "check", "x", "=", "7", "because",
                              "wait", "let", "me", "verify", "again", "squared", "plus", "two", "hence"};

// `count` traces over `count / samples_per_prompt` prompts; reasoning lengths long-tailed (most short, a few
// several times longer), so one-sample-per-row wastes most of each row.
std::vector<json> SyntheticTraces(int count, int samples_per_prompt, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<json> traces;
  for (int i = 0; i < count; ++i) {
    const int prompt = i / samples_per_prompt;
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const int words = 5 + static_cast<int>(12.0 / std::pow(1.0 - u(rng) * 0.97, 1.2));  // heavy tail
    std::string reasoning = absl::StrCat("Trace ", i, ":");
    for (int w = 0; w < words; ++w) absl::StrAppend(&reasoning, " ", kWords[rng() % 20]);
    traces.push_back({{"prompt_id", absl::StrCat("p", prompt)},
                      {"sample_index", i % samples_per_prompt},
                      {"messages", json::array({{{"role", "user"},
                                                 {"content", absl::StrCat("Question ", prompt, ": what is 3 + 4?")}}})},
                      {"reasoning", reasoning},
                      {"answer", "The answer is \\boxed{7}."},
                      {"finish_reason", "stop"}});
  }
  return traces;
}

std::string WriteTraces(const std::string& dir, const std::vector<json>& traces,
                        const std::vector<std::string>& extra_lines = {}) {
  const std::string path = dir + "/accepted.jsonl";
  std::ofstream out(path, std::ios::binary);
  for (const json& t : traces) out << t.dump() << "\n";
  for (const std::string& l : extra_lines) out << l << "\n";
  return path;
}

// The training views of `traces`, keyed by ids, with the prompt id of each.
std::map<std::vector<int32_t>, std::pair<std::vector<uint8_t>, std::string>> Views(const std::vector<json>& traces) {
  auto model = tok::LoadModelTokenization(testing::LenmlModel("qwen3"));
  EXPECT_TRUE(model.ok()) << model.status();
  auto prepared = tok::PrepareTrainingTemplate(*model);
  EXPECT_TRUE(prepared.ok());
  std::map<std::vector<int32_t>, std::pair<std::vector<uint8_t>, std::string>> views;
  for (const json& t : traces) {
    tok::TraceExample e;
    e.prompt = t["messages"];
    e.reasoning = t["reasoning"];
    e.answer = t["answer"];
    auto view = tok::RenderTrainingView(*prepared, e);
    EXPECT_TRUE(view.ok()) << view.status();
    views[std::vector<int32_t>(view->ids.begin(), view->ids.end())] = {view->loss_mask, t["prompt_id"]};
  }
  return views;
}

using testing::Documents;

BuildOptions Options(const std::string& input, const std::string& out) {
  BuildOptions o;
  o.inputs = {input};
  o.model = testing::LenmlModel("qwen3");
  o.out = out;
  o.seq_len = 1024;
  o.threads = 2;
  o.chunk_lines = 13;
  o.pack_window = 40;
  o.config = {{"build", {{"seq_len", 1024}}}};
  return o;
}

// Property (round trip, packing, split): every document in every row of both splits is exactly one trace's
// training view (ids and loss mask), every trace appears once, no row exceeds the sequence length, and no
// prompt id has samples on both sides of the train/validation split.
TEST(ShardBuild, RowsHoldExactlyTheTrainingViews) {
  const std::string dir = TempDir("roundtrip");
  const auto traces = SyntheticTraces(120, 3, 1);
  BuildOptions o = Options(WriteTraces(dir, traces), dir + "/shards");
  o.val_fraction = 0.3;
  auto report = BuildShards(o);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->samples, 120);
  EXPECT_EQ(report->bad_lines, 0);
  EXPECT_GT(report->train.samples, 0);
  EXPECT_GT(report->validation.samples, 0);
  auto views = Views(traces);
  ASSERT_EQ(views.size(), 120u);
  std::map<std::string, std::set<std::string>> sides;  // prompt id → splits
  size_t seen = 0;
  for (const std::string split : {"train", "validation"}) {
    auto set = shard::ShardSet::Open(o.out, split);
    ASSERT_TRUE(set.ok()) << set.status();
    for (size_t r = 0; r < (*set)->num_rows(); ++r) EXPECT_LE((*set)->Row(r).ids.size(), 1024u);
    for (const Doc& d : Documents(**set)) {
      auto it = views.find(d.first);
      ASSERT_NE(it, views.end()) << "a document in " << split << " is not a whole training view";
      EXPECT_EQ(d.second, it->second.first) << "loss mask differs from the training view";
      sides[it->second.second].insert(split);
      ++seen;
    }
  }
  EXPECT_EQ(seen, 120u);
  for (const auto& [prompt, s] : sides) EXPECT_EQ(s.size(), 1u) << prompt << " is on both sides";
  // The tokenizer's decoding of a row's tokens gives back the rendered conversation text.
  auto model = tok::LoadModelTokenization(testing::LenmlModel("qwen3"));
  auto set = shard::ShardSet::Open(o.out, "train");
  const auto row = (*set)->Row(0);
  auto text = model->tokenizer->Decode(std::vector<tok::TokenId>(row.ids.begin(), row.ids.end()));
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("<|im_start|>user\nQuestion "), std::string::npos);
}

// Property (determinism): builds with 1, 2 and 3 threads, and with the input read 13 lines or 1 line at a time,
// give byte-identical shard files and manifests.
TEST(ShardBuild, ByteIdenticalWhateverTheThreadCount) {
  const std::string dir = TempDir("determinism");
  const std::string input = WriteTraces(dir, SyntheticTraces(90, 2, 2), {"{bad json"});
  BuildOptions a = Options(input, dir + "/one");
  a.threads = 1;
  a.val_fraction = 0.25;
  BuildOptions b = a;
  b.threads = 2;
  b.out = dir + "/two";
  BuildOptions c = a;  // other chunking of the input into tokenizer batches, more threads than cores
  c.threads = 3;
  c.chunk_lines = 1;
  c.out = dir + "/three";
  ASSERT_TRUE(BuildShards(a).ok());
  ASSERT_TRUE(BuildShards(b).ok());
  ASSERT_TRUE(BuildShards(c).ok());
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(a.out)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  std::vector<std::string> names_b;
  for (const auto& e : fs::directory_iterator(b.out)) names_b.push_back(e.path().filename().string());
  std::sort(names_b.begin(), names_b.end());
  EXPECT_EQ(names, names_b);
  EXPECT_GE(names.size(), 3u);
  for (const std::string& n : names) {
    EXPECT_EQ(ReadFile(a.out + "/" + n), ReadFile(b.out + "/" + n)) << n << " differs";
    EXPECT_EQ(ReadFile(a.out + "/" + n), ReadFile(c.out + "/" + n)) << n << " differs (chunk_lines 1)";
  }
}

// Property (packing): on a long-tailed length distribution best-fit-decreasing packing leaves far less padding
// than one sample per row, and each mode reports both shares consistently.
TEST(ShardBuild, PackingCutsPaddingOnLongTailedLengths) {
  const std::string dir = TempDir("packing");
  const std::string input = WriteTraces(dir, SyntheticTraces(200, 1, 3));
  BuildOptions packed = Options(input, dir + "/packed");
  BuildOptions unpacked = packed;
  unpacked.pack = false;
  unpacked.out = dir + "/unpacked";
  auto p = BuildShards(packed);
  auto u = BuildShards(unpacked);
  ASSERT_TRUE(p.ok() && u.ok());
  EXPECT_EQ(u->rows, 200);
  EXPECT_LT(p->rows, u->rows / 3);
  EXPECT_LT(p->padding_share * 4, u->padding_share) << p->padding_share << " vs " << u->padding_share;
  EXPECT_DOUBLE_EQ(p->padding_share, p->packed_padding_share);
  EXPECT_DOUBLE_EQ(u->padding_share, u->unpacked_padding_share);
  EXPECT_DOUBLE_EQ(p->unpacked_padding_share, u->unpacked_padding_share);
  EXPECT_DOUBLE_EQ(u->packed_padding_share, p->packed_padding_share);
  EXPECT_EQ(p->padding_tokens, p->rows * 1024 - p->tokens);
}

// Property: best-fit-decreasing never overfills a row, places every sample once, and is deterministic.
TEST(ShardBuild, BestFitDecreasingInvariants) {
  std::mt19937 rng(4);
  std::vector<uint32_t> lengths;
  for (int i = 0; i < 500; ++i) lengths.push_back(1 + rng() % 100);
  const auto rows = PackBestFitDecreasing(lengths, 100);
  std::vector<int> placed(lengths.size(), 0);
  for (const auto& row : rows) {
    uint32_t sum = 0;
    for (size_t i : row) {
      sum += lengths[i];
      ++placed[i];
    }
    EXPECT_LE(sum, 100u);
  }
  for (int p : placed) EXPECT_EQ(p, 1);
  EXPECT_EQ(rows, PackBestFitDecreasing(lengths, 100));
}

// Property (bad input): malformed JSON, missing fields, invalid UTF-8 and special-token text are skipped, counted
// and reported with their line numbers; traces longer than the sequence length are dropped, or truncated on
// request, and counted either way.
TEST(ShardBuild, BadLinesSkippedAndLongTracesCounted) {
  const std::string dir = TempDir("bad");
  auto traces = SyntheticTraces(10, 1, 5);
  json special = traces[0];
  special["answer"] = "done <|im_end|> sneaky";
  json missing = traces[1];
  missing.erase("reasoning");
  json long_trace = traces[2];
  long_trace["prompt_id"] = "long";
  std::string big;
  for (int i = 0; i < 400; ++i) big += " lengthy words here";
  long_trace["reasoning"] = big;
  const std::string input =
      WriteTraces(dir, traces,
                  {"{not json", missing.dump(), std::string("{\"prompt_id\": \"\xff\xfe\"}"), special.dump(),
                   "", long_trace.dump()});
  BuildOptions o = Options(input, dir + "/drop");
  o.seq_len = 512;
  auto r = BuildShards(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->bad_lines, 4);
  ASSERT_EQ(r->bad.size(), 4u);
  EXPECT_EQ(r->bad[0].first, input + ":11");
  EXPECT_EQ(r->bad[1].first, input + ":12");
  EXPECT_EQ(r->bad[2].first, input + ":13");
  EXPECT_EQ(r->bad[3].first, input + ":14");
  EXPECT_NE(r->bad[3].second.find("<|im_end|>"), std::string::npos) << r->bad[3].second;
  EXPECT_EQ(r->dropped, 1);
  EXPECT_EQ(r->truncated, 0);
  EXPECT_EQ(r->samples, 10);
  o.truncate = true;
  o.out = dir + "/truncate";
  auto t = BuildShards(o);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->dropped, 0);
  EXPECT_EQ(t->truncated, 1);
  EXPECT_EQ(t->samples, 11);
  const json m = json::parse(ReadFile(o.out + "/manifest.json"));
  EXPECT_EQ(m["counts"]["truncated"], 1);
  EXPECT_EQ(m["counts"]["bad_lines"], 4);
  EXPECT_EQ(m["bad_lines"][0]["where"], input + ":11");
}

// Property: the reader refuses shards when opened for a tokenizer with a different fingerprint (Llama 3's), and
// accepts them for the tokenizer they were built with.
TEST(ShardBuild, DifferentTokenizerFingerprintRefused) {
  const std::string dir = TempDir("fingerprint");
  BuildOptions o = Options(WriteTraces(dir, SyntheticTraces(8, 1, 6)), dir + "/shards");
  auto r = BuildShards(o);
  ASSERT_TRUE(r.ok()) << r.status();
  auto qwen = tok::LoadModelTokenization(testing::LenmlModel("qwen3"));
  auto llama = tok::LoadModelTokenization(testing::LenmlModel("llama3"));
  ASSERT_TRUE(qwen.ok() && llama.ok());
  EXPECT_EQ(TokenizerFingerprint(*qwen), r->tokenizer_fingerprint);
  shard::OpenOptions same;
  same.expected_tokenizer_fingerprint = TokenizerFingerprint(*qwen);
  EXPECT_TRUE(shard::ShardSet::Open(o.out, "train", same).ok());
  shard::OpenOptions other;
  other.expected_tokenizer_fingerprint = TokenizerFingerprint(*llama);
  auto set = shard::ShardSet::Open(o.out, "train", other);
  ASSERT_FALSE(set.ok());
  EXPECT_NE(std::string(set.status().message()).find("manifest.json"), std::string::npos);
}

}  // namespace
}  // namespace distill::build
