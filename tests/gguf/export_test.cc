// distill export end to end on tiny random-weight models with real vocabularies: the GGUF's keys, tensor names,
// shapes, types and bytes against gguf.md (written out independently in export_test_util.h), read back by our
// reader, by @huggingface/gguf and by llama.cpp itself (node-llama-cpp), whose tokenizer must agree with ours.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/gguf/export_test_util.h"
#include "tests/testing/node_reference.h"
#include "tokenizers/model_folder.h"
#include "tools/gguf/exporter.h"
#include "tools/gguf/gguf_file.h"

namespace distill::gguf {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ModelSpec;
using testing::SourceTensor;

// What a vocabulary's exported GGUF must say about its tokenizer.
struct VocabExpectation {
  std::string pre;          // tokenizer.ggml.pre
  std::string end_of_turn;  // the template's end-of-turn token: the GGUF's eos
  bool add_bos = false;
  std::string bos;          // tokenizer_config.json's bos_token, else config.json's bos_token_id's token
  std::string pad;          // tokenizer_config.json's pad_token ("" = none: no key)
};

VocabExpectation ExpectationFor(const std::string& vocabulary) {
  if (vocabulary == "qwen3") return {"qwen2", "<|im_end|>", false, "<|endoftext|>", "<|endoftext|>"};
  if (vocabulary == "llama3_1") return {"llama-bpe", "<|eot_id|>", true, "<|begin_of_text|>", ""};
  return {"deepseek-v3", "<｜end▁of▁sentence｜>", true, "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"};
}

// Token strings and types as convert_hf_to_gguf derives them, read straight from tokenizer.json.
struct ExpectedVocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  size_t merges = 0;
  std::string first_merge;
  std::map<std::string, int64_t> ids;
};

ExpectedVocab ReadExpectedVocab(const std::string& folder, int64_t vocab_size) {
  const json tj = json::parse(testing::ReadText(fs::path(folder) / "tokenizer.json"));
  ExpectedVocab v;
  v.tokens.resize(static_cast<size_t>(vocab_size));
  v.types.assign(static_cast<size_t>(vocab_size), 5);
  for (int64_t i = 0; i < vocab_size; ++i) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
  for (const auto& [piece, id] : tj["model"]["vocab"].items()) {
    v.tokens[id.get<int64_t>()] = piece;
    v.types[id.get<int64_t>()] = 1;
    v.ids[piece] = id.get<int64_t>();
  }
  for (const json& a : tj["added_tokens"]) {
    const std::string content = a["content"];
    const int64_t id = a["id"];
    const bool looks_special = (content.starts_with("<|") && content.ends_with("|>")) ||
                               (content.starts_with("<｜") && content.ends_with("｜>"));
    v.tokens[id] = content;
    v.types[id] = a["special"].get<bool>() || looks_special ? 3 : 4;
    v.ids[content] = id;
  }
  const json& merges = tj["model"]["merges"];
  v.merges = merges.size();
  v.first_merge = merges[0].is_string() ? merges[0].get<std::string>()
                                        : merges[0][0].get<std::string>() + " " + merges[0][1].get<std::string>();
  return v;
}

bool IsQuantized(GgmlType t) { return t != GgmlType::kF32 && t != GgmlType::kF16 && t != GgmlType::kBF16; }

uint32_t FileTypeOf(const std::string& type) {
  static const std::map<std::string, uint32_t> k = {
      {"f32", 0},   {"f16", 1},   {"bf16", 32}, {"q8_0", 7},    {"q4_0", 2},
      {"q4_k", 14}, {"q5_k", 16}, {"q6_k", 18}, {"q4_k_m", 15}, {"q5_k_m", 17}};
  return k.at(type);
}

void ExpectU32(const GgufFile& f, const std::string& key, int64_t want) {
  const Value* v = f.FindKv(key);
  ASSERT_NE(v, nullptr) << key;
  EXPECT_EQ(v->type, ValueType::kU32) << key;
  EXPECT_EQ(v->AsUInt(), static_cast<uint64_t>(want)) << key;
}

void ExpectF32(const GgufFile& f, const std::string& key, double want) {
  const Value* v = f.FindKv(key);
  ASSERT_NE(v, nullptr) << key;
  EXPECT_EQ(v->type, ValueType::kF32) << key;
  EXPECT_EQ(v->AsDouble(), static_cast<double>(static_cast<float>(want))) << key;
}

