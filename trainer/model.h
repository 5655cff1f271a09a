// The decoder-only language models Distill trains: Llama 3.x ("llama"), Qwen2/Qwen2.5 ("qwen2"), Qwen3 ("qwen3").
// One transformer (model.cc) with the few per-family differences spelled out in a table there. Parameters carry
// exactly the Hugging Face checkpoint names (model.embed_tokens.weight, model.layers.N.self_attn.q_proj.weight,
// …, model.norm.weight, lm_head.weight unless tied), so named_parameters() maps 1:1 onto a checkpoint.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/blocks.h"
#include "trainer/hf/model_config.h"

namespace distill::trainer {

// nn.Embedding without init: weight [vocab, H].
struct Embedding : torch::nn::Module {
  Embedding(int64_t vocab, int64_t dim, const torch::TensorOptions& options);
  torch::Tensor weight;
};

// HF LlamaModel / Qwen2Model / Qwen3Model: embeddings, layers, final norm. Registered as "model".
struct Transformer : torch::nn::Module {
  Transformer(const hf::ModelConfig& config, const torch::TensorOptions& options);
  std::shared_ptr<Embedding> embed_tokens;
  std::vector<std::shared_ptr<DecoderLayer>> layers;  // "layers.N"
  std::shared_ptr<RmsNorm> norm;
};

// HF *ForCausalLM.
struct Model : torch::nn::Module {
  Model(const hf::ModelConfig& config, const torch::TensorOptions& options);
  hf::ModelConfig config;
  std::shared_ptr<Transformer> model;
  std::shared_ptr<Linear> lm_head;  // null when config.tie_word_embeddings
  // RoPE [head_dim/2], fp32 (fp64 in a double model). Not registered: HF does not save it, and Module::to(dtype)
  // would round it; each forward moves it to the activations' device.
  torch::Tensor inv_freq;
};

// Checks the config against its family and allocates an uninitialised model on `device` in `dtype`.
// InvalidArgument for an unknown model_type, sizes that do not fit together, or flags the family contradicts;
// ResourceExhausted on CPU when the parameters alone would exceed the machine's physical memory.
absl::StatusOr<std::shared_ptr<Model>> MakeModel(const hf::ModelConfig& config, torch::Device device,
                                                 torch::Dtype dtype);

// The number of parameters MakeModel allocates for `config` (LoRA adapters not counted), exact up to 2^53.
double ParameterCount(const hf::ModelConfig& config);

// Deterministic init from `seed`, independent of device and dtype: weights and biases ~ N(0, 0.02²) (HF's
// initializer_range; random biases so tests exercise them), norm weights 1.
void InitRandom(Model& model, uint64_t seed);

// The weight the LM head multiplies by: lm_head.weight, or model.embed_tokens.weight when tied. [vocab, H].
const torch::Tensor& LmHeadWeight(const Model& model);

// Final normed hidden states [B, T, H] in the model dtype for token ids [B, T] (int64, on the model's device) at
// positions [B, T] (restarting at 0 per document). `cu_seqlens` (the shard loader's, over the flattened B·T
// batch) confines attention to each document; empty means every row is one document. `recompute` checkpoints
// every decoder layer (trainer/recompute.h): same values and gradients, activations of one layer at a time.
torch::Tensor Hidden(const Model& model, const torch::Tensor& ids, const torch::Tensor& positions,
                     std::span<const int32_t> cu_seqlens = {}, bool recompute = false);

// Key/value caches of every layer for incremental decoding (one document per row).
struct KvCache {
  std::vector<LayerCache> layers;
  int64_t length() const { return layers.empty() || !layers[0].k.defined() ? 0 : layers[0].k.size(2); }
};
// Hidden states [B, T, H] of `ids` [B, T] that follow the cache's tokens: positions continue from
// cache.length(), and the new keys/values are appended to `cache`.
torch::Tensor HiddenCached(const Model& model, const torch::Tensor& ids, KvCache& cache);

// Model FLOPs of training per token (forward and backward, recompute not counted), for MFU: 6 × parameters for
// the matmuls plus causal attention over `mean_context` keys per token (Σ document length² / tokens; the row
// length when a row is one document), as PaLM's appendix counts them.
double TrainingFlopsPerToken(const Model& model, double mean_context);

// hidden [..., H] @ LmHeadWeight(model)ᵀ -> logits [..., vocab] in the model dtype.
torch::Tensor Logits(const Model& model, const torch::Tensor& hidden);

}  // namespace distill::trainer
