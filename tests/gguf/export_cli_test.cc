// distill export around the edges: the mixing rules over many layers, errors that name what is wrong, the Ollama
// Modelfile, a training template other than the folder's (--template deepseek-r1), and the CLI verbs.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/gguf/export_test_util.h"
#include "tests/testing/node_reference.h"
#include "tokenizers/chat_template.h"
#include "tokenizers/model_folder.h"
#include "tools/gguf/exporter.h"
#include "tools/gguf/gguf_file.h"

namespace distill::gguf {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ModelSpec;
using testing::SourceTensor;

// TensorType follows gguf.md's rules for every tensor kind of a 32-layer model (use_more_bits picks layers 0-3,
// 28-31 and every third between for attn_v / ffn_down under the _M mixes; Q4_K_S gives attn_v of layers 0-3 and
// ffn_down of layers 0-3 Q5_K; a 70B's attn_v goes from Q4_K to Q5_K), including the fallbacks for rows that do
// not fill K-quant blocks.
TEST(ExportRulesTest, TensorTypesFollowTheMixingRules) {
  const std::vector<std::string> kinds = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up",
                                          "ffn_down"};
  int checked = 0;
  for (const std::string type : {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q5_k", "q4_k_m", "q5_k_m"}) {
    auto plan = ParseFileType(type);
    ASSERT_TRUE(plan.ok()) << type;
    for (const int64_t row : {4096, 96, 80}) {  // K-quant rows, 32-multiples, neither
      for (const int flags : {0, 1, 2, 3}) {
        const bool tied = flags & 1, is_70b = flags & 2;
        std::vector<std::string> names = {"token_embd.weight", "output.weight", "output_norm.weight"};
        for (int i = 0; i < 32; ++i)
          for (const std::string& k : kinds) names.push_back("blk." + std::to_string(i) + "." + k + ".weight");
        names.push_back("blk.3.attn_q.bias");
        for (const std::string& name : names) {
          const std::vector<int64_t> ne =
              name.ends_with("_norm.weight") || name.ends_with(".bias") ? std::vector<int64_t>{row}
                                                                        : std::vector<int64_t>{row, 64};
          EXPECT_EQ(TensorType(*plan, name, ne, 32, tied, is_70b),
                    testing::ExpectedType(type, name, ne, 32, tied, is_70b))
              << type << " " << name << " row " << row << (tied ? " tied" : "") << (is_70b ? " 70B" : "");
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 18000);
  // Spot checks written out by hand: Q4_K_M on a 32-layer model.
  auto plan = ParseFileType("Q4_K_M");  // case-insensitive
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->file_type, 15u);
  const std::vector<int64_t> ne = {4096, 4096};
  EXPECT_EQ(TensorType(*plan, "blk.3.attn_v.weight", ne, 32, false), GgmlType::kQ6_K);
  EXPECT_EQ(TensorType(*plan, "blk.4.attn_v.weight", ne, 32, false), GgmlType::kQ4_K);
  EXPECT_EQ(TensorType(*plan, "blk.6.ffn_down.weight", ne, 32, false), GgmlType::kQ6_K);  // (6-4)%3 == 2
  EXPECT_EQ(TensorType(*plan, "blk.7.ffn_down.weight", ne, 32, false), GgmlType::kQ4_K);
  EXPECT_EQ(TensorType(*plan, "blk.28.attn_v.weight", ne, 32, false), GgmlType::kQ6_K);
  EXPECT_EQ(TensorType(*plan, "blk.6.attn_q.weight", ne, 32, false), GgmlType::kQ4_K);
  EXPECT_EQ(TensorType(*plan, "output.weight", ne, 32, false), GgmlType::kQ6_K);
  EXPECT_EQ(TensorType(*plan, "token_embd.weight", ne, 32, false), GgmlType::kQ4_K);
  EXPECT_EQ(TensorType(*plan, "token_embd.weight", ne, 32, true), GgmlType::kQ6_K);
  EXPECT_EQ(TensorType(*plan, "blk.0.attn_q.weight", {1536, 896}, 28, false), GgmlType::kQ4_K);
  EXPECT_EQ(TensorType(*plan, "blk.0.attn_q.weight", {896, 896}, 28, false), GgmlType::kQ5_0);  // 896 % 256 != 0
  EXPECT_EQ(TensorType(*plan, "blk.0.ffn_down.weight", {4864, 896}, 28, false), GgmlType::kQ6_K);  // 19 × 256
  EXPECT_EQ(TensorType(*plan, "blk.4.ffn_down.weight", {4864, 896}, 28, false), GgmlType::kQ4_K);
  EXPECT_EQ(TensorType(*plan, "blk.0.attn_v.weight", {896, 128}, 28, false), GgmlType::kQ8_0);  // Q6_K fallback
  EXPECT_EQ(TensorType(*plan, "blk.0.attn_q.bias", {896}, 28, false), GgmlType::kF32);
  // A 70B (80 layers): attn_v of the layers use_more_bits skips gets Q5_K instead of Q4_K; nothing else changes.
  // (use_more_bits over 80 layers: 0-9, 70-79 and every third from 12.)
  EXPECT_EQ(TensorType(*plan, "blk.11.attn_v.weight", {8192, 1024}, 80, false, true), GgmlType::kQ5_K);
  EXPECT_EQ(TensorType(*plan, "blk.11.attn_v.weight", {8192, 1024}, 80, false, false), GgmlType::kQ4_K);
  EXPECT_EQ(TensorType(*plan, "blk.12.attn_v.weight", {8192, 1024}, 80, false, true), GgmlType::kQ6_K);
  EXPECT_EQ(TensorType(*plan, "blk.11.attn_q.weight", {8192, 8192}, 80, false, true), GgmlType::kQ4_K);
  EXPECT_EQ(TensorType(*plan, "blk.11.ffn_down.weight", {28672, 8192}, 80, false, true), GgmlType::kQ4_K);
  // Q5_K_M falls back to Q5_1 where Q4_K_M takes Q5_0, and both to F16 below 32-element blocks.
  auto q5 = ParseFileType("q5_k_m");
  ASSERT_TRUE(q5.ok());
  EXPECT_EQ(TensorType(*q5, "blk.0.attn_q.weight", {896, 896}, 28, false), GgmlType::kQ5_1);
  EXPECT_EQ(TensorType(*q5, "blk.0.attn_q.weight", {1536, 896}, 28, false), GgmlType::kQ5_K);
  EXPECT_EQ(TensorType(*q5, "blk.0.attn_q.weight", {80, 80}, 28, false), GgmlType::kF16);
  EXPECT_EQ(TensorType(*plan, "blk.0.attn_q.weight", {80, 80}, 28, false), GgmlType::kF16);
}

// --type values outside the list are refused with the list.
TEST(ExportErrorsTest, UnknownTypeNamesTheChoices) {
  auto plan = ParseFileType("q3_k_xl");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("\"q3_k_xl\""), std::string::npos) << plan.status();
  EXPECT_NE(plan.status().message().find("q4_k_m"), std::string::npos) << plan.status();
  ExportOptions options;
  options.model = "/nonexistent";
  options.out = testing::TempDir("errors") + "/x.gguf";
  options.type = "iq2_xxs";
  auto report = ExportGguf(options);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("iq2_xxs"), std::string::npos) << report.status();
  EXPECT_FALSE(fs::exists(options.out));
}

absl::Status ExportStatus(const std::string& folder, const std::string& type = "q8_0",
                          const std::string& template_override = "") {
  ExportOptions options;
  options.model = folder;
  options.out = folder + "/out.gguf";
  options.type = type;
  options.template_override = template_override;
  auto report = ExportGguf(options);
  EXPECT_FALSE(fs::exists(options.out)) << "no file is left behind on failure";
  return report.status();
}

void ExpectMentions(const absl::Status& status, const std::vector<std::string>& parts) {
  ASSERT_FALSE(status.ok());
  std::printf("  error: %s\n", status.ToString().c_str());  // for a reader of the log to judge the wording
  for (const std::string& part : parts)
    EXPECT_NE(status.message().find(part), std::string::npos) << "\"" << part << "\" not in: " << status;
}

// An -o naming an existing file that is not a GGUF (here the checkpoint's own weights, or a folder) is refused
// before anything is read, the file kept byte for byte; an earlier GGUF at -o is replaced.
TEST(ExportErrorsTest, OutputThatIsNotAGgufIsNotReplaced) {
  ModelSpec s{.arch = "qwen3", .vocabulary = "qwen3", .vocab_size = 151936, .hidden = 32, .intermediate = 64,
              .layers = 1, .heads = 2, .kv_heads = 1, .head_dim = 32, .dtype = hf::DType::kBF16};
  const std::string folder = testing::TempDir("errors-output");
  testing::WriteModelFolder(s, folder);
  const std::string weights = folder + "/model.safetensors";
  const auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string before = read(weights);
  ExportOptions options;
  options.model = folder;
  options.type = "q8_0";
  options.out = weights;
  auto refused = ExportGguf(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), weights + ": exists and is not a GGUF file; refusing to replace it (choose "
                                                  "another -o, or delete it first)");
  EXPECT_EQ(read(weights), before);
  options.out = folder;
  ExpectMentions(ExportGguf(options).status(), {folder + ": is a folder"});

