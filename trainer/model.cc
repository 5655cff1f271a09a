// A token's way through the model: Hidden() looks up its embedding, then every DecoderLayer (blocks.cc) adds
// attention and SwiGLU outputs to it, the final RMSNorm gives the hidden state, and Logits() multiplies by the
// LM head. The families differ only in the FamilySpec table below.
#include "trainer/model.h"

#include <ATen/CPUGeneratorImpl.h>
#include <unistd.h>

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "trainer/recompute.h"

namespace distill::trainer {

namespace {

// What a family changes in the shared transformer (DESIGN.md "Models").
struct FamilySpec {
  std::string_view model_type;
  bool qkv_bias_required;  // Qwen2 always has q/k/v biases; Llama and Qwen3 read attention_bias (default off)
  bool qk_norm;            // Qwen3: per-head RMSNorm on q and k before RoPE
};
constexpr FamilySpec kFamilies[] = {
    {"llama", false, false},
    {"qwen2", true, false},
    {"qwen3", false, true},
};

absl::Status CheckConfig(const hf::ModelConfig& c) {
  const FamilySpec* family = nullptr;
  for (const FamilySpec& f : kFamilies) {
    if (f.model_type == std::string_view(c.model_type)) family = &f;
  }
  if (family == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("model_type \"", c.model_type, "\" is not llama, qwen2 or qwen3"));
  }
  const std::pair<const char*, int64_t> sizes[] = {{"vocab_size", c.vocab_size},
                                                   {"hidden_size", c.hidden_size},
                                                   {"intermediate_size", c.intermediate_size},
                                                   {"num_hidden_layers", c.num_hidden_layers},
                                                   {"num_attention_heads", c.num_attention_heads},
                                                   {"num_key_value_heads", c.num_key_value_heads},
                                                   {"head_dim", c.head_dim}};
  for (const auto& [key, value] : sizes) {
    if (value <= 0) return absl::InvalidArgumentError(absl::StrCat(key, " must be positive, got ", value));
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("num_attention_heads ", c.num_attention_heads,
                                                   " is not a multiple of num_key_value_heads ",
                                                   c.num_key_value_heads));
  }
  if (c.head_dim % 2 != 0) return absl::InvalidArgumentError(absl::StrCat("head_dim ", c.head_dim, " is odd"));
  if (!(c.rope_theta > 0)) return absl::InvalidArgumentError("rope_theta must be positive");
  if (c.rope_scaling && c.rope_scaling->type != "llama3") {
    return absl::InvalidArgumentError(
        absl::StrCat("rope_scaling type \"", c.rope_scaling->type, "\" is not supported"));
  }
  if (family->qkv_bias_required && !c.attention_bias) {
    return absl::InvalidArgumentError(absl::StrCat(c.model_type, " has q/k/v biases but attention_bias is false"));
  }
  if (family->qk_norm != c.qk_norm) {
    return absl::InvalidArgumentError(
        absl::StrCat(c.model_type, family->qk_norm ? " needs" : " has no", " per-head q_norm/k_norm (qk_norm)"));
  }
  return absl::OkStatus();
}

torch::Tensor Forward(const Model& m, const torch::Tensor& ids, const torch::Tensor& positions,
                      const RowSegments* segments, KvCache* cache, bool recompute) {
  TORCH_CHECK(ids.dim() == 2 && positions.sizes() == ids.sizes(), "ids and positions must both be [B, T]");
  torch::Tensor h = torch::embedding(m.model->embed_tokens->weight, ids);           // [B, T, H]
  const Rope rope = RopeAt(m.inv_freq.to(h.device()), positions, h.scalar_type());  // shared by every layer
  for (size_t i = 0; i < m.model->layers.size(); ++i) {
    if (recompute && cache == nullptr) {
      h = ApplyRecomputed(*m.model->layers[i], h, rope, segments);
      continue;
    }
    h = Apply(*m.model->layers[i], h, rope, segments, cache != nullptr ? &cache->layers[i] : nullptr);
  }
  return Apply(*m.model->norm, h);
}

}  // namespace

Embedding::Embedding(int64_t vocab, int64_t dim, const torch::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({vocab, dim}, options));
}

Transformer::Transformer(const hf::ModelConfig& config, const torch::TensorOptions& options) {
  embed_tokens =
      register_module("embed_tokens", std::make_shared<Embedding>(config.vocab_size, config.hidden_size, options));
  auto layer_list = register_module("layers", std::make_shared<torch::nn::Module>());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    layers.push_back(layer_list->register_module(std::to_string(i), std::make_shared<DecoderLayer>(config, options)));
  }
  norm = register_module("norm", std::make_shared<RmsNorm>(config.hidden_size, config.rms_norm_eps, options));
}