void ExpectString(const GgufFile& f, const std::string& key, const std::string& want) {
  const Value* v = f.FindKv(key);
  ASSERT_NE(v, nullptr) << key;
  ASSERT_NE(v->AsString(), nullptr) << key;
  EXPECT_EQ(*v->AsString(), want) << key;
}

// Everything our reader sees in an exported file: keys (gguf.md "Model keys", "Tokenizer keys"), tensors
// (names, ne, types by the mixing rules) and bytes (the source quantized by QuantizeRows after llama's q/k
// permutation; F32/F16/BF16 exact).
void VerifyWithOurReader(const ModelSpec& s, const std::vector<SourceTensor>& source, const std::string& type,
                         const ExpectedVocab& ev, const std::string& path, const std::string& chat_template) {
  auto opened = GgufFile::Open(path);
  ASSERT_TRUE(opened.ok()) << opened.status();
  const GgufFile& f = *opened;
  const std::string& a = s.arch;
  ASSERT_FALSE(f.kvs().empty());
  EXPECT_EQ(f.kvs()[0].first, "general.architecture");
  ExpectString(f, "general.architecture", a);
  ExpectU32(f, "general.file_type", FileTypeOf(type));
  ExpectU32(f, a + ".context_length", a == "llama" ? 131072 : 40960);
  ExpectU32(f, a + ".embedding_length", s.hidden);
  ExpectU32(f, a + ".block_count", s.layers);
  ExpectU32(f, a + ".feed_forward_length", s.intermediate);
  ExpectU32(f, a + ".attention.head_count", s.heads);
  ExpectU32(f, a + ".attention.head_count_kv", s.kv_heads);
  ExpectU32(f, a + ".attention.key_length", s.HeadDim());
  ExpectU32(f, a + ".attention.value_length", s.HeadDim());
  ExpectU32(f, a + ".rope.dimension_count", s.HeadDim());
  ExpectF32(f, a + ".rope.freq_base", s.RopeTheta());
  ExpectF32(f, a + ".attention.layer_norm_rms_epsilon", s.RmsEps());
  EXPECT_EQ(f.FindKv(a + ".rope.scaling.type"), nullptr) << "llama3 scaling is a tensor, not keys";
  // No empty arrays or strings (the reference writer skips them; some readers choke on them).
  for (const auto& [key, value] : f.kvs()) {
    EXPECT_FALSE(value.items.empty()) << key;
    if (const std::string* str = value.AsString()) { EXPECT_FALSE(str->empty()) << key; }
  }

  const VocabExpectation ve = ExpectationFor(s.vocabulary);
  ExpectString(f, "tokenizer.ggml.model", "gpt2");
  ExpectString(f, "tokenizer.ggml.pre", ve.pre);
  ExpectString(f, "tokenizer.chat_template", chat_template);
  const Value* tokens = f.FindKv("tokenizer.ggml.tokens");
  const Value* types = f.FindKv("tokenizer.ggml.token_type");
  const Value* merges = f.FindKv("tokenizer.ggml.merges");
  ASSERT_TRUE(tokens && types && merges);
  EXPECT_EQ(tokens->elem_type, ValueType::kString);
  EXPECT_EQ(types->elem_type, ValueType::kI32);
  EXPECT_EQ(merges->elem_type, ValueType::kString);
  ASSERT_EQ(tokens->items.size(), static_cast<size_t>(s.vocab_size));
  ASSERT_EQ(types->items.size(), static_cast<size_t>(s.vocab_size));
  int token_mismatches = 0;
  for (int64_t i = 0; i < s.vocab_size; ++i) {
    const bool ok = std::get<std::string>(tokens->items[i]) == ev.tokens[i] &&
                    std::get<int64_t>(types->items[i]) == ev.types[i];
    if (!ok && ++token_mismatches <= 5)
      ADD_FAILURE() << "token " << i << ": " << std::get<std::string>(tokens->items[i]) << " type "
                    << std::get<int64_t>(types->items[i]) << ", want " << ev.tokens[i] << " type " << ev.types[i];
  }
  EXPECT_EQ(token_mismatches, 0);
  ASSERT_EQ(merges->items.size(), ev.merges);
  EXPECT_EQ(std::get<std::string>(merges->items[0]), ev.first_merge);
  ExpectU32(f, "tokenizer.ggml.eos_token_id", ev.ids.at(ve.end_of_turn));
  ExpectU32(f, "tokenizer.ggml.eot_token_id", ev.ids.at(ve.end_of_turn));
  ExpectU32(f, "tokenizer.ggml.bos_token_id", ev.ids.at(ve.bos));
  if (ve.pad.empty()) {
    EXPECT_EQ(f.FindKv("tokenizer.ggml.padding_token_id"), nullptr);
  } else {
    ExpectU32(f, "tokenizer.ggml.padding_token_id", ev.ids.at(ve.pad));
  }
  const Value* add_bos = f.FindKv("tokenizer.ggml.add_bos_token");
  ASSERT_NE(add_bos, nullptr);
  EXPECT_EQ(add_bos->type, ValueType::kBool);
  EXPECT_EQ(add_bos->AsBool(), ve.add_bos);

  // Tensors.
  std::map<std::string, const SourceTensor*> expected;
  for (const SourceTensor& t : source) {
    if (s.tied && t.name == "lm_head.weight") continue;
    expected[testing::ExpectedGgufName(t.name)] = &t;
  }
  EXPECT_EQ(f.FindTensor("output.weight") != nullptr, !s.tied);
  const TensorInfo* rope = f.FindTensor("rope_freqs.weight");
  EXPECT_EQ(rope != nullptr, s.llama3_rope);
  if (rope) {
    EXPECT_EQ(rope->type, GgmlType::kF32);
    ASSERT_EQ(rope->ne, std::vector<int64_t>{s.HeadDim() / 2});
    const std::vector<double> want = testing::Llama3Factors(s.HeadDim(), s.RopeTheta());
    std::vector<float> got(want.size());
    std::memcpy(got.data(), rope->data.data(), got.size() * sizeof(float));
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6 * want[i]) << "rope_freqs " << i;
    EXPECT_EQ(got.front(), 1.0f);
    EXPECT_EQ(got.back(), 8.0f);
  }
  EXPECT_EQ(f.tensors().size(), expected.size() + (rope ? 1 : 0));
  bool any_quantized = false;
  for (const auto& [name, src] : expected) {
    SCOPED_TRACE(name);
    const TensorInfo* t = f.FindTensor(name);
    ASSERT_NE(t, nullptr);
    const std::vector<int64_t> ne(src->shape.rbegin(), src->shape.rend());
    EXPECT_EQ(t->ne, ne);
    const GgmlType want_type = testing::ExpectedType(type, name, ne, s.layers, s.tied);
    EXPECT_EQ(t->type, want_type) << TypeTraitsOf(t->type)->name << " vs " << TypeTraitsOf(want_type)->name;
    any_quantized |= IsQuantized(t->type);
    const int64_t row = ne[0];
    const int64_t rows = static_cast<int64_t>(src->values.size()) / row;
    std::vector<float> values = src->values;
    if (s.arch == "llama" && (name.ends_with("attn_q.weight") || name.ends_with("attn_k.weight")))
      values = testing::PermuteRows(values, rows, row, s.HeadDim());
    // Rows are encoded independently: big tensors are checked on their first and last 512 rows.
    std::vector<std::pair<int64_t, int64_t>> ranges = {{0, rows}};
    if (rows > 2048) ranges = {{0, 512}, {rows - 512, rows}};
    auto row_bytes = RowBytes(t->type, row);
    ASSERT_TRUE(row_bytes.ok());
    for (const auto& [first, last] : ranges) {
      const std::byte* got = t->data.data() + first * *row_bytes;
      const size_t n = static_cast<size_t>((last - first) * *row_bytes);
      std::vector<std::byte> want(n);
      ASSERT_TRUE(QuantizeRows(t->type, &values[static_cast<size_t>(first * row)], last - first, row, want.data(), 1)
                      .ok());
      EXPECT_EQ(std::memcmp(got, want.data(), n), 0) << "rows " << first << ".." << last;
      // The dequantized tensor is the source up to the type's error (a wrong permutation would not be).
      std::vector<float> back(static_cast<size_t>((last - first) * row));
      ASSERT_TRUE(DequantizeRows(t->type, got, last - first, row, back.data(), 1).ok());
      double err = 0, norm = 0;
      const float* expected_rows = &values[static_cast<size_t>(first * row)];
      for (size_t i = 0; i < back.size(); ++i) {
        const double d = static_cast<double>(back[i]) - expected_rows[i];
        err += d * d;
        norm += static_cast<double>(expected_rows[i]) * expected_rows[i];
      }
      EXPECT_LE(std::sqrt(err / norm), 0.2) << "relative rms error of the dequantized rows";
      if (t->type == GgmlType::kF32) { EXPECT_EQ(err, 0.0); }
    }
  }
  const Value* qv = f.FindKv("general.quantization_version");
  EXPECT_EQ(qv != nullptr, any_quantized);
  if (qv) ExpectU32(f, "general.quantization_version", 2);
}

