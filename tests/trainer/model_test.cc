// The model families against Hugging Face's layout and arithmetic, without transformers on this machine:
// parameter names/shapes are exactly HF's (written out per config), a packed row equals its documents run alone,
// the model is causal, an independent double-precision reference written here from the HF definitions gives the
// same logits, and llama3 RoPE scaling gives the frequencies of the formula in references/gguf.md.
#include "trainer/model.h"

#include <cmath>
#include <map>
#include <numbers>
#include <ostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/trainer/test_models.h"

namespace distill::trainer {
namespace {
using testing::Llama31;
using testing::Llama32;
using testing::Qwen25;
using testing::Qwen3;
using testing::RandomIds;
using testing::TestModel;
using Shapes = std::map<std::string, std::vector<int64_t>>;

struct Case {
  std::string name;
  hf::ModelConfig config;
  Shapes hf_parameters;  // as transformers' named_parameters() lists them for this config
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::vector<Case> Cases() {
  return {
      {"llama31_gqa4_untied_rope_scaled",
       Llama31(),
       {{"model.embed_tokens.weight", {96, 256}},
        {"model.layers.0.self_attn.q_proj.weight", {256, 256}},
        {"model.layers.0.self_attn.k_proj.weight", {64, 256}},
        {"model.layers.0.self_attn.v_proj.weight", {64, 256}},
        {"model.layers.0.self_attn.o_proj.weight", {256, 256}},
        {"model.layers.0.mlp.gate_proj.weight", {384, 256}},
        {"model.layers.0.mlp.up_proj.weight", {384, 256}},
        {"model.layers.0.mlp.down_proj.weight", {256, 384}},
        {"model.layers.0.input_layernorm.weight", {256}},
        {"model.layers.0.post_attention_layernorm.weight", {256}},
        {"model.layers.1.self_attn.q_proj.weight", {256, 256}},
        {"model.layers.1.self_attn.k_proj.weight", {64, 256}},
        {"model.layers.1.self_attn.v_proj.weight", {64, 256}},
        {"model.layers.1.self_attn.o_proj.weight", {256, 256}},
        {"model.layers.1.mlp.gate_proj.weight", {384, 256}},
        {"model.layers.1.mlp.up_proj.weight", {384, 256}},
        {"model.layers.1.mlp.down_proj.weight", {256, 384}},
        {"model.layers.1.input_layernorm.weight", {256}},
        {"model.layers.1.post_attention_layernorm.weight", {256}},
        {"model.norm.weight", {256}},
        {"lm_head.weight", {96, 256}}}},
      {"llama32_tied_head_dim128",
       Llama32(),
       {{"model.embed_tokens.weight", {96, 256}},
        {"model.layers.0.self_attn.q_proj.weight", {256, 256}},
        {"model.layers.0.self_attn.k_proj.weight", {256, 256}},
        {"model.layers.0.self_attn.v_proj.weight", {256, 256}},
        {"model.layers.0.self_attn.o_proj.weight", {256, 256}},
        {"model.layers.0.mlp.gate_proj.weight", {256, 256}},
        {"model.layers.0.mlp.up_proj.weight", {256, 256}},
        {"model.layers.0.mlp.down_proj.weight", {256, 256}},
        {"model.layers.0.input_layernorm.weight", {256}},
        {"model.layers.0.post_attention_layernorm.weight", {256}},
        {"model.layers.1.self_attn.q_proj.weight", {256, 256}},
        {"model.layers.1.self_attn.k_proj.weight", {256, 256}},
        {"model.layers.1.self_attn.v_proj.weight", {256, 256}},
        {"model.layers.1.self_attn.o_proj.weight", {256, 256}},
        {"model.layers.1.mlp.gate_proj.weight", {256, 256}},
        {"model.layers.1.mlp.up_proj.weight", {256, 256}},
        {"model.layers.1.mlp.down_proj.weight", {256, 256}},
        {"model.layers.1.input_layernorm.weight", {256}},
        {"model.layers.1.post_attention_layernorm.weight", {256}},
        {"model.norm.weight", {256}}}},
      {"qwen25_bias_gqa6_tied",
       Qwen25(),
       {{"model.embed_tokens.weight", {96, 384}},
        {"model.layers.0.self_attn.q_proj.weight", {384, 384}},
        {"model.layers.0.self_attn.q_proj.bias", {384}},
        {"model.layers.0.self_attn.k_proj.weight", {64, 384}},
        {"model.layers.0.self_attn.k_proj.bias", {64}},
        {"model.layers.0.self_attn.v_proj.weight", {64, 384}},
        {"model.layers.0.self_attn.v_proj.bias", {64}},
        {"model.layers.0.self_attn.o_proj.weight", {384, 384}},
        {"model.layers.0.mlp.gate_proj.weight", {256, 384}},
        {"model.layers.0.mlp.up_proj.weight", {256, 384}},
        {"model.layers.0.mlp.down_proj.weight", {384, 256}},
        {"model.layers.0.input_layernorm.weight", {384}},
        {"model.layers.0.post_attention_layernorm.weight", {384}},
        {"model.layers.1.self_attn.q_proj.weight", {384, 384}},
        {"model.layers.1.self_attn.q_proj.bias", {384}},
        {"model.layers.1.self_attn.k_proj.weight", {64, 384}},
        {"model.layers.1.self_attn.k_proj.bias", {64}},
        {"model.layers.1.self_attn.v_proj.weight", {64, 384}},
        {"model.layers.1.self_attn.v_proj.bias", {64}},
        {"model.layers.1.self_attn.o_proj.weight", {384, 384}},
        {"model.layers.1.mlp.gate_proj.weight", {256, 384}},
        {"model.layers.1.mlp.up_proj.weight", {256, 384}},
        {"model.layers.1.mlp.down_proj.weight", {384, 256}},
        {"model.layers.1.input_layernorm.weight", {384}},
        {"model.layers.1.post_attention_layernorm.weight", {384}},
        {"model.norm.weight", {384}}}},
      {"qwen3_qk_norm_head_dim128",
       Qwen3(),
       {{"model.embed_tokens.weight", {96, 128}},
        {"model.layers.0.self_attn.q_proj.weight", {512, 128}},
        {"model.layers.0.self_attn.k_proj.weight", {256, 128}},
        {"model.layers.0.self_attn.v_proj.weight", {256, 128}},
        {"model.layers.0.self_attn.o_proj.weight", {128, 512}},
        {"model.layers.0.self_attn.q_norm.weight", {128}},
        {"model.layers.0.self_attn.k_norm.weight", {128}},
        {"model.layers.0.mlp.gate_proj.weight", {192, 128}},
        {"model.layers.0.mlp.up_proj.weight", {192, 128}},
        {"model.layers.0.mlp.down_proj.weight", {128, 192}},
        {"model.layers.0.input_layernorm.weight", {128}},
        {"model.layers.0.post_attention_layernorm.weight", {128}},
        {"model.layers.1.self_attn.q_proj.weight", {512, 128}},
        {"model.layers.1.self_attn.k_proj.weight", {256, 128}},
        {"model.layers.1.self_attn.v_proj.weight", {256, 128}},
        {"model.layers.1.self_attn.o_proj.weight", {128, 512}},
        {"model.layers.1.self_attn.q_norm.weight", {128}},
        {"model.layers.1.self_attn.k_norm.weight", {128}},
        {"model.layers.1.mlp.gate_proj.weight", {192, 128}},
        {"model.layers.1.mlp.up_proj.weight", {192, 128}},
        {"model.layers.1.mlp.down_proj.weight", {128, 192}},
        {"model.layers.1.input_layernorm.weight", {128}},
        {"model.layers.1.post_attention_layernorm.weight", {128}},
        {"model.norm.weight", {128}}}},
  };
}

// ---- Naive reference: the HF forward pass for one document, loops over doubles, sharing no code with trainer/.
using Vec = std::vector<double>;

struct Reference {
  hf::ModelConfig c;
  std::map<std::string, Vec> w;  // every parameter by HF name, as doubles

