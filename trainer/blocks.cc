#include "trainer/blocks.h"

#include <torch/version.h>

#include <cmath>
#include <limits>
#include <numbers>

namespace distill::trainer {

Linear::Linear(int64_t in, int64_t out, bool with_bias, const torch::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({out, in}, options));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}, options));
}

torch::Tensor Apply(const Linear& linear, const torch::Tensor& x) {
  torch::Tensor y = at::linear(x, linear.weight, linear.bias);
  if (!linear.lora) return y;
  const LoraAdapter& lora = *linear.lora;
  // PEFT runs the adapter in its own dtype (fp32 adapters on a bf16 base) and adds the result in the base's.
  torch::Tensor in = x.to(lora.a.scalar_type());
  if (lora.dropout > 0 && linear.is_training()) {
    torch::Tensor keep = torch::empty_like(in).bernoulli_(1.0 - lora.dropout);
    in = in * keep / (1.0 - lora.dropout);
  }
  return y + (at::linear(at::linear(in, lora.a), lora.b) * lora.scaling).to(y.scalar_type());
}

namespace {

// fp32 for bf16/fp16/fp32 as HF computes; double stays double so tests can check the arithmetic exactly.
torch::ScalarType AccumulationType(const torch::Tensor& x) { return at::promote_types(x.scalar_type(), torch::kFloat); }

}  // namespace

RmsNorm::RmsNorm(int64_t dim, double eps_, const torch::TensorOptions& options) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}, options));
}

torch::Tensor Apply(const RmsNorm& norm, const torch::Tensor& x) {
  // HF normalises in fp32 and casts back before the weight multiply; bf16 training depends on that order.
  torch::Tensor xf = x.to(AccumulationType(x));
  torch::Tensor variance = xf.pow(2).mean(-1, /*keepdim=*/true);
  return norm.weight * (xf * torch::rsqrt(variance + norm.eps)).to(x.scalar_type());
}

