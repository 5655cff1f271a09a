// config.json parsing (trainer/hf/model_config): real configs of the three families parse to the values the
// model code needs, ToJson round-trips them, and every architecture feature we do not implement is refused with an
// error that names the offending key.
#include "trainer/hf/model_config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "gtest/gtest.h"

namespace distill::hf {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// Qwen/Qwen2.5-1.5B config.json as published.
json Qwen25_1_5B() {
  return json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
    "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 1536, "initializer_range": 0.02,
    "intermediate_size": 8960, "max_position_embeddings": 131072, "max_window_layers": 28, "model_type": "qwen2",
    "num_attention_heads": 12, "num_hidden_layers": 28, "num_key_value_heads": 2, "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0, "sliding_window": 131072, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
    "transformers_version": "4.40.1", "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})");
}

// meta-llama/Llama-3.1-8B-Instruct config.json (the base model has eos 128001; Instruct lists three).
json Llama31_8B() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu", "hidden_size": 4096,
    "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 131072, "mlp_bias": false,
    "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "pretraining_tp": 1, "rms_norm_eps": 1e-05,
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.43.0.dev0", "use_cache": true, "vocab_size": 128256})");
}

// Qwen/Qwen3-8B config.json as published (rope_theta is an integer there).
json Qwen3_8B() {
  return json::parse(R"({
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 4096,
    "initializer_range": 0.02, "intermediate_size": 12288, "max_position_embeddings": 40960,
    "max_window_layers": 36, "model_type": "qwen3", "num_attention_heads": 32, "num_hidden_layers": 36,
    "num_key_value_heads": 8, "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000,
    "sliding_window": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
    "transformers_version": "4.51.0", "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})");
}

void ExpectSame(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.model_type, b.model_type);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.num_hidden_layers, b.num_hidden_layers);
  EXPECT_EQ(a.num_attention_heads, b.num_attention_heads);
  EXPECT_EQ(a.num_key_value_heads, b.num_key_value_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.rms_norm_eps, b.rms_norm_eps);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.attention_bias, b.attention_bias);
  EXPECT_EQ(a.qk_norm, b.qk_norm);
  ASSERT_EQ(a.rope_scaling.has_value(), b.rope_scaling.has_value());
  if (a.rope_scaling) {
    EXPECT_EQ(a.rope_scaling->type, b.rope_scaling->type);
    EXPECT_EQ(a.rope_scaling->factor, b.rope_scaling->factor);
    EXPECT_EQ(a.rope_scaling->low_freq_factor, b.rope_scaling->low_freq_factor);
    EXPECT_EQ(a.rope_scaling->high_freq_factor, b.rope_scaling->high_freq_factor);
    EXPECT_EQ(a.rope_scaling->original_max_position_embeddings, b.rope_scaling->original_max_position_embeddings);
  }
  EXPECT_EQ(a.bos_token_id, b.bos_token_id);
  EXPECT_EQ(a.eos_token_ids, b.eos_token_ids);
  EXPECT_EQ(a.torch_dtype, b.torch_dtype);
}

// Property: Qwen2.5's published config gives GQA 12/2, head_dim 128, tied embeddings and q/k/v biases (implied by
// the model type, not a key), and its disabled sliding window is accepted.
TEST(ModelConfig, Qwen25) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(Qwen25_1_5B(), "qwen2.5/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "qwen2");
  EXPECT_EQ(c->vocab_size, 151936);
  EXPECT_EQ(c->hidden_size, 1536);
  EXPECT_EQ(c->intermediate_size, 8960);
  EXPECT_EQ(c->num_hidden_layers, 28);
  EXPECT_EQ(c->num_attention_heads, 12);
  EXPECT_EQ(c->num_key_value_heads, 2);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->max_position_embeddings, 131072);
  EXPECT_EQ(c->rope_theta, 1e6);
  EXPECT_EQ(c->rms_norm_eps, 1e-6);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_TRUE(c->attention_bias);
  EXPECT_FALSE(c->qk_norm);
  EXPECT_FALSE(c->rope_scaling.has_value());
  EXPECT_EQ(c->bos_token_id, 151643);
  EXPECT_EQ(c->eos_token_ids, std::vector<int64_t>({151643}));
  EXPECT_EQ(c->torch_dtype, "bfloat16");
  EXPECT_EQ(c->raw["architectures"][0], "Qwen2ForCausalLM");
}