  explicit Reference(const Model& model) : c(model.config) {
    for (const auto& item : model.named_parameters()) {
      torch::Tensor t = item.value().detach().to(torch::kCPU, torch::kDouble).contiguous();
      w[item.key()] = Vec(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
    }
  }
  const Vec& W(const std::string& name) const { return w.at(name); }
  bool Has(const std::string& name) const { return w.count(name) > 0; }

  // y = W x (+ b), W [out, in] row-major.
  Vec Linear(const std::string& name, const Vec& x) const {
    const Vec& m = W(name + ".weight");
    const size_t in = x.size(), out = m.size() / in;
    Vec y(out, 0.0);
    for (size_t o = 0; o < out; ++o) {
      for (size_t i = 0; i < in; ++i) y[o] += m[o * in + i] * x[i];
      if (Has(name + ".bias")) y[o] += W(name + ".bias")[o];
    }
    return y;
  }
  // RMSNorm of x[offset, offset + n) in place.
  void Norm(const std::string& name, Vec& x, size_t offset, size_t n) const {
    double ss = 0;
    for (size_t i = 0; i < n; ++i) ss += x[offset + i] * x[offset + i];
    const double r = 1.0 / std::sqrt(ss / n + c.rms_norm_eps);
    for (size_t i = 0; i < n; ++i) x[offset + i] = x[offset + i] * r * W(name + ".weight")[i];
  }
  // inv_freq per references/gguf.md: base frequencies divided by the llama3 rope factor.
  Vec InvFreq() const {
    const int64_t d = c.head_dim;
    Vec f(d / 2);
    for (int64_t i = 0; i < d / 2; ++i) {
      f[i] = 1.0 / std::pow(c.rope_theta, 2.0 * i / d);
      if (!c.rope_scaling) continue;
      const hf::RopeScaling& s = *c.rope_scaling;
      const double old = s.original_max_position_embeddings, wl = 2 * std::numbers::pi / f[i];
      double factor = 1;
      if (wl > old / s.low_freq_factor) {
        factor = s.factor;
      } else if (wl >= old / s.high_freq_factor) {
        const double smooth = (old / wl - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        factor = 1 / ((1 - smooth) / s.factor + smooth);
      }
      f[i] /= factor;
    }
    return f;
  }
  // Rotate-half RoPE on each head of v (heads × d).
  void Rope(Vec& v, int64_t heads, int64_t pos, const Vec& inv_freq) const {
    const int64_t d = c.head_dim, half = d / 2;
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < half; ++i) {
        const double a = pos * inv_freq[i], x1 = v[h * d + i], x2 = v[h * d + half + i];
        v[h * d + i] = x1 * std::cos(a) - x2 * std::sin(a);
        v[h * d + half + i] = x2 * std::cos(a) + x1 * std::sin(a);
      }
    }
  }

