// A Hugging Face `config.json` for the decoder families Distill trains and exports: Llama 3.x ("llama"),
// Qwen2/Qwen2.5 ("qwen2") and Qwen3 ("qwen3"). Plain C++ (no LibTorch): the GGUF exporter reads it too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace distill::hf {

// `rope_scaling` of config.json. Only "llama3" changes the frequencies in our models; "linear" and "yarn" are
// refused by ParseModelConfig until a model needs them.
struct RopeScaling {
  std::string type;  // "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string model_type;  // "llama" | "qwen2" | "qwen3"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // defaults to num_attention_heads
  int64_t head_dim = 0;             // explicit in Qwen3; otherwise hidden_size / num_attention_heads
  int64_t max_position_embeddings = 0;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v biases: always true for qwen2, config key for llama/qwen3
  bool qk_norm = false;         // per-head RMSNorm on q and k: qwen3
  std::optional<RopeScaling> rope_scaling;
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // int or list in config.json
  std::string torch_dtype;             // "bfloat16", "float16", "float32" or empty
  nlohmann::json raw;                  // the parsed file, kept so a saved model round-trips unknown keys
};

// Validates and parses a config.json object. Errors name `origin` and the key: unknown model_type, missing or
// non-positive sizes, heads that do not divide, unsupported rope_scaling types, and keys that change the
// architecture in ways we do not implement (e.g. sliding windows in use, mlp_bias, pretraining_tp > 1).
absl::StatusOr<ModelConfig> ParseModelConfig(const nlohmann::json& config, std::string_view origin);

// Reads and parses `<folder>/config.json` (or a config.json path).
absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& path);

// A LoRA adapter folder from `distill train` records in its trainer_state.json the context the run trained at
// (max_position_embeddings, raised above the base's for longer rows): raises config.max_position_embeddings to it,
// for the model that merges the adapter into its base. No file or no such field leaves config as it is.
void RaiseToTrainedContext(const std::string& adapter_folder, ModelConfig& config);

// config.json for `config`: `raw` with every modelled field overwritten by the struct's values.
nlohmann::json ToJson(const ModelConfig& config);

}  // namespace distill::hf
