#include "trainer/hf/model_config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace distill::hf {
namespace {

using json = nlohmann::json;

// Sizes above this are not a real model and would overflow the products (vocab × hidden, …) that later code
// computes in int64.
constexpr int64_t kMaxSize = std::numeric_limits<int32_t>::max();

constexpr const char* kSupportedTypes[] = {"llama", "qwen2", "qwen3"};

// Typed access to config.json keys. Every error names the origin and the key, so a user can fix the file.
class Keys {
 public:
  Keys(const json& object, std::string origin, std::string prefix = "")
      : object_(object), origin_(std::move(origin)), prefix_(std::move(prefix)) {}

  absl::Status Error(std::string_view key, std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(origin_, ": key '", prefix_, std::string(key), "': ", std::string(what)));
  }

  // The value, or nullptr when the key is absent or null (HF writes null for "not set").
  const json* Get(std::string_view key) const {
    auto it = object_.find(std::string(key));
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  absl::StatusOr<int64_t> Int(std::string_view key, std::optional<int64_t> fallback) const {
    const json* v = Get(key);
    if (v == nullptr) {
      if (fallback) return *fallback;
      return Error(key, "is required");
    }
    if (v->is_number_unsigned()) {
      const uint64_t u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return Error(key, "is out of range");
      return static_cast<int64_t>(u);
    }
    if (v->is_number_integer()) return v->get<int64_t>();
    return Error(key, absl::StrCat("must be an integer, got ", v->dump()));
  }

  // A size of the model: an integer in [1, kMaxSize].
  absl::StatusOr<int64_t> Size(std::string_view key, std::optional<int64_t> fallback) const {
    absl::StatusOr<int64_t> v = Int(key, fallback);
    if (!v.ok()) return v;
    if (*v <= 0) return Error(key, absl::StrCat("must be positive, got ", *v));
    if (*v > kMaxSize) return Error(key, absl::StrCat("is implausibly large: ", *v));
    return v;
  }

  absl::StatusOr<double> Number(std::string_view key, std::optional<double> fallback) const {
    const json* v = Get(key);
    if (v == nullptr) {
      if (fallback) return *fallback;
      return Error(key, "is required");
    }
    if (!v->is_number()) return Error(key, absl::StrCat("must be a number, got ", v->dump()));
    return v->get<double>();
  }

  absl::StatusOr<double> PositiveNumber(std::string_view key, std::optional<double> fallback) const {
    absl::StatusOr<double> v = Number(key, fallback);
    if (!v.ok()) return v;
    if (!std::isfinite(*v) || *v <= 0) return Error(key, absl::StrCat("must be a positive number, got ", *v));
    return v;
  }

  absl::StatusOr<bool> Bool(std::string_view key, bool fallback) const {
    const json* v = Get(key);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) return Error(key, absl::StrCat("must be true or false, got ", v->dump()));
    return v->get<bool>();
  }

  absl::StatusOr<std::string> String(std::string_view key, std::string fallback) const {
    const json* v = Get(key);
    if (v == nullptr) return fallback;
    if (!v->is_string()) return Error(key, absl::StrCat("must be a string, got ", v->dump()));
    return v->get<std::string>();
  }

 private:
  const json& object_;
  std::string origin_;
  std::string prefix_;
};

// Assigns the value of a StatusOr expression or returns its error.
#define DISTILL_ASSIGN(lhs, expr)                     \
  do {                                                \
    auto distill_v_ = (expr);                         \
    if (!distill_v_.ok()) return distill_v_.status(); \
    lhs = *std::move(distill_v_);                     \
  } while (0)