  // Logits [T][vocab] of one document.
  std::vector<Vec> Logits(const std::vector<int64_t>& ids, const std::vector<int64_t>& pos) const {
    const int64_t T = ids.size(), H = c.hidden_size, d = c.head_dim, nh = c.num_attention_heads;
    const int64_t ng = c.num_key_value_heads;
    const Vec inv_freq = InvFreq();
    std::vector<Vec> h(T);
    for (int64_t t = 0; t < T; ++t) {
      h[t].assign(W("model.embed_tokens.weight").begin() + ids[t] * H,
                  W("model.embed_tokens.weight").begin() + (ids[t] + 1) * H);
    }
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      std::vector<Vec> q(T), k(T), v(T);
      for (int64_t t = 0; t < T; ++t) {
        Vec x = h[t];
        Norm(p + "input_layernorm", x, 0, H);
        q[t] = Linear(p + "self_attn.q_proj", x);
        k[t] = Linear(p + "self_attn.k_proj", x);
        v[t] = Linear(p + "self_attn.v_proj", x);
        if (c.qk_norm) {
          for (int64_t i = 0; i < nh; ++i) Norm(p + "self_attn.q_norm", q[t], i * d, d);
          for (int64_t i = 0; i < ng; ++i) Norm(p + "self_attn.k_norm", k[t], i * d, d);
        }
        Rope(q[t], nh, pos[t], inv_freq);
        Rope(k[t], ng, pos[t], inv_freq);
      }
      for (int64_t t = 0; t < T; ++t) {
        Vec attn(nh * d, 0.0);
        for (int64_t i = 0; i < nh; ++i) {
          const int64_t g = i / (nh / ng);
          Vec score(t + 1);
          double mx = -1e300, total = 0;
          for (int64_t s = 0; s <= t; ++s) {
            score[s] = 0;
            for (int64_t j = 0; j < d; ++j) score[s] += q[t][i * d + j] * k[s][g * d + j];
            score[s] /= std::sqrt(static_cast<double>(d));
            mx = std::max(mx, score[s]);
          }
          for (int64_t s = 0; s <= t; ++s) total += score[s] = std::exp(score[s] - mx);
          for (int64_t s = 0; s <= t; ++s) {
            for (int64_t j = 0; j < d; ++j) attn[i * d + j] += score[s] / total * v[s][g * d + j];
          }
        }
        const Vec o = Linear(p + "self_attn.o_proj", attn);
        for (int64_t j = 0; j < H; ++j) h[t][j] += o[j];
        Vec x = h[t];
        Norm(p + "post_attention_layernorm", x, 0, H);
        Vec gate = Linear(p + "mlp.gate_proj", x);
        const Vec up = Linear(p + "mlp.up_proj", x);
        for (size_t j = 0; j < gate.size(); ++j) gate[j] = gate[j] / (1 + std::exp(-gate[j])) * up[j];
        const Vec down = Linear(p + "mlp.down_proj", gate);
        for (int64_t j = 0; j < H; ++j) h[t][j] += down[j];
      }
    }
    const std::string head = Has("lm_head.weight") ? "lm_head" : "model.embed_tokens";
    std::vector<Vec> logits(T);
    for (int64_t t = 0; t < T; ++t) {
      Norm("model.norm", h[t], 0, H);
      const Vec& m = W(head + ".weight");
      logits[t].assign(c.vocab_size, 0.0);
      for (int64_t o = 0; o < c.vocab_size; ++o) {
        for (int64_t j = 0; j < H; ++j) logits[t][o] += m[o * H + j] * h[t][j];
      }
    }
    return logits;
  }
};

torch::Tensor Positions(std::vector<int64_t> lengths, int64_t first = 0) {
  std::vector<int64_t> pos;
  for (int64_t n : lengths) {
    for (int64_t i = 0; i < n; ++i) pos.push_back(first + i);
  }
  return torch::tensor(pos, torch::kLong).unsqueeze(0);
}

torch::Tensor RunLogits(const Model& model, const torch::Tensor& ids, const torch::Tensor& pos,
                        std::span<const int32_t> cu_seqlens = {}) {
  torch::NoGradGuard no_grad;
  return Logits(model, Hidden(model, ids, pos, cu_seqlens));
}

class ModelTest : public ::testing::TestWithParam<Case> {};

// named_parameters() is exactly HF's list: every name, every shape, nothing extra.
TEST_P(ModelTest, ParameterNamesAndShapesAreHuggingFaces) {
  auto model = TestModel(GetParam().config);
  Shapes ours;
  for (const auto& item : model->named_parameters()) ours[item.key()] = item.value().sizes().vec();
  EXPECT_EQ(ours, GetParam().hf_parameters);
}

// ParameterCount (MFU's 6N and MakeModel's memory check) counts exactly the parameters the model allocates.
TEST_P(ModelTest, ParameterCountIsExact) {
  auto model = TestModel(GetParam().config);
  int64_t allocated = 0;
  for (const auto& p : model->parameters()) allocated += p.numel();
  EXPECT_EQ(ParameterCount(GetParam().config), static_cast<double>(allocated));
}

// The model's logits equal the double-precision reference's. A double model must agree to rounding (1e-10): the
// arithmetic is the same. The fp32 model (the real one) within 1e-5 at positions from 0; far along, fp32 angles
// (position · inv_freq rounded to fp32, as in transformers) cost ~position·2⁻²⁴ rad, hence the wider bound.
TEST_P(ModelTest, MatchesNaiveReference) {
  const int64_t T = 12;
  const torch::Tensor ids = RandomIds(1, T, GetParam().config.vocab_size, 11);
  for (torch::Dtype dtype : {torch::kDouble, torch::kFloat}) {
    auto model = TestModel(GetParam().config, 7, dtype);
    const Reference reference(*model);
    for (int64_t first : {0, 300}) {
      const torch::Tensor pos = Positions({T}, first);
      const torch::Tensor ours = RunLogits(*model, ids, pos).squeeze(0).to(torch::kDouble);
      const auto ref = reference.Logits(std::vector<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + T),
                                        std::vector<int64_t>(pos.data_ptr<int64_t>(), pos.data_ptr<int64_t>() + T));
      double max_diff = 0, max_abs = 0;
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t o = 0; o < model->config.vocab_size; ++o) {
          max_diff = std::max(max_diff, std::abs(ours[t][o].item<double>() - ref[t][o]));
          max_abs = std::max(max_abs, std::abs(ref[t][o]));
        }
      }
      std::printf("%s %s positions %lld..: max |logit| %.3f, max |ours - reference| %.3g\n", GetParam().name.c_str(),
                  dtype == torch::kDouble ? "f64" : "f32", static_cast<long long>(first), max_abs, max_diff);
      EXPECT_GT(max_abs, 0.5);  // the check is not vacuous
      EXPECT_LT(max_diff, dtype == torch::kDouble ? 1e-10 : first == 0 ? 1e-5 : 5e-5);
    }
  }
}