torch::Tensor RopeInvFreq(const hf::ModelConfig& config, torch::Device device, torch::ScalarType dtype) {
  const int64_t dim = config.head_dim;
  // Same fp32 ops as transformers' _compute_default_rope_parameters, so the angles agree bit for bit.
  torch::Tensor exponent = torch::arange(0, dim, 2, torch::kInt64).to(dtype) / static_cast<double>(dim);
  torch::Tensor inv_freq = 1.0 / torch::pow(config.rope_theta, exponent);
  if (config.rope_scaling && config.rope_scaling->type == "llama3") {
    const hf::RopeScaling& s = *config.rope_scaling;
    const double old_context = static_cast<double>(s.original_max_position_embeddings);
    const double low_freq_wavelen = old_context / s.low_freq_factor;
    const double high_freq_wavelen = old_context / s.high_freq_factor;
    torch::Tensor wavelen = 2 * std::numbers::pi / inv_freq;
    torch::Tensor scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
    torch::Tensor smooth = (old_context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    torch::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
    torch::Tensor medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
    inv_freq = torch::where(medium, smoothed, scaled);
  }
  return inv_freq.to(device);
}

Rope RopeAt(const torch::Tensor& inv_freq, const torch::Tensor& positions, torch::ScalarType dtype) {
  torch::Tensor freqs = positions.to(inv_freq.scalar_type()).unsqueeze(-1) * inv_freq;  // [B, T, d/2]
  torch::Tensor angles = torch::cat({freqs, freqs}, -1);
  return Rope{angles.cos().to(dtype), angles.sin().to(dtype)};
}

torch::Tensor ApplyRope(const torch::Tensor& x, const Rope& rope) {
  const int64_t half = x.size(-1) / 2;
  torch::Tensor rotated = torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
  return x * rope.cos.unsqueeze(1) + rotated * rope.sin.unsqueeze(1);
}

RowSegments SegmentsFromCuSeqlens(std::span<const int32_t> cu_seqlens, int64_t rows, int64_t seq_len) {
  RowSegments segments(rows);
  if (cu_seqlens.empty()) {
    for (auto& row : segments) row.emplace_back(0, seq_len);
    return segments;
  }
  TORCH_CHECK(cu_seqlens.front() == 0 && cu_seqlens.back() == rows * seq_len,
              "cu_seqlens must run from 0 to rows*seq_len = ", rows * seq_len);
  for (size_t i = 1; i < cu_seqlens.size(); ++i) {
    const int64_t start = cu_seqlens[i - 1], end = cu_seqlens[i];
    TORCH_CHECK(start < end, "cu_seqlens must increase strictly, at entry ", i);
    const int64_t row = start / seq_len;
    TORCH_CHECK((end - 1) / seq_len == row, "cu_seqlens segment [", start, ", ", end, ") crosses a row boundary");
    TORCH_CHECK(start % seq_len == 0 || !segments[row].empty(), "cu_seqlens misses the start of row ", row);
    segments[row].emplace_back(start - row * seq_len, end - row * seq_len);
  }
  return segments;
}

torch::Tensor CausalAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  const int64_t tq = q.size(-2), tk = k.size(-2);
  TORCH_CHECK(tk >= tq, "attention needs at least as many keys as queries");
#if TORCH_VERSION_MAJOR >= 2
  if (tq == tk) return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
  if (tq == 1) return at::scaled_dot_product_attention(q, k, v);
  // is_causal aligns the mask at the top left; queries that follow a cache need it aligned at the end.
  torch::Tensor allowed = torch::ones({tq, tk}, q.options().dtype(torch::kBool)).tril(tk - tq);
  return at::scaled_dot_product_attention(q, k, v, allowed);
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  const torch::ScalarType acc = AccumulationType(q);
  torch::Tensor scores = torch::matmul(q.to(acc), k.to(acc).transpose(-2, -1)) * scale;
  if (tq > 1) {
    torch::Tensor future = torch::ones({tq, tk}, q.options().dtype(torch::kBool)).triu(tk - tq + 1);
    scores.masked_fill_(future, -std::numeric_limits<double>::infinity());
  }
  return torch::matmul(torch::softmax(scores, -1), v.to(acc)).to(q.scalar_type());
#endif
}

Attention::Attention(const hf::ModelConfig& config, const torch::TensorOptions& options)
    : heads(config.num_attention_heads), kv_heads(config.num_key_value_heads), head_dim(config.head_dim) {
  const int64_t hidden = config.hidden_size;
  q_proj =
      register_module("q_proj", std::make_shared<Linear>(hidden, heads * head_dim, config.attention_bias, options));
  k_proj =
      register_module("k_proj", std::make_shared<Linear>(hidden, kv_heads * head_dim, config.attention_bias, options));
  v_proj =
      register_module("v_proj", std::make_shared<Linear>(hidden, kv_heads * head_dim, config.attention_bias, options));
  o_proj = register_module("o_proj", std::make_shared<Linear>(heads * head_dim, hidden, false, options));
  if (config.qk_norm) {
    q_norm = register_module("q_norm", std::make_shared<RmsNorm>(head_dim, config.rms_norm_eps, options));
    k_norm = register_module("k_norm", std::make_shared<RmsNorm>(head_dim, config.rms_norm_eps, options));
  }
}

namespace {

// HF repeat_kv: [B, g, T, d] -> [B, g·n, T, d], query head j reading key/value head j / n.
torch::Tensor RepeatKv(const torch::Tensor& x, int64_t n) {
  if (n == 1) return x;
  const int64_t b = x.size(0), g = x.size(1), t = x.size(2), d = x.size(3);
  return x.unsqueeze(2).expand({b, g, n, t, d}).reshape({b, g * n, t, d});
}

}  // namespace