// rope_scaling (or, in newer transformers, rope_parameters). Only "llama3" changes our frequencies; "default" is
// plain RoPE. The others would silently give wrong logits if ignored, so they are refused.
absl::Status ParseRopeScaling(const json& value, const std::string& origin, std::string_view key,
                              std::optional<RopeScaling>& out) {
  out.reset();
  if (value.is_null()) return absl::OkStatus();
  const std::string prefix = absl::StrCat(std::string(key), ".");
  if (!value.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": key '", std::string(key), "': must be an object or null, got ", value.dump()));
  }
  Keys k(value, origin, prefix);
  std::string type;
  DISTILL_ASSIGN(type, k.String("rope_type", ""));
  if (type.empty()) DISTILL_ASSIGN(type, k.String("type", ""));
  if (type.empty() || type == "default") return absl::OkStatus();
  if (type != "llama3") {
    return k.Error("rope_type", absl::StrCat("unsupported rope scaling type '", type,
                                             "' (supported: llama3, default)"));
  }
  RopeScaling r;
  r.type = type;
  DISTILL_ASSIGN(r.factor, k.PositiveNumber("factor", std::nullopt));
  DISTILL_ASSIGN(r.low_freq_factor, k.PositiveNumber("low_freq_factor", std::nullopt));
  DISTILL_ASSIGN(r.high_freq_factor, k.PositiveNumber("high_freq_factor", std::nullopt));
  DISTILL_ASSIGN(r.original_max_position_embeddings, k.Size("original_max_position_embeddings", std::nullopt));
  // The llama3 formula divides by (high - low); equal factors would make the smoothing band empty.
  if (!(r.high_freq_factor > r.low_freq_factor)) {
    return k.Error("high_freq_factor", absl::StrCat("must exceed low_freq_factor (", r.low_freq_factor, "), got ",
                                                    r.high_freq_factor));
  }
  out = r;
  return absl::OkStatus();
}