// Two rows of two packed documents each give the logits of every document run alone: attention stops at the
// document boundaries and positions restart.
TEST_P(ModelTest, PackedDocumentsEqualDocumentsAlone) {
  auto model = TestModel(GetParam().config);
  const std::vector<std::vector<int64_t>> lengths = {{5, 7}, {9, 3}};
  const torch::Tensor ids = RandomIds(2, 12, model->config.vocab_size, 5);
  const torch::Tensor pos = torch::cat({Positions(lengths[0]), Positions(lengths[1])}, 0);
  const std::vector<int32_t> cu_seqlens = {0, 5, 12, 21, 24};
  const torch::Tensor packed = RunLogits(*model, ids, pos, cu_seqlens);
  for (int64_t r = 0; r < 2; ++r) {
    int64_t start = 0;
    for (int64_t n : lengths[r]) {
      const torch::Tensor alone = RunLogits(*model, ids.slice(0, r, r + 1).slice(1, start, start + n), Positions({n}));
      const double diff = (packed.slice(0, r, r + 1).slice(1, start, start + n) - alone).abs().max().item<double>();
      EXPECT_LT(diff, 1e-5) << "row " << r << " document at " << start;
      start += n;
    }
  }
  // Without cu_seqlens the second document would see the first: the test can tell the difference.
  const torch::Tensor unpacked = RunLogits(*model, ids, pos);
  EXPECT_GT((unpacked.slice(1, 5) - packed.slice(1, 5)).abs().max().item<double>(), 1e-3);
}