  options.out = folder + "/student.gguf";
  ASSERT_TRUE(ExportGguf(options).ok());
  options.type = "f16";
  auto again = ExportGguf(options);  // replaces the first GGUF
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(fs::file_size(options.out), again->file_bytes);
  fs::remove_all(folder);
}

// A config.json for an architecture we do not export names the file and the key.
TEST(ExportErrorsTest, UnknownModelTypeNamesConfigAndKey) {
  ModelSpec s{.arch = "llama", .vocabulary = "llama3_1", .vocab_size = 128256, .hidden = 32, .intermediate = 64,
              .layers = 1, .heads = 2, .kv_heads = 1, .dtype = hf::DType::kBF16};
  const std::string folder = testing::TempDir("errors-model-type");
  testing::WriteModelFolder(s, folder);
  json config = testing::ConfigJson(s);
  config["model_type"] = "mistral";
  std::ofstream(fs::path(folder) / "config.json") << config.dump();
  ExpectMentions(ExportStatus(folder), {"config.json", "model_type", "mistral"});
  fs::remove_all(folder);
}

// A checkpoint tensor with no GGUF counterpart (here an MoE expert) is named, with the folder, instead of being
// silently dropped.
TEST(ExportErrorsTest, TensorWithoutGgufNameIsNamed) {
  ModelSpec s{.arch = "qwen3", .vocabulary = "qwen3", .vocab_size = 151936, .hidden = 32, .intermediate = 64,
              .layers = 1, .heads = 2, .kv_heads = 1, .head_dim = 32, .dtype = hf::DType::kBF16};
  const std::string folder = testing::TempDir("errors-tensor-name");
  const std::vector<SourceTensor> extra = {{"model.layers.0.mlp.experts.0.up_proj.weight", {64, 32},
                                            std::vector<float>(64 * 32, 0.5f)}};
  testing::WriteModelFolder(s, folder, &extra);
  ExpectMentions(ExportStatus(folder), {folder, "model.layers.0.mlp.experts.0.up_proj.weight", "qwen3"});
  fs::remove_all(folder);
}