// @huggingface/gguf reads the same keys (names and value types) and tensors (names, shapes, types) as our reader.
void VerifyWithHuggingFaceParser(const std::string& path) {
  auto f = GgufFile::Open(path);
  ASSERT_TRUE(f.ok());
  const json ref = distill::testing::RunNodeReference("gguf_parse.js", {{"path", path}});
  EXPECT_EQ(ref["version"], 3);
  ASSERT_EQ(ref["kvs"].size(), f->kvs().size());
  for (const auto& [key, value] : f->kvs()) {
    ASSERT_TRUE(ref["kvs"].contains(key)) << key;
    EXPECT_EQ(ref["kvs"][key]["type"], static_cast<uint32_t>(value.type)) << key;
    if (value.type == ValueType::kString) { EXPECT_EQ(ref["kvs"][key]["value"], *value.AsString()) << key; }
    if (value.type == ValueType::kU32) { EXPECT_EQ(ref["kvs"][key]["value"], *value.AsUInt()) << key; }
    if (value.is_array()) { EXPECT_EQ(ref["kvs"][key]["value"].size(), value.items.size()) << key; }
  }
  ASSERT_EQ(ref["tensorInfos"].size(), f->tensors().size());
  for (size_t i = 0; i < f->tensors().size(); ++i) {
    const TensorInfo& t = f->tensors()[i];
    const json& info = ref["tensorInfos"][i];
    EXPECT_EQ(info["name"], t.name);
    std::vector<std::string> shape;
    for (int64_t d : t.ne) shape.push_back(std::to_string(d));
    EXPECT_EQ(info["shape"], shape) << t.name;
    EXPECT_EQ(info["dtype"], static_cast<uint32_t>(t.type)) << t.name;
    EXPECT_EQ(info["offset"], std::to_string(t.offset)) << t.name;
  }
}

