// Transformer building blocks shared by Llama 3.x, Qwen2/2.5 and Qwen3, written to match Hugging Face
// transformers op for op (RMSNorm in fp32, rotate-half RoPE, SwiGLU, GQA attention with repeat_kv). Parameters
// are registered under the names HF uses inside a layer, so a model's named_parameters() are HF's names.
//
// Shapes: B batch rows, T tokens, H hidden_size, h attention heads, g key/value heads, d head_dim.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "trainer/hf/model_config.h"

namespace distill::trainer {

// A LoRA adapter on a Linear, as PEFT's lora.Linear: lora_A.weight `a` [r, in], lora_B.weight `b` [out, r].
struct LoraAdapter {
  torch::Tensor a;
  torch::Tensor b;
  double scaling = 1.0;  // lora_alpha / r (alpha / √r with rsLoRA)
  // On the adapter path's input, only while the Linear is training. Masks come from torch's default generator,
  // which the trainer seeds from (seed, step), so a resumed run draws the same masks.
  double dropout = 0.0;
};

// nn.Linear without init: y = x Wᵀ + b. weight [out, in]; bias [out], undefined when the layer has none.
struct Linear : torch::nn::Module {
  Linear(int64_t in, int64_t out, bool with_bias, const torch::TensorOptions& options);
  torch::Tensor weight;
  torch::Tensor bias;
  // Not registered, so named_parameters() and HF checkpoints stay the base model's (see trainer/lora.h).
  std::shared_ptr<LoraAdapter> lora;
};
// [..., in] -> [..., out]: x Wᵀ + b, plus dropout(x) Aᵀ Bᵀ · scaling when an adapter is attached.
torch::Tensor Apply(const Linear& linear, const torch::Tensor& x);

// HF LlamaRMSNorm / Qwen2RMSNorm / Qwen3RMSNorm: weight [dim].
struct RmsNorm : torch::nn::Module {
  RmsNorm(int64_t dim, double eps, const torch::TensorOptions& options);
  torch::Tensor weight;
  double eps;
};
// x [..., dim]: weight * (x_fp32 * rsqrt(mean(x_fp32²) + eps)).to(x.dtype), normalised over the last dim.
torch::Tensor Apply(const RmsNorm& norm, const torch::Tensor& x);

// RoPE inverse frequencies [d/2] on `device`: 1 / theta^(2i/d) computed in fp32 as transformers does (fp64 only
// for double-precision test models), then "llama3" rope_scaling as transformers' _compute_llama3_parameters.
torch::Tensor RopeInvFreq(const hf::ModelConfig& config, torch::Device device, torch::ScalarType dtype = torch::kFloat);

// cos and sin [B, T, d] in `dtype` for integer positions [B, T]: angles = position · inv_freq in inv_freq's
// dtype, duplicated across both halves (HF's cat(freqs, freqs)).
struct Rope {
  torch::Tensor cos;
  torch::Tensor sin;
};
Rope RopeAt(const torch::Tensor& inv_freq, const torch::Tensor& positions, torch::ScalarType dtype);
// x [B, heads, T, d]: x·cos + rotate_half(x)·sin, rotate_half(x) = cat(-x[d/2:], x[:d/2]).
torch::Tensor ApplyRope(const torch::Tensor& x, const Rope& rope);

// Which tokens of a packed batch share a document: per row, [start, end) ranges that tile the row in order.
// Attention is causal and never crosses a range boundary.
using RowSegments = std::vector<std::vector<std::pair<int64_t, int64_t>>>;
// From the shard loader's cu_seqlens over the flattened [B·T] batch (0, every document start, every row's padding
// start, B·T). Empty cu_seqlens: every row is one document. Throws c10::Error when they do not tile the rows.
RowSegments SegmentsFromCuSeqlens(std::span<const int32_t> cu_seqlens, int64_t rows, int64_t seq_len);

// Softmax attention where query i of Tq sits at key position Tk − Tq + i and sees keys ≤ it (causal, aligned at
// the end so a cached decode step sees the whole cache). q [B, h, Tq, d], k/v [B, h, Tk, d], Tk ≥ Tq; returns
// [B, h, Tq, d] in q's dtype. LibTorch ≥ 2: scaled_dot_product_attention; 1.13: explicit fp32 softmax(QKᵀ/√d)V.
torch::Tensor CausalAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

// Keys and values of the positions seen so far in one layer, after RoPE and before repeat_kv: [B, g, T, d].
// Undefined until the first call appends to it.
struct LayerCache {
  torch::Tensor k;
  torch::Tensor v;
};

// HF *Attention: q/k/v/o projections (q/k/v biases for Qwen2), per-head q_norm/k_norm before RoPE (Qwen3).
struct Attention : torch::nn::Module {
  Attention(const hf::ModelConfig& config, const torch::TensorOptions& options);
  std::shared_ptr<Linear> q_proj, k_proj, v_proj, o_proj;
  std::shared_ptr<RmsNorm> q_norm, k_norm;  // null unless config.qk_norm
  int64_t heads, kv_heads, head_dim;
};
// x [B, T, H] -> [B, T, H]. With `cache`, the new keys/values are appended and the queries attend to the whole
// cache (one document per row; `segments` must be null); otherwise attention is causal within `segments`
// (null: one document per row).
torch::Tensor Apply(const Attention& attn, const torch::Tensor& x, const Rope& rope, const RowSegments* segments,
                    LayerCache* cache);

// SwiGLU: down_proj(silu(gate_proj(x)) * up_proj(x)), no biases. [B, T, H] -> [B, T, H].
struct Mlp : torch::nn::Module {
  Mlp(const hf::ModelConfig& config, const torch::TensorOptions& options);
  std::shared_ptr<Linear> gate_proj, up_proj, down_proj;
};
torch::Tensor Apply(const Mlp& mlp, const torch::Tensor& x);

// Pre-norm decoder layer: h += attn(input_layernorm(h)); h += mlp(post_attention_layernorm(h)).
struct DecoderLayer : torch::nn::Module {
  DecoderLayer(const hf::ModelConfig& config, const torch::TensorOptions& options);
  std::shared_ptr<RmsNorm> input_layernorm;
  std::shared_ptr<Attention> self_attn;
  std::shared_ptr<RmsNorm> post_attention_layernorm;
  std::shared_ptr<Mlp> mlp;
};
torch::Tensor Apply(const DecoderLayer& layer, const torch::Tensor& h, const Rope& rope, const RowSegments* segments,
                    LayerCache* cache);

}  // namespace distill::trainer