torch::Tensor Apply(const Attention& attn, const torch::Tensor& x, const Rope& rope, const RowSegments* segments,
                    LayerCache* cache) {
  const int64_t b = x.size(0), t = x.size(1);
  torch::Tensor q = Apply(*attn.q_proj, x).view({b, t, attn.heads, attn.head_dim});
  torch::Tensor k = Apply(*attn.k_proj, x).view({b, t, attn.kv_heads, attn.head_dim});
  torch::Tensor v = Apply(*attn.v_proj, x).view({b, t, attn.kv_heads, attn.head_dim});
  if (attn.q_norm) {  // Qwen3 normalises each head before RoPE.
    q = Apply(*attn.q_norm, q);
    k = Apply(*attn.k_norm, k);
  }
  q = ApplyRope(q.transpose(1, 2), rope);
  k = ApplyRope(k.transpose(1, 2), rope);
  v = v.transpose(1, 2);
  if (cache != nullptr) {
    TORCH_CHECK(segments == nullptr, "a cached forward holds one document per row");
    if (cache->k.defined()) {
      k = torch::cat({cache->k, k}, 2);
      v = torch::cat({cache->v, v}, 2);
    }
    cache->k = k;
    cache->v = v;
  }
  const int64_t n_rep = attn.heads / attn.kv_heads;
  k = RepeatKv(k, n_rep);
  v = RepeatKv(v, n_rep);

  torch::Tensor out;
  bool packed = false;
  if (segments != nullptr) {
    for (const auto& row : *segments) packed = packed || row.size() > 1;
  }
  if (!packed) {
    out = CausalAttention(q, k, v);
  } else {
    // One causal attention per document: exact, and unlike a dense [T, T] mask it stays flash-attention friendly
    // at 16k–32k tokens.
    std::vector<torch::Tensor> rows;
    for (int64_t r = 0; r < b; ++r) {
      std::vector<torch::Tensor> docs;
      for (const auto& [start, end] : (*segments)[r]) {
        auto slice = [&](const torch::Tensor& z) { return z.slice(0, r, r + 1).slice(2, start, end); };
        docs.push_back(CausalAttention(slice(q), slice(k), slice(v)));
      }
      rows.push_back(torch::cat(docs, 2));
    }
    out = torch::cat(rows, 0);
  }
  return Apply(*attn.o_proj, out.transpose(1, 2).reshape({b, t, attn.heads * attn.head_dim}));
}

Mlp::Mlp(const hf::ModelConfig& config, const torch::TensorOptions& options) {
  const int64_t hidden = config.hidden_size, inner = config.intermediate_size;
  gate_proj = register_module("gate_proj", std::make_shared<Linear>(hidden, inner, false, options));
  up_proj = register_module("up_proj", std::make_shared<Linear>(hidden, inner, false, options));
  down_proj = register_module("down_proj", std::make_shared<Linear>(inner, hidden, false, options));
}

torch::Tensor Apply(const Mlp& mlp, const torch::Tensor& x) {
  return Apply(*mlp.down_proj, at::silu(Apply(*mlp.gate_proj, x)) * Apply(*mlp.up_proj, x));
}

DecoderLayer::DecoderLayer(const hf::ModelConfig& config, const torch::TensorOptions& options) {
  input_layernorm =
      register_module("input_layernorm", std::make_shared<RmsNorm>(config.hidden_size, config.rms_norm_eps, options));
  self_attn = register_module("self_attn", std::make_shared<Attention>(config, options));
  post_attention_layernorm = register_module(
      "post_attention_layernorm", std::make_shared<RmsNorm>(config.hidden_size, config.rms_norm_eps, options));
  mlp = register_module("mlp", std::make_shared<Mlp>(config, options));
}

torch::Tensor Apply(const DecoderLayer& layer, const torch::Tensor& h, const Rope& rope, const RowSegments* segments,
                    LayerCache* cache) {
  torch::Tensor x = h + Apply(*layer.self_attn, Apply(*layer.input_layernorm, h), rope, segments, cache);
  return x + Apply(*layer.mlp, Apply(*layer.post_attention_layernorm, x));
}

}  // namespace distill::trainer