// Texts the tokenizers must agree on: English, code, LaTeX, CJK, emoji, digits, whitespace runs and a rendered
// chat with special tokens.
std::vector<std::string> SampleTexts(const tok::ModelTokenization& model) {
  std::vector<std::string> texts = {
      "Hello world! The quick brown fox jumps over the lazy dog. It's, they're, we'll.",
      "def f(x):\n    return {\"a\": [x ** 2 for x in range(10)]}  # comment\n\n\tif x != 0:\n\t\tpass\n",
      "The integral $\\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}$ and \\boxed{42}.",
      "我爱自然语言处理。日本語のテキストも、한국어도 섞여 있습니다。",
      "Emoji 😀👍🏽🇫🇷 and symbols ∑ ≠ → ©",
      "1234567890 3.14159 1,000,000 2025-01-01 0x1F",
      "   leading   spaces\n\n\n   and\t\t tabs    \r\n  trailing   ",
  };
  auto chat = tok::RenderChat(model,
                              json::array({{{"role", "user"}, {"content", "What is 2+2? Think step by step."}},
                                           {{"role", "assistant"}, {"content", "2+2 = 4."}},
                                           {{"role", "user"}, {"content", "And 3+3?"}}}),
                              true);
  EXPECT_TRUE(chat.ok()) << chat.status();
  if (chat.ok()) texts.push_back(*chat);
  return texts;
}