// Property: Llama 3.1's llama3 rope scaling is read in full, the eos list is kept in order, no biases.
TEST(ModelConfig, Llama31) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(Llama31_8B(), "llama/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "llama");
  EXPECT_EQ(c->vocab_size, 128256);
  EXPECT_EQ(c->hidden_size, 4096);
  EXPECT_EQ(c->intermediate_size, 14336);
  EXPECT_EQ(c->num_hidden_layers, 32);
  EXPECT_EQ(c->num_attention_heads, 32);
  EXPECT_EQ(c->num_key_value_heads, 8);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->rope_theta, 500000.0);
  EXPECT_EQ(c->rms_norm_eps, 1e-5);
  EXPECT_FALSE(c->tie_word_embeddings);
  EXPECT_FALSE(c->attention_bias);
  EXPECT_FALSE(c->qk_norm);
  ASSERT_TRUE(c->rope_scaling.has_value());
  EXPECT_EQ(c->rope_scaling->type, "llama3");
  EXPECT_EQ(c->rope_scaling->factor, 8.0);
  EXPECT_EQ(c->rope_scaling->low_freq_factor, 1.0);
  EXPECT_EQ(c->rope_scaling->high_freq_factor, 4.0);
  EXPECT_EQ(c->rope_scaling->original_max_position_embeddings, 8192);
  EXPECT_EQ(c->bos_token_id, 128000);
  EXPECT_EQ(c->eos_token_ids, std::vector<int64_t>({128001, 128008, 128009}));
}

// Property: Qwen3's explicit head_dim (128 = 4096/32 here, but taken from the key), q/k norm on, no biases,
// an integer rope_theta and null rope_scaling/sliding_window are accepted.
TEST(ModelConfig, Qwen3) {
  absl::StatusOr<ModelConfig> c = ParseModelConfig(Qwen3_8B(), "qwen3/config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "qwen3");
  EXPECT_EQ(c->hidden_size, 4096);
  EXPECT_EQ(c->intermediate_size, 12288);
  EXPECT_EQ(c->num_hidden_layers, 36);
  EXPECT_EQ(c->num_attention_heads, 32);
  EXPECT_EQ(c->num_key_value_heads, 8);
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->vocab_size, 151936);
  EXPECT_EQ(c->rope_theta, 1e6);
  EXPECT_EQ(c->max_position_embeddings, 40960);
  EXPECT_TRUE(c->qk_norm);
  EXPECT_FALSE(c->attention_bias);
  EXPECT_FALSE(c->rope_scaling.has_value());
  EXPECT_EQ(c->eos_token_ids, std::vector<int64_t>({151645}));

  // Qwen3-0.6B-style: head_dim differs from hidden/heads (1024/16 = 64 but head_dim 128); the key wins.
  json small = Qwen3_8B();
  small["hidden_size"] = 1024;
  small["num_attention_heads"] = 16;
  c = ParseModelConfig(small, "qwen3-0.6b");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->head_dim, 128);
  // …and ToJson keeps it, since it cannot be derived.
  EXPECT_EQ(ToJson(*c)["head_dim"], 128);
}

// Property: the defaults transformers applies: kv heads = heads, head_dim = hidden/heads, "default" rope scaling is
// no scaling, bos null and eos absent are accepted, Qwen3 reads attention_bias.
TEST(ModelConfig, Defaults) {
  json j = Llama31_8B();
  j.erase("num_key_value_heads");
  j["rope_scaling"] = {{"rope_type", "default"}};
  j["bos_token_id"] = nullptr;
  j.erase("eos_token_id");
  absl::StatusOr<ModelConfig> c = ParseModelConfig(j, "x");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->num_key_value_heads, 32);
  EXPECT_FALSE(c->rope_scaling.has_value());
  EXPECT_FALSE(c->bos_token_id.has_value());
  EXPECT_TRUE(c->eos_token_ids.empty());

  j = Llama31_8B();
  j["rope_scaling"] = {{"type", "llama3"}, {"factor", 32}, {"low_freq_factor", 1}, {"high_freq_factor", 4},
                       {"original_max_position_embeddings", 8192}};  // Llama 3.2 values, old "type" key
  c = ParseModelConfig(j, "x");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rope_scaling->factor, 32.0);

  j = Qwen3_8B();
  j["attention_bias"] = true;
  c = ParseModelConfig(j, "x");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->attention_bias);
}

