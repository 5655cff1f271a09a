// Tiny configs of each family shaped like the real models' attention (GQA ratios, head_dim, biases, q/k norms,
// tying, llama3 rope scaling), and an init that makes attention and the norms matter.
#pragma once

#include <torch/utils.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "trainer/model.h"

namespace distill::trainer::testing {

inline hf::ModelConfig TinyConfig(const std::string& type, int64_t hidden, int64_t inner, int64_t heads,
                                  int64_t kv_heads, int64_t head_dim, bool tied) {
  hf::ModelConfig c;
  c.model_type = type;
  c.vocab_size = 96;
  c.hidden_size = hidden;
  c.intermediate_size = inner;
  c.num_hidden_layers = 2;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = head_dim;
  c.max_position_embeddings = 4096;
  c.rope_theta = type == "llama" ? 500000.0 : 1000000.0;
  c.rms_norm_eps = type == "llama" ? 1e-5 : 1e-6;
  c.tie_word_embeddings = tied;
  c.attention_bias = type == "qwen2";
  c.qk_norm = type == "qwen3";
  c.eos_token_ids = {2};
  return c;
}

inline hf::RopeScaling Llama3Scaling(double factor) { return hf::RopeScaling{"llama3", factor, 1.0, 4.0, 8192}; }

// Llama-3.1-8B-like: GQA 4:1, head_dim 64 here, llama3 rope scaling, untied.
inline hf::ModelConfig Llama31() {
  hf::ModelConfig c = TinyConfig("llama", 256, 384, 4, 1, 64, false);
  c.rope_scaling = Llama3Scaling(8.0);
  return c;
}
// Llama-3.2-1B-like: tied, rope factor 32, head_dim 128, no GQA.
inline hf::ModelConfig Llama32() {
  hf::ModelConfig c = TinyConfig("llama", 256, 256, 2, 2, 128, true);
  c.rope_scaling = Llama3Scaling(32.0);
  return c;
}
// Qwen2.5-1.5B-like: q/k/v biases, GQA 6:1, head_dim 64, tied.
inline hf::ModelConfig Qwen25() { return TinyConfig("qwen2", 384, 256, 6, 1, 64, true); }
// Qwen3-like: q_norm/k_norm, head_dim 128 ≠ hidden/heads = 32, GQA 2:1, tied.
inline hf::ModelConfig Qwen3() { return TinyConfig("qwen3", 128, 192, 4, 2, 128, true); }

// InitRandom, then weights ×4 (so attention is far from uniform) and norm weights 1 + N(0, 0.1²) (so a dropped
// norm weight shows).
inline std::shared_ptr<Model> TestModel(const hf::ModelConfig& config, uint64_t seed = 7,
                                        torch::Dtype dtype = torch::kFloat) {
  auto made = MakeModel(config, torch::kCPU, dtype);
  EXPECT_TRUE(made.ok()) << made.status();
  std::shared_ptr<Model> model = *made;
  InitRandom(*model, seed);
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (const auto& item : model->named_parameters()) {
    torch::Tensor p = item.value();
    if (item.key().ends_with("norm.weight")) {
      p.add_(torch::randn(p.sizes(), torch::kFloat).mul_(0.1));
    } else {
      p.mul_(4);
    }
  }
  return model;
}

// [1, n] int64 ids, deterministic pseudo-random in [0, vocab).
inline torch::Tensor RandomIds(int64_t rows, int64_t n, int64_t vocab, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(vocab, {rows, n}, torch::kLong);
}

}  // namespace distill::trainer::testing