// Keys that switch on architecture features our model blocks do not implement: refused instead of ignored.
absl::Status RefuseUnimplemented(const Keys& k) {
  bool flag = false;
  DISTILL_ASSIGN(flag, k.Bool("mlp_bias", false));
  if (flag) return k.Error("mlp_bias", "true is refused: Distill's Llama/Qwen MLPs have no biases, as in the real models");
  int64_t tp = 1;
  DISTILL_ASSIGN(tp, k.Int("pretraining_tp", 1));
  if (tp > 1) {
    return k.Error("pretraining_tp", absl::StrCat("values > 1 are not supported (sliced projections), got ", tp));
  }
  DISTILL_ASSIGN(flag, k.Bool("use_sliding_window", false));
  if (flag) return k.Error("use_sliding_window", "true is not supported (sliding-window attention)");
  // Newer transformers list per-layer attention kinds; anything but full attention is a sliding window.
  if (const json* layers = k.Get("layer_types")) {
    if (!layers->is_array()) return k.Error("layer_types", "must be a list");
    for (const json& t : *layers) {
      if (!t.is_string() || t.get<std::string>() != "full_attention") {
        return k.Error("layer_types", absl::StrCat("only \"full_attention\" layers are supported, got ", t.dump()));
      }
    }
  }
  std::string act;
  DISTILL_ASSIGN(act, k.String("hidden_act", "silu"));
  if (act != "silu") return k.Error("hidden_act", absl::StrCat("only \"silu\" is supported, got \"", act, "\""));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ModelConfig> ParseModelConfig(const json& config, std::string_view origin_view) {
  const std::string origin(origin_view);
  if (!config.is_object()) return absl::InvalidArgumentError(absl::StrCat(origin, ": config must be a JSON object"));
  Keys k(config, origin);
  ModelConfig c;
  c.raw = config;

  DISTILL_ASSIGN(c.model_type, k.String("model_type", ""));
  if (c.model_type.empty()) {
    return k.Error("model_type", absl::StrCat("is required (supported: ", absl::StrJoin(kSupportedTypes, ", "), ")"));
  }
  const bool llama = c.model_type == "llama", qwen2 = c.model_type == "qwen2", qwen3 = c.model_type == "qwen3";
  if (!llama && !qwen2 && !qwen3) {
    return k.Error("model_type", absl::StrCat("unsupported model type '", c.model_type,
                                              "' (supported: ", absl::StrJoin(kSupportedTypes, ", "), ")"));
  }
  if (absl::Status s = RefuseUnimplemented(k); !s.ok()) return s;

  DISTILL_ASSIGN(c.vocab_size, k.Size("vocab_size", std::nullopt));
  DISTILL_ASSIGN(c.hidden_size, k.Size("hidden_size", std::nullopt));
  DISTILL_ASSIGN(c.intermediate_size, k.Size("intermediate_size", std::nullopt));
  DISTILL_ASSIGN(c.num_hidden_layers, k.Size("num_hidden_layers", std::nullopt));
  DISTILL_ASSIGN(c.num_attention_heads, k.Size("num_attention_heads", std::nullopt));
  DISTILL_ASSIGN(c.num_key_value_heads, k.Size("num_key_value_heads", c.num_attention_heads));
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return k.Error("num_key_value_heads", absl::StrCat(c.num_key_value_heads, " does not divide num_attention_heads (",
                                                       c.num_attention_heads, ")"));
  }
  if (k.Get("head_dim") != nullptr) {
    DISTILL_ASSIGN(c.head_dim, k.Size("head_dim", std::nullopt));
  } else {
    if (c.hidden_size % c.num_attention_heads != 0) {
      return k.Error("num_attention_heads", absl::StrCat(c.num_attention_heads, " does not divide hidden_size (",
                                                         c.hidden_size, ") and no head_dim is given"));
    }
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  // transformers' class defaults when the key is absent: Llama 2048, Qwen2/Qwen3 32768.
  DISTILL_ASSIGN(c.max_position_embeddings, k.Size("max_position_embeddings", llama ? 2048 : 32768));
  DISTILL_ASSIGN(c.rms_norm_eps, k.PositiveNumber("rms_norm_eps", 1e-6));
  DISTILL_ASSIGN(c.tie_word_embeddings, k.Bool("tie_word_embeddings", false));

  // transformers >= 4.56 may move rope_theta and the scaling into rope_parameters; read either.
  const json* rope_params = k.Get("rope_parameters");
  if (rope_params != nullptr && !rope_params->is_object()) return k.Error("rope_parameters", "must be an object");
  double theta_fallback = 10000.0;
  if (rope_params != nullptr && k.Get("rope_theta") == nullptr) {
    Keys rp(*rope_params, origin, "rope_parameters.");
    DISTILL_ASSIGN(theta_fallback, rp.PositiveNumber("rope_theta", 10000.0));
  }
  DISTILL_ASSIGN(c.rope_theta, k.PositiveNumber("rope_theta", theta_fallback));
  if (const json* rs = k.Get("rope_scaling")) {
    if (absl::Status s = ParseRopeScaling(*rs, origin, "rope_scaling", c.rope_scaling); !s.ok()) return s;
  } else if (rope_params != nullptr) {
    if (absl::Status s = ParseRopeScaling(*rope_params, origin, "rope_parameters", c.rope_scaling); !s.ok()) return s;
  }

  // Qwen2 always has q/k/v biases (its config has no key for it); Llama and Qwen3 read attention_bias.
  if (qwen2) {
    c.attention_bias = true;
  } else {
    DISTILL_ASSIGN(c.attention_bias, k.Bool("attention_bias", false));
  }
  c.qk_norm = qwen3;

  if (k.Get("bos_token_id") != nullptr) {
    int64_t id = 0;
    DISTILL_ASSIGN(id, k.Int("bos_token_id", std::nullopt));
    if (id < 0) return k.Error("bos_token_id", absl::StrCat("must be non-negative, got ", id));
    c.bos_token_id = id;
  }
  if (const json* eos = k.Get("eos_token_id")) {
    const json list = eos->is_array() ? *eos : json::array({*eos});
    for (const json& e : list) {
      if (!(e.is_number_integer() || e.is_number_unsigned()) || e.get<int64_t>() < 0 ||
          (e.is_number_unsigned() && e.get<uint64_t>() > static_cast<uint64_t>(kMaxSize))) {
        return k.Error("eos_token_id", absl::StrCat("must be a token id or a list of token ids, got ", eos->dump()));
      }
      c.eos_token_ids.push_back(e.get<int64_t>());
    }
  }
  DISTILL_ASSIGN(c.torch_dtype, k.String("torch_dtype", ""));
  if (c.torch_dtype.empty()) DISTILL_ASSIGN(c.torch_dtype, k.String("dtype", ""));  // transformers v5 name
  return c;
}

absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& path) {
  std::error_code ec;
  const std::string file =
      std::filesystem::is_directory(path, ec) ? (std::filesystem::path(path) / "config.json").string() : path;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT && file != path) {
      return absl::NotFoundError(absl::StrCat(path, ": no config.json here (expected a Hugging Face model folder: ",
                                              "config.json, *.safetensors and the tokenizer files)"));
    }
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat(file, ": cannot open: ", std::strerror(err)));
    return absl::InternalError(absl::StrCat(file, ": cannot open: ", std::strerror(err)));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::InternalError(absl::StrCat(file, ": read error"));
  if (buffer.view().starts_with("GGUF")) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": a GGUF file (llama.cpp weights), not a Hugging Face model folder or its config.json"));
  }
  json config;
  try {
    config = json::parse(buffer.str());
  } catch (const json::parse_error& e) {
    // nlohmann's message carries the line and column of the problem.
    return absl::InvalidArgumentError(absl::StrCat(file, ": invalid JSON: ", e.what()));
  }
  return ParseModelConfig(config, file);
}