// A 300,000-character tensor name is named like any other unknown tensor (the name matcher once recursed per
// character and overflowed the stack).
TEST(ExportErrorsTest, VeryLongTensorNameIsRefusedNotACrash) {
  ModelSpec s{.arch = "qwen3", .vocabulary = "qwen3", .vocab_size = 151936, .hidden = 32, .intermediate = 64,
              .layers = 1, .heads = 2, .kv_heads = 1, .head_dim = 32, .dtype = hf::DType::kBF16};
  const std::string folder = testing::TempDir("errors-long-name");
  const std::string name = "model.layers.0." + std::string(300000, 'x') + ".weight";
  const std::vector<SourceTensor> extra = {{name, {64, 32}, std::vector<float>(64 * 32, 0.5f)}};
  testing::WriteModelFolder(s, folder, &extra);
  ExpectMentions(ExportStatus(folder), {folder, "model.layers.0.xxxxxxxx", "(300022 bytes)"});
  fs::remove_all(folder);
}

// A byte-level BPE tokenizer.json whose pre-tokenizer llama.cpp has no name for is refused naming the file and the
// field (a GGUF with the wrong tokenizer.ggml.pre would tokenize differently from the trained model).
TEST(ExportErrorsTest, UnknownPreTokenizerNamesTokenizerJson) {
  ModelSpec s{.arch = "qwen3", .vocabulary = "qwen3", .vocab_size = 151936, .hidden = 32, .intermediate = 64,
              .layers = 1, .heads = 2, .kv_heads = 1, .head_dim = 32, .dtype = hf::DType::kBF16};
  const std::string folder = testing::TempDir("errors-pre");
  testing::WriteModelFolder(s, folder);
  json tj = json::parse(testing::ReadText(fs::path(folder) / "tokenizer.json"));
  tj["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                         {"use_regex", true}};  // GPT-2's own split: not a Qwen / Llama 3 / DeepSeek one
  std::ofstream(fs::path(folder) / "tokenizer.json") << tj.dump();
  ExpectMentions(ExportStatus(folder), {"tokenizer.json", "pre_tokenizer"});
  fs::remove_all(folder);
}

// A SentencePiece-style vocabulary (a Metaspace tokenizer.json, as Mistral's) is refused naming its tokenizer.json
// (today the tokenizer loader already refuses it for lacking byte tokens; vocab.cc would refuse it otherwise).
TEST(ExportErrorsTest, SentencePieceStyleVocabularyIsRefused) {
  ModelSpec s{.arch = "llama", .vocabulary = "llama3_1", .vocab_size = 128256, .hidden = 32, .intermediate = 64,
              .layers = 1, .heads = 2, .kv_heads = 1, .dtype = hf::DType::kBF16};
  const std::string folder = testing::TempDir("errors-spm");
  testing::WriteModelFolder(s, folder);
  const json tj = {
      {"version", "1.0"},
      {"added_tokens",
       json::array({{{"id", 0}, {"content", "<unk>"}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                     {"normalized", false}, {"special", true}},
                    {{"id", 1}, {"content", "<s>"}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                     {"normalized", false}, {"special", true}},
                    {{"id", 2}, {"content", "</s>"}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                     {"normalized", false}, {"special", true}}})},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}, {"split", false}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}, {"split", false}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", "<unk>"}, {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr}, {"fuse_unk", true}, {"byte_fallback", false},
        {"vocab", {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}, {"▁", 3}, {"a", 4}, {"▁a", 5}}},
        {"merges", json::array({"▁ a"})}}},
  };
  std::ofstream(fs::path(folder) / "tokenizer.json") << tj.dump();
  std::ofstream(fs::path(folder) / "tokenizer_config.json")
      << json({{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"chat_template", "{{ bos_token }}"}}).dump();
  ExpectMentions(ExportStatus(folder, "q8_0", "chatml"), {folder + "/tokenizer.json"});
  fs::remove_all(folder);
}