// Changing token t leaves the logits of every earlier position unchanged and changes position t's.
TEST_P(ModelTest, Causal) {
  auto model = TestModel(GetParam().config);
  const int64_t T = 10, t = 6;
  const torch::Tensor ids = RandomIds(1, T, model->config.vocab_size, 3);
  torch::Tensor changed = ids.clone();
  changed[0][t] = (ids[0][t].item<int64_t>() + 1) % model->config.vocab_size;
  const torch::Tensor a = RunLogits(*model, ids, Positions({T}));
  const torch::Tensor b = RunLogits(*model, changed, Positions({T}));
  EXPECT_LT((a.slice(1, 0, t) - b.slice(1, 0, t)).abs().max().item<double>(), 1e-6);
  EXPECT_GT((a.slice(1, t) - b.slice(1, t)).abs().max().item<double>(), 1e-3);
}

// Training works through the packed path: a loss on the logits gives every parameter a non-zero gradient.
TEST_P(ModelTest, EveryParameterGetsAGradient) {
  auto model = TestModel(GetParam().config);
  const torch::Tensor ids = RandomIds(1, 10, model->config.vocab_size, 8);
  const std::vector<int32_t> cu_seqlens = {0, 4, 10};
  const torch::Tensor pos = Positions({4, 6});
  Logits(*model, Hidden(*model, ids, pos, cu_seqlens)).pow(2).mean().backward();
  for (const auto& item : model->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_GT(item.value().grad().abs().max().item<double>(), 0) << item.key();
  }
}