// Property: ToJson then ParseModelConfig gives back the same config for every family, keeps keys we do not model,
// and reflects edits made to the struct.
TEST(ModelConfig, RoundTrip) {
  for (const json& j : {Qwen25_1_5B(), Llama31_8B(), Qwen3_8B()}) {
    absl::StatusOr<ModelConfig> a = ParseModelConfig(j, "a");
    ASSERT_TRUE(a.ok()) << a.status();
    const json out = ToJson(*a);
    absl::StatusOr<ModelConfig> b = ParseModelConfig(out, "b");
    ASSERT_TRUE(b.ok()) << b.status();
    ExpectSame(*a, *b);
    EXPECT_EQ(out["architectures"], j["architectures"]);
    EXPECT_EQ(out["transformers_version"], j["transformers_version"]);
    EXPECT_EQ(out.contains("head_dim"), j.contains("head_dim"));  // not invented for Llama/Qwen2
    EXPECT_EQ(out["eos_token_id"], j["eos_token_id"]);            // int stays int, list stays list
  }
  absl::StatusOr<ModelConfig> c = ParseModelConfig(Llama31_8B(), "a");
  ASSERT_TRUE(c.ok());
  c->num_hidden_layers = 2;
  c->rope_scaling.reset();
  c->eos_token_ids = {7};
  c->torch_dtype = "float32";
  const json out = ToJson(*c);
  EXPECT_EQ(out["num_hidden_layers"], 2);
  EXPECT_TRUE(out["rope_scaling"].is_null());
  EXPECT_EQ(out["eos_token_id"], json::array({7}));
  EXPECT_EQ(out["torch_dtype"], "float32");
  absl::StatusOr<ModelConfig> back = ParseModelConfig(out, "b");
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSame(*c, *back);
}

struct Refusal {
  std::string name;
  std::function<json()> config;
  std::vector<std::string> message_parts;  // each must appear in the error
};

json With(json j, const std::string& key, json value) {
  j[key] = std::move(value);
  return j;
}
json Without(json j, const std::string& key) {
  j.erase(key);
  return j;
}