// A training template whose end-of-turn token the vocabulary lacks as a special token (DeepSeek-R1's template on
// the stock Llama 3.1 vocabulary, whose reserved tokens R1-Distill-Llama renamed) is refused, naming the folder and
// the template.
TEST(ExportErrorsTest, EndOfTurnMissingFromVocabularyIsNamed) {
  ModelSpec s{.arch = "llama", .vocabulary = "llama3_1", .vocab_size = 128256, .hidden = 32, .intermediate = 64,
              .layers = 1, .heads = 2, .kv_heads = 1, .dtype = hf::DType::kBF16};
  const std::string folder = testing::TempDir("errors-eot");
  testing::WriteModelFolder(s, folder);
  ExpectMentions(ExportStatus(folder, "q8_0", "deepseek-r1"), {folder, "deepseek-r1", "ends an assistant turn"});
  fs::remove_all(folder);
}

// An embedding whose rows disagree with config.json's vocab_size would give llama.cpp a token list of the wrong
// length: refused, naming the tensor and both shapes.
TEST(ExportErrorsTest, EmbeddingShapeMismatchIsNamed) {
  ModelSpec s{.arch = "qwen3", .vocabulary = "qwen3", .vocab_size = 151936, .hidden = 32, .intermediate = 64,
              .layers = 1, .heads = 2, .kv_heads = 1, .head_dim = 32, .dtype = hf::DType::kBF16};
  const std::string folder = testing::TempDir("errors-embd-shape");
  testing::WriteModelFolder(s, folder);
  s.vocab_size = 152064;
  std::ofstream(fs::path(folder) / "config.json") << testing::ConfigJson(s).dump();
  ExpectMentions(ExportStatus(folder), {"model.embed_tokens.weight", "151936, 32", "152064, 32"});
  fs::remove_all(folder);
}