INSTANTIATE_TEST_SUITE_P(Families, ModelTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

// Llama 3.1's rope (theta 500000, factor 8, low 1, high 4, original 8192, head_dim 128) gives gguf.md's
// frequencies: unchanged above wavelength 2048, divided by 8 below 8192 and smoothly blended between.
TEST(Rope, Llama3ScalingMatchesFormula) {
  hf::ModelConfig c = Llama31();
  c.head_dim = 128;
  const torch::Tensor ours = RopeInvFreq(c, torch::kCPU);
  ASSERT_EQ(ours.sizes(), (std::vector<int64_t>{64}));
  int high = 0, low = 0, medium = 0;
  for (int64_t i = 0; i < 64; ++i) {
    const double f = 1.0 / std::pow(500000.0, 2.0 * i / 128), wl = 2 * std::numbers::pi / f;
    double expected = f;
    if (wl < 8192.0 / 4) {
      ++high;
    } else if (wl > 8192.0) {
      ++low;
      expected = f / 8;
    } else {
      ++medium;
      const double s = (8192 / wl - 1) / (4 - 1);
      expected = f * ((1 - s) / 8 + s);
    }
    EXPECT_NEAR(ours[i].item<double>(), expected, 1e-6 * expected) << "i " << i;
  }
  EXPECT_GT(high, 0);
  EXPECT_GT(low, 0);
  EXPECT_GT(medium, 0);
  EXPECT_EQ(ours[0].item<double>(), 1.0);
  // Without rope_scaling the frequencies are the plain 1/theta^(2i/d).
  c.rope_scaling.reset();
  EXPECT_NEAR(RopeInvFreq(c, torch::kCPU)[63].item<double>(), std::pow(500000.0, -126.0 / 128), 1e-13);
}

// Configs a family contradicts are refused with the key named.
TEST(MakeModel, RefusesInconsistentConfigs) {
  hf::ModelConfig c = Qwen25();
  c.attention_bias = false;
  EXPECT_EQ(MakeModel(c, torch::kCPU, torch::kFloat).status().code(), absl::StatusCode::kInvalidArgument);
  c = Qwen3();
  c.qk_norm = false;
  EXPECT_EQ(MakeModel(c, torch::kCPU, torch::kFloat).status().code(), absl::StatusCode::kInvalidArgument);
  c = Llama31();
  c.num_key_value_heads = 3;
  auto made = MakeModel(c, torch::kCPU, torch::kFloat);
  EXPECT_NE(std::string(made.status().message()).find("num_key_value_heads"), std::string::npos) << made.status();
  c = Llama31();
  c.model_type = "gpt2";
  EXPECT_NE(std::string(MakeModel(c, torch::kCPU, torch::kFloat).status().message()).find("gpt2"), std::string::npos);
  c = Llama31();
  c.rope_scaling->type = "yarn";
  EXPECT_FALSE(MakeModel(c, torch::kCPU, torch::kFloat).ok());
}

// Property: a config whose parameters outgrow this machine's memory (a mistyped size) is refused before any
// allocation, with the count and the sizes in bytes, instead of an allocator failure or the out-of-memory killer.
TEST(MakeModel, RefusesAModelLargerThanMemory) {
  hf::ModelConfig c = Qwen3();
  c.num_hidden_layers = 2147483647;
  const auto made = MakeModel(c, torch::kCPU, torch::kFloat);
  ASSERT_EQ(made.status().code(), absl::StatusCode::kResourceExhausted) << made.status();
  EXPECT_NE(made.status().message().find(" parameters, "), std::string::npos) << made.status();
  EXPECT_NE(made.status().message().find(" GB in Float: more than this machine's "), std::string::npos)
      << made.status();
}

// Malformed cu_seqlens are refused rather than silently attending across rows.
TEST(Hidden, RefusesCuSeqlensThatCrossRows) {
  auto model = TestModel(Qwen3());
  const torch::Tensor ids = RandomIds(2, 4, 96, 1);
  const torch::Tensor pos = torch::arange(4, torch::kLong).repeat({2, 1});
  const std::vector<int32_t> crossing = {0, 2, 6, 8};
  EXPECT_THROW(Hidden(*model, ids, pos, crossing), c10::Error);
  const std::vector<int32_t> short_end = {0, 4, 7};
  EXPECT_THROW(Hidden(*model, ids, pos, short_end), c10::Error);
}

}  // namespace
}  // namespace distill::trainer