json ToJson(const ModelConfig& c) {
  json j = c.raw.is_object() ? c.raw : json::object();
  j["model_type"] = c.model_type;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  // Only written when it carries information, so Llama/Qwen2 configs stay as transformers writes them.
  if (j.contains("head_dim") || c.num_attention_heads <= 0 || c.head_dim * c.num_attention_heads != c.hidden_size) {
    j["head_dim"] = c.head_dim;
  }
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["hidden_act"] = "silu";
  // Qwen2's biases are implied by the model type; its config class has no attention_bias key.
  if (c.model_type != "qwen2" || j.contains("attention_bias")) j["attention_bias"] = c.attention_bias;

  j["rope_theta"] = c.rope_theta;
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) j["rope_parameters"]["rope_theta"] = c.rope_theta;
  if (c.rope_scaling) {
    json rs = (j.contains("rope_scaling") && j["rope_scaling"].is_object()) ? j["rope_scaling"] : json::object();
    rs["rope_type"] = c.rope_scaling->type;
    if (rs.contains("type")) rs["type"] = c.rope_scaling->type;
    rs["factor"] = c.rope_scaling->factor;
    rs["low_freq_factor"] = c.rope_scaling->low_freq_factor;
    rs["high_freq_factor"] = c.rope_scaling->high_freq_factor;
    rs["original_max_position_embeddings"] = c.rope_scaling->original_max_position_embeddings;
    j["rope_scaling"] = rs;
  } else if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
    j["rope_scaling"] = nullptr;
  }

  if (c.bos_token_id) {
    j["bos_token_id"] = *c.bos_token_id;
  } else if (j.contains("bos_token_id")) {
    j["bos_token_id"] = nullptr;
  }
  const bool eos_was_list = j.contains("eos_token_id") && j["eos_token_id"].is_array();
  if (c.eos_token_ids.empty()) {
    if (j.contains("eos_token_id")) j["eos_token_id"] = nullptr;
  } else if (c.eos_token_ids.size() == 1 && !eos_was_list) {
    j["eos_token_id"] = c.eos_token_ids[0];
  } else {
    j["eos_token_id"] = c.eos_token_ids;
  }
  if (!c.torch_dtype.empty()) {
    if (j.contains("dtype") && !j.contains("torch_dtype")) {
      j["dtype"] = c.torch_dtype;
    } else {
      j["torch_dtype"] = c.torch_dtype;
    }
  }
  return j;
}

#undef DISTILL_ASSIGN

void RaiseToTrainedContext(const std::string& adapter_folder, ModelConfig& config) {
  std::ifstream in(std::filesystem::path(adapter_folder) / "trainer_state.json", std::ios::binary);
  if (!in) return;
  const json state = json::parse(in, nullptr, /*allow_exceptions=*/false);
  const auto trained = state.is_object() ? state.find("max_position_embeddings") : state.end();
  if (trained != state.end() && trained->is_number_integer())
    config.max_position_embeddings = std::max(config.max_position_embeddings, trained->get<int64_t>());
}

}  // namespace distill::hf