Model::Model(const hf::ModelConfig& config_, const torch::TensorOptions& options) : config(config_) {
  model = register_module("model", std::make_shared<Transformer>(config, options));
  if (!config.tie_word_embeddings) {
    lm_head =
        register_module("lm_head", std::make_shared<Linear>(config.hidden_size, config.vocab_size, false, options));
  }
  inv_freq = RopeInvFreq(config, options.device(), at::promote_types(options.dtype().toScalarType(), torch::kFloat));
}

double ParameterCount(const hf::ModelConfig& c) {
  const double hidden = static_cast<double>(c.hidden_size), head_dim = static_cast<double>(c.head_dim);
  const double q = static_cast<double>(c.num_attention_heads) * head_dim;
  const double kv = static_cast<double>(c.num_key_value_heads) * head_dim;
  // q/k/v/o projections, gate/up/down, two norms; q/k/v biases and per-head q/k norms where the family has them.
  double layer = 2 * hidden * (q + kv) + 3 * hidden * static_cast<double>(c.intermediate_size) + 2 * hidden;
  if (c.attention_bias) layer += q + 2 * kv;
  if (c.qk_norm) layer += 2 * head_dim;
  const double embeddings = static_cast<double>(c.vocab_size) * hidden * (c.tie_word_embeddings ? 1 : 2);
  return embeddings + static_cast<double>(c.num_hidden_layers) * layer + hidden;
}

absl::StatusOr<std::shared_ptr<Model>> MakeModel(const hf::ModelConfig& config, torch::Device device,
                                                 torch::Dtype dtype) {
  if (absl::Status status = CheckConfig(config); !status.ok()) return status;
  // A mistyped size (num_hidden_layers: 2000000000) is named here rather than met as an allocation failure or the
  // out-of-memory killer. Only on CPU: a GPU's allocator reports its own out-of-memory clearly.
  const double parameters = ParameterCount(config);
  const double bytes = parameters * static_cast<double>(c10::elementSize(dtype));
  const double memory = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
  if (device.is_cpu() && memory > 0 && bytes > memory) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "the config describes %.3g parameters, %.1f GB in %s: more than this machine's %.1f GB of memory",
        parameters, bytes / 1e9, c10::toString(dtype), memory / 1e9));
  }
  return std::make_shared<Model>(config, torch::TensorOptions().device(device).dtype(dtype));
}

void InitRandom(Model& model, uint64_t seed) {
  torch::NoGradGuard no_grad;
  // Values come from a CPU generator in fp32 so every device and dtype starts from the same numbers.
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (const auto& item : model.named_parameters()) {
    torch::Tensor param = item.value();
    const bool is_norm = std::string_view(item.key()).ends_with("norm.weight");
    torch::Tensor values = is_norm ? torch::ones(param.sizes(), torch::kFloat)
                                   : torch::randn(param.sizes(), generator, torch::kFloat) * 0.02;
    param.copy_(values);
  }
}

double TrainingFlopsPerToken(const Model& model, double mean_context) {
  const hf::ModelConfig& c = model.config;
  const double params = ParameterCount(c);
  // Per layer and token: QKᵀ and AV, 2 FLOPs per multiply-add, over half the context (causal), times 3 for backward.
  const double attention = 6.0 * static_cast<double>(c.num_hidden_layers * c.num_attention_heads * c.head_dim) *
                           mean_context;
  return 6.0 * params + attention;
}

const torch::Tensor& LmHeadWeight(const Model& model) {
  return model.lm_head ? model.lm_head->weight : model.model->embed_tokens->weight;
}

torch::Tensor Hidden(const Model& model, const torch::Tensor& ids, const torch::Tensor& positions,
                     std::span<const int32_t> cu_seqlens, bool recompute) {
  const RowSegments segments = SegmentsFromCuSeqlens(cu_seqlens, ids.size(0), ids.size(1));
  return Forward(model, ids, positions, &segments, nullptr, recompute);
}

torch::Tensor HiddenCached(const Model& model, const torch::Tensor& ids, KvCache& cache) {
  cache.layers.resize(model.model->layers.size());
  const int64_t start = cache.length();
  torch::Tensor positions =
      torch::arange(start, start + ids.size(1), ids.options().dtype(torch::kLong)).expand({ids.size(0), ids.size(1)});
  return Forward(model, ids, positions, nullptr, &cache, /*recompute=*/false);
}

torch::Tensor Logits(const Model& model, const torch::Tensor& hidden) {
  return torch::matmul(hidden, LmHeadWeight(model).t());
}

}  // namespace distill::trainer