// llama.cpp loads the file; its tokenizer gives our ids on every sample text (with BOS as the model defines it);
// its eos is the template's end-of-turn; its chat template is ours; the next-token distributions of a short
// sequence are finite and sum to 1 over the whole vocabulary.
void VerifyWithLlamaCpp(const ModelSpec& s, const std::string& path, const tok::ModelTokenization& model,
                        const ExpectedVocab& ev, const std::string& chat_template) {
  const std::vector<std::string> texts = SampleTexts(model);
  std::vector<int> eval_ids;
  {
    auto ids = tok::EncodePlain(model, texts.back(), true);
    ASSERT_TRUE(ids.ok());
    for (size_t i = 0; i < ids->size() && i < 12; ++i) eval_ids.push_back((*ids)[i]);
  }
  const std::string probs_path = path + ".probs.f32";
  const json ref = distill::testing::RunNodeReference(
      "llama_cpp_check.js",
      {{"path", path}, {"texts", texts}, {"eval_ids", eval_ids}, {"top_k", 4}, {"probs_out", probs_path}});
  const VocabExpectation ve = ExpectationFor(s.vocabulary);
  EXPECT_EQ(ref["eos"], ev.ids.at(ve.end_of_turn));
  EXPECT_EQ(ref["eot"], ev.ids.at(ve.end_of_turn));
  EXPECT_EQ(ref["bos"], ev.ids.at(ve.bos));
  EXPECT_EQ(ref["add_bos"], ve.add_bos);
  EXPECT_EQ(ref["chat_template"], chat_template);
  ASSERT_EQ(ref["tokens"].size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    auto ours = tok::EncodePlain(model, texts[i], true);
    ASSERT_TRUE(ours.ok()) << ours.status();
    std::vector<int64_t> theirs;
    if (ref["add_bos"].get<bool>()) theirs.push_back(ref["bos"].get<int64_t>());
    for (const json& id : ref["tokens"][i]) theirs.push_back(id.get<int64_t>());
    EXPECT_EQ(std::vector<int64_t>(ours->begin(), ours->end()), theirs) << "text " << i << ": " << texts[i];
  }
  ASSERT_EQ(ref["eval"].size(), eval_ids.size());
  // The full vectors (for the parity test) hold, position-major, the same probabilities as the top-k lists.
  ASSERT_EQ(ref["probs_width"], s.vocab_size);
  const std::string probs = testing::ReadText(probs_path);
  ASSERT_EQ(probs.size(), eval_ids.size() * static_cast<size_t>(s.vocab_size) * sizeof(float));
  for (size_t i = 0; i < eval_ids.size(); ++i) {
    const json& position = ref["eval"][i];
    EXPECT_TRUE(position["finite"].get<bool>());
    EXPECT_NEAR(position["sum"].get<double>(), 1.0, 1e-3);
    EXPECT_EQ(position["count"], s.vocab_size);
    ASSERT_EQ(position["top"].size(), 4u);
    for (const json& top : position["top"]) {
      float p = 0;
      std::memcpy(&p, probs.data() + (i * static_cast<size_t>(s.vocab_size) + top[0].get<size_t>()) * sizeof(float),
                  sizeof(float));
      EXPECT_EQ(p, static_cast<float>(top[1].get<double>())) << "position " << i << " id " << top[0];
    }
  }
  fs::remove(probs_path);
}

struct ExportRun {
  std::string type;
  bool llama_cpp = true;  // also load it with llama.cpp
};