// Property: each unsupported or malformed input is refused (not ignored), and the error names the origin, the key
// and, where there is a list of alternatives, the supported values.
TEST(ModelConfig, Refusals) {
  const std::vector<Refusal> cases = {
      {"unknown type", [] { return With(Llama31_8B(), "model_type", "mistral"); },
       {"model_type", "mistral", "llama, qwen2, qwen3"}},
      {"missing type", [] { return Without(Llama31_8B(), "model_type"); }, {"model_type", "required"}},
      {"mlp_bias", [] { return With(Llama31_8B(), "mlp_bias", true); }, {"'mlp_bias'"}},
      {"pretraining_tp", [] { return With(Llama31_8B(), "pretraining_tp", 2); }, {"'pretraining_tp'", "2"}},
      {"sliding window", [] { return With(Qwen25_1_5B(), "use_sliding_window", true); }, {"'use_sliding_window'"}},
      {"layer types", [] { return With(Qwen3_8B(), "layer_types", {"full_attention", "sliding_attention"}); },
       {"'layer_types'", "sliding_attention"}},
      {"gelu", [] { return With(Llama31_8B(), "hidden_act", "gelu"); }, {"'hidden_act'", "gelu"}},
      {"linear rope", [] { return With(Llama31_8B(), "rope_scaling", {{"type", "linear"}, {"factor", 2.0}}); },
       {"rope_scaling", "unsupported", "linear"}},
      {"yarn rope", [] { return With(Qwen25_1_5B(), "rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}); },
       {"rope_scaling", "unsupported", "yarn"}},
      {"dynamic rope", [] { return With(Llama31_8B(), "rope_scaling", {{"type", "dynamic"}, {"factor", 2.0}}); },
       {"rope_scaling", "unsupported", "dynamic"}},
      {"llama3 without factor",
       [] {
         json j = Llama31_8B();
         j["rope_scaling"].erase("factor");
         return j;
       },
       {"'rope_scaling.factor'", "required"}},
      {"llama3 low >= high",
       [] {
         json j = Llama31_8B();
         j["rope_scaling"]["high_freq_factor"] = 1.0;
         return j;
       },
       {"'rope_scaling.high_freq_factor'"}},
      {"rope_scaling not object", [] { return With(Llama31_8B(), "rope_scaling", "llama3"); }, {"'rope_scaling'"}},
      {"zero hidden", [] { return With(Llama31_8B(), "hidden_size", 0); }, {"'hidden_size'", "positive"}},
      {"negative vocab", [] { return With(Llama31_8B(), "vocab_size", -5); }, {"'vocab_size'", "positive"}},
      {"huge vocab", [] { return With(Llama31_8B(), "vocab_size", int64_t{1} << 40); }, {"'vocab_size'", "large"}},
      {"missing intermediate", [] { return Without(Llama31_8B(), "intermediate_size"); },
       {"'intermediate_size'", "required"}},
      {"string size", [] { return With(Llama31_8B(), "hidden_size", "4096"); }, {"'hidden_size'", "integer"}},
      {"float size", [] { return With(Llama31_8B(), "num_hidden_layers", 32.5); }, {"'num_hidden_layers'", "integer"}},
      {"kv heads do not divide", [] { return With(Llama31_8B(), "num_key_value_heads", 5); },
       {"'num_key_value_heads'", "divide"}},
      {"heads do not divide hidden", [] { return With(Llama31_8B(), "num_attention_heads", 24); },
       {"'num_attention_heads'", "hidden_size"}},
      {"zero theta", [] { return With(Llama31_8B(), "rope_theta", 0); }, {"'rope_theta'"}},
      {"negative eps", [] { return With(Llama31_8B(), "rms_norm_eps", -1e-5); }, {"'rms_norm_eps'"}},
      {"eos string", [] { return With(Llama31_8B(), "eos_token_id", "</s>"); }, {"'eos_token_id'"}},
      {"eos negative in list", [] { return With(Llama31_8B(), "eos_token_id", {1, -2}); }, {"'eos_token_id'"}},
      {"bos float", [] { return With(Llama31_8B(), "bos_token_id", 1.5); }, {"'bos_token_id'"}},
      {"tie not bool", [] { return With(Llama31_8B(), "tie_word_embeddings", "yes"); }, {"'tie_word_embeddings'"}},
      {"not an object", [] { return json::array({1, 2}); }, {"JSON object"}},
  };
  for (const Refusal& r : cases) {
    absl::StatusOr<ModelConfig> c = ParseModelConfig(r.config(), "some/config.json");
    ASSERT_FALSE(c.ok()) << r.name;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << r.name;
    const std::string message(c.status().message());
    EXPECT_NE(message.find("some/config.json"), std::string::npos) << r.name << ": " << message;
    for (const std::string& part : r.message_parts) {
      EXPECT_NE(message.find(part), std::string::npos) << r.name << ": '" << part << "' not in: " << message;
    }
  }
}

// Property: LoadModelConfig reads a folder's config.json or a file path, and reports unreadable or invalid files
// with the path (and for bad JSON, nlohmann's position).
TEST(ModelConfig, Load) {
  const fs::path dir = fs::temp_directory_path() / std::string("distill-hf-config-").append(std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << Qwen3_8B().dump(2);
  absl::StatusOr<ModelConfig> c = LoadModelConfig(dir.string());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "qwen3");
  c = LoadModelConfig((dir / "config.json").string());
  ASSERT_TRUE(c.ok()) << c.status();

  std::ofstream(dir / "bad.json") << "{\"model_type\": \"llama\",\n  \"hidden_size\": }";
  c = LoadModelConfig((dir / "bad.json").string());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string(c.status().message()).find("bad.json"), std::string::npos) << c.status();
  EXPECT_NE(std::string(c.status().message()).find("line 2"), std::string::npos) << c.status();

  c = LoadModelConfig((dir / "missing").string());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace distill::hf