// A tokenizer with more tokens than the model's embedding rows cannot be exported (ids would index past it).
TEST(ExportErrorsTest, VocabularyLargerThanEmbeddingIsRefused) {
  ModelSpec s{.arch = "qwen3", .vocabulary = "qwen3", .vocab_size = 1000, .hidden = 32, .intermediate = 64,
              .layers = 1, .heads = 2, .kv_heads = 1, .head_dim = 32, .dtype = hf::DType::kBF16};
  const std::string folder = testing::TempDir("errors-vocab-size");
  testing::WriteModelFolder(s, folder);
  ExpectMentions(ExportStatus(folder), {"151669", "1000"});
  fs::remove_all(folder);
}

// The Modelfile beside a ChatML (Qwen3) export: FROM the GGUF, a ChatML TEMPLATE without a forced <think> (Qwen3's
// generation prompt has none), stop at <|im_end|>, DeepSeek's sampling.
TEST(ExportModelfileTest, ChatMlModelfile) {
  ModelSpec s{.arch = "qwen3", .vocabulary = "qwen3", .vocab_size = 151936, .hidden = 32, .intermediate = 64,
              .layers = 1, .heads = 2, .kv_heads = 1, .head_dim = 32, .dtype = hf::DType::kBF16};
  const std::string folder = testing::TempDir("modelfile-chatml");
  testing::WriteModelFolder(s, folder);
  ExportOptions options;
  options.model = folder;
  options.out = folder + "/out/qwen-tiny.gguf";
  options.type = "q8_0";
  options.modelfile = true;
  auto report = ExportGguf(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->modelfile_path, folder + "/out/Modelfile");
  const std::string text = testing::ReadText(report->modelfile_path);
  EXPECT_NE(text.find("\nFROM ./qwen-tiny.gguf\n"), std::string::npos) << text;
  EXPECT_NE(text.find("TEMPLATE \"\"\""), std::string::npos) << text;
  EXPECT_NE(text.find("<|im_start|>assistant\n\"\"\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("PARAMETER stop \"<|im_end|>\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("PARAMETER temperature 0.6\n"), std::string::npos) << text;
  EXPECT_NE(text.find("PARAMETER top_p 0.95\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("<think>"), std::string::npos) << text;
  fs::remove_all(folder);
}

// --template deepseek-r1 on a DeepSeek vocabulary: the GGUF carries the built-in template verbatim, which (read
// back from the GGUF and rendered) still ends its generation prompt with "<think>\n"; llama.cpp's eos is
// <｜end▁of▁sentence｜>; the Modelfile forces "<think>\n" too and stops at the same token.
TEST(ExportModelfileTest, DeepSeekR1TemplateOverride) {
  ModelSpec s{.arch = "llama", .vocabulary = "deepseek_v3", .vocab_size = 129280, .hidden = 32, .intermediate = 64,
              .layers = 1, .heads = 2, .kv_heads = 1, .dtype = hf::DType::kBF16};
  const std::string folder = testing::TempDir("modelfile-r1");
  testing::WriteModelFolder(s, folder);
  tok::ModelFolderOptions folder_options;
  folder_options.template_override = "deepseek-r1";
  auto model = tok::LoadModelTokenization(folder, folder_options);
  ASSERT_TRUE(model.ok()) << model.status();
  ExportOptions options;
  options.model = folder;
  options.out = folder + "/out/r1.gguf";
  options.type = "q8_0";
  options.template_override = "deepseek-r1";
  options.modelfile = true;
  auto report = ExportGguf(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->end_of_turn, "<｜end▁of▁sentence｜>");

  auto gguf = GgufFile::Open(options.out);
  ASSERT_TRUE(gguf.ok()) << gguf.status();
  const Value* tmpl = gguf->FindKv("tokenizer.chat_template");
  ASSERT_TRUE(tmpl && tmpl->AsString());
  EXPECT_EQ(*tmpl->AsString(), model->chat_template->source());
  auto compiled = tok::ChatTemplate::Compile(*tmpl->AsString());
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  const json messages = json::array({{{"role", "user"}, {"content", "1+1?"}}});
  auto rendered = compiled->Render(tok::TemplateContext(*model, messages, true));
  ASSERT_TRUE(rendered.ok()) << rendered.status();
  EXPECT_TRUE(rendered->ends_with("<｜Assistant｜><think>\n")) << *rendered;

  const json ref = distill::testing::RunNodeReference("llama_cpp_check.js", {{"path", options.out}, {"texts", {"x"}}});
  EXPECT_EQ(ref["eos"], report->eos_id);
  EXPECT_EQ(ref["eos"], *model->tokenizer->PieceToId("<｜end▁of▁sentence｜>"));
  EXPECT_EQ(ref["chat_template"], *tmpl->AsString());

  const std::string text = testing::ReadText(report->modelfile_path);
  EXPECT_NE(text.find("<｜Assistant｜><think>\n\"\"\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("PARAMETER stop \"<｜end▁of▁sentence｜>\"\n"), std::string::npos) << text;
  fs::remove_all(folder);
}

std::string RunCommand(const std::string& command, int* status) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) {
    *status = -1;
    return out;
  }
  std::array<char, 4096> buffer;
  while (size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
  *status = ::pclose(pipe);
  return out;
}

// The verbs end to end: `distill export` writes a loadable GGUF and a Modelfile and reports what it did;
// `distill inspect` reads the GGUF back; a bad --type exits non-zero with the reason.
TEST(ExportCliTest, ExportThenInspect) {
  const std::string distill = std::string(DISTILL_BINARY_DIR) + "/distill";
  if (!fs::exists(distill)) GTEST_SKIP() << distill << " not built";
  ModelSpec s{.arch = "qwen2", .vocabulary = "qwen3", .vocab_size = 151936, .hidden = 32, .intermediate = 64,
              .layers = 1, .heads = 2, .kv_heads = 1, .tied = true, .dtype = hf::DType::kBF16};
  const std::string folder = testing::TempDir("cli");
  testing::WriteModelFolder(s, folder + "/model");
  int status = 0;
  std::string out = RunCommand(distill + " export '" + folder + "/model' -o '" + folder +
                                   "/out/m.gguf' --type q4_k_m --modelfile",
                               &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("qwen2"), std::string::npos) << out;
  EXPECT_NE(out.find("<|im_end|>"), std::string::npos) << out;
  EXPECT_TRUE(fs::exists(folder + "/out/Modelfile"));
  auto gguf = GgufFile::Open(folder + "/out/m.gguf");
  ASSERT_TRUE(gguf.ok()) << gguf.status();
  EXPECT_EQ(gguf->FindKv("general.file_type")->AsUInt(), 15u);

  out = RunCommand(distill + " inspect '" + folder + "/out/m.gguf'", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("token_embd.weight"), std::string::npos) << out;

  out = RunCommand(distill + " export '" + folder + "/model' -o '" + folder + "/out/bad.gguf' --type q3_k", &status);
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("q3_k"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(folder + "/out/bad.gguf"));
  fs::remove_all(folder);
}

// Property: the 70B class follows llama.cpp's model types: 80 layers of llama with GQA (Llama-3.x-70B,
// DeepSeek-R1-Distill-Llama-70B) or of qwen2 (Qwen2.5-72B); not an 80-layer llama without GQA (its 65B), not other
// depths, not qwen3 (llama.cpp knows no 80-layer Qwen3).
TEST(ExportRulesTest, SeventyBClassFollowsLlamaCpp) {
  auto config = [](std::string type, int64_t layers, int64_t heads, int64_t kv_heads) {
    hf::ModelConfig c;
    c.model_type = std::move(type);
    c.num_hidden_layers = layers;
    c.num_attention_heads = heads;
    c.num_key_value_heads = kv_heads;
    return c;
  };
  EXPECT_TRUE(LlamaCppSeesA70B(config("llama", 80, 64, 8)));
  EXPECT_FALSE(LlamaCppSeesA70B(config("llama", 80, 64, 64)));
  EXPECT_TRUE(LlamaCppSeesA70B(config("qwen2", 80, 64, 8)));
  EXPECT_FALSE(LlamaCppSeesA70B(config("qwen3", 80, 64, 8)));
  EXPECT_FALSE(LlamaCppSeesA70B(config("llama", 32, 32, 8)));
  EXPECT_FALSE(LlamaCppSeesA70B(config("qwen2", 64, 40, 8)));
}

}  // namespace
}  // namespace distill::gguf