// Builds the model folder once and exports / verifies each type.
void ExportAndVerifyAll(const ModelSpec& s, const std::vector<ExportRun>& runs) {
  const std::string stem = s.arch + "-" + s.vocabulary;
  const std::string folder = testing::TempDir(stem + "/model");
  const std::vector<SourceTensor> source = testing::WriteModelFolder(s, folder);
  auto model = tok::LoadModelTokenization(folder);
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_TRUE(model->chat_template.has_value());
  const std::string chat_template = model->chat_template->source();
  const ExpectedVocab ev = ReadExpectedVocab(folder, s.vocab_size);
  for (const ExportRun& run : runs) {
    SCOPED_TRACE(stem + " " + run.type);
    const auto started = std::chrono::steady_clock::now();
    ExportOptions options;
    options.model = folder;
    options.out = testing::TempDir(stem + "/out-" + run.type) + "/model.gguf";
    options.type = run.type;
    auto report = ExportGguf(options);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->architecture, s.arch);
    EXPECT_EQ(report->end_of_turn, ExpectationFor(s.vocabulary).end_of_turn);
    VerifyWithOurReader(s, source, run.type, ev, options.out, chat_template);
    VerifyWithHuggingFaceParser(options.out);
    if (run.llama_cpp) VerifyWithLlamaCpp(s, options.out, *model, ev, chat_template);
    fs::remove_all(fs::path(options.out).parent_path());
    std::printf("[%s %s] %.2f s\n", stem.c_str(), run.type.c_str(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  fs::remove_all(fs::path(folder).parent_path());
}

// Qwen3 shapes (head_dim 32 ≠ hidden/heads = 16, q/k norms, tied) on the real 151,669-token vocabulary padded to
// 151,936 rows like the released models; hidden 64 makes every K-quant fall back (Q4_K → Q5_0, Q5_K → Q5_1,
// Q6_K → Q8_0).
ModelSpec Qwen3Spec() {
  return {.arch = "qwen3", .vocabulary = "qwen3", .vocab_size = 151936, .hidden = 64, .intermediate = 128,
          .layers = 2, .heads = 4, .kv_heads = 2, .head_dim = 32, .tied = true, .seed = 3};
}
TEST(ExportTest, Qwen3TiedF32SourceFloatTypes) { ExportAndVerifyAll(Qwen3Spec(), {{"f32"}, {"f16"}}); }
TEST(ExportTest, Qwen3TiedF32SourceQuantized) {
  ExportAndVerifyAll(Qwen3Spec(), {{"q8_0"}, {"q4_k_m"}, {"q5_k_m"}});
}

// Qwen2 (R1-Distill-Qwen's architecture): q/k/v biases stay F32, untied output, BF16 source exported bit-exact.
TEST(ExportTest, Qwen2BiasesUntiedBf16Source) {
  ModelSpec s{.arch = "qwen2", .vocabulary = "qwen3", .vocab_size = 151936, .hidden = 64, .intermediate = 128,
              .layers = 2, .heads = 4, .kv_heads = 2, .tied = false, .dtype = hf::DType::kBF16, .seed = 5};
  ExportAndVerifyAll(s, {{"bf16"}, {"q4_k_m"}});
}

// Llama 3.2-like shapes with real K-quants (rows of 256 and 512): three layers so use_more_bits is true for one
// and false for two; llama3 rope scaling becomes rope_freqs.weight; q/k rows permuted; tied; BF16 source.
ModelSpec Llama3Spec() {
  return {.arch = "llama", .vocabulary = "llama3_1", .vocab_size = 128256, .hidden = 256, .intermediate = 512,
          .layers = 3, .heads = 8, .kv_heads = 2, .tied = true, .llama3_rope = true, .dtype = hf::DType::kBF16,
          .seed = 7};
}
TEST(ExportTest, Llama3RopeScalingKQuants) { ExportAndVerifyAll(Llama3Spec(), {{"q4_k_m"}, {"q8_0"}}); }
// The other mixes on the same model: Q5_K_M (Q5_K base, Q6_K exceptions), Q4_0 (output Q6_K), Q6_K.
TEST(ExportTest, Llama3OtherMixes) { ExportAndVerifyAll(Llama3Spec(), {{"q5_k_m"}, {"q4_0"}}); }
// Q6_K, and Q4_K_S (plain q4_k: attn_v of every layer here is one of the first four, so Q5_K).
TEST(ExportTest, Llama3Q6KAndQ4KS) { ExportAndVerifyAll(Llama3Spec(), {{"q6_k"}, {"q4_k"}}); }

// The DeepSeek-V3 vocabulary (deepseek-v3 pre-tokenizer, 128,815 tokens padded to 129,280) on llama shapes,
// untied, head_dim 16.
TEST(ExportTest, DeepSeekV3VocabularyLlama) {
  ModelSpec s{.arch = "llama", .vocabulary = "deepseek_v3", .vocab_size = 129280, .hidden = 64, .intermediate = 128,
              .layers = 2, .heads = 4, .kv_heads = 1, .tied = false, .seed = 9};
  ExportAndVerifyAll(s, {{"f32"}, {"q4_k_m"}});
}

}  // namespace
}  // namespace distill::gguf
