#include "tools/gguf/exporter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <numbers>
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/gguf/gguf_file.h"
#include "tools/gguf/modelfile.h"
#include "tools/gguf/vocab.h"
#include "tokenizers/model_folder.h"
#include "trainer/hf/model_config.h"
#include "trainer/hf/safetensors.h"

namespace distill::gguf {
namespace {

namespace fs = std::filesystem;

// Rows converted per step of a tensor: bounds the fp32 scratch to a few MB whatever the tensor's size.
constexpr int64_t kRowsPerBlock = 256;

bool IsSmallTensor(const std::string& name, const std::vector<int64_t>& ne) {
  return ne.size() == 1 || name.ends_with("_norm.weight") || name.ends_with(".bias") || name == "rope_freqs.weight";
}

// llama.cpp's use_more_bits: the first and last eighth of the layers, and every third one between.
bool UseMoreBits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// The layer index of "blk.N.…", or -1.
int64_t LayerOf(const std::string& name) {
  if (!name.starts_with("blk.")) return -1;
  return std::strtoll(name.c_str() + 4, nullptr, 10);
}

// HF → GGUF names (gguf.md "Tensor names"); empty for tensors GGUF does not keep.
std::string GgufName(const std::string& hf) {
  static const std::map<std::string, std::string> kTop = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  if (auto it = kTop.find(hf); it != kTop.end()) return it->second;
  static const std::regex kLayer(R"(model\.layers\.(\d+)\.(.+)\.(weight|bias))");
  static const std::map<std::string, std::string> kPart = {
      {"input_layernorm", "attn_norm"},       {"self_attn.q_proj", "attn_q"},
      {"self_attn.k_proj", "attn_k"},         {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"},    {"self_attn.q_norm", "attn_q_norm"},
      {"self_attn.k_norm", "attn_k_norm"},    {"post_attention_layernorm", "ffn_norm"},
      {"mlp.gate_proj", "ffn_gate"},          {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"},
  };
  std::smatch m;
  if (!std::regex_match(hf, m, kLayer)) return "";
  auto part = kPart.find(m[2].str());
  if (part == kPart.end()) return "";
  return absl::StrCat("blk.", m[1].str(), ".", part->second, ".", m[3].str());
}

// llama3 rope scaling as a per-frequency divisor (gguf.md "Rope scaling"); llama.cpp multiplies by it.
std::vector<float> Llama3RopeFactors(const hf::ModelConfig& c) {
  const hf::RopeScaling& s = *c.rope_scaling;
  const double old_context = static_cast<double>(s.original_max_position_embeddings);
  const double low_wavelen = old_context / s.low_freq_factor;
  const double high_wavelen = old_context / s.high_freq_factor;
  std::vector<float> factors;
  for (int64_t i = 0; i < c.head_dim; i += 2) {
    const double freq = 1.0 / std::pow(c.rope_theta, static_cast<double>(i) / static_cast<double>(c.head_dim));
    const double wavelen = 2 * std::numbers::pi / freq;
    double factor = 1.0;
    if (wavelen > low_wavelen) {
      factor = s.factor;
    } else if (wavelen >= high_wavelen) {
      const double smooth = (old_context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      factor = 1.0 / ((1 - smooth) / s.factor + smooth);
    }
    factors.push_back(static_cast<float>(factor));
  }
  return factors;
}

// A row range of `view` as its own view (shape [rows, cols…]).
hf::TensorView RowSlice(const hf::TensorView& view, int64_t first_row, int64_t rows, int64_t row_elems) {
  hf::TensorView slice = view;
  const size_t row_bytes = static_cast<size_t>(row_elems) * hf::DTypeBytes(view.dtype);
  slice.shape = {rows, row_elems};
  slice.data = view.data.subspan(static_cast<size_t>(first_row) * row_bytes, static_cast<size_t>(rows) * row_bytes);
  return slice;
}

// Converts `view` (rows × row_elems) to `type` into `out`, a block of rows at a time. With `head_dim` > 0 the
// rows of each head are reordered from HF's rotate-half layout to llama.cpp's adjacent pairs (the `llama` q/k
// permutation: new row 2j+p of a head is old row p·hd/2 + j).
absl::Status ConvertRows(const hf::TensorView& view, int64_t rows, int64_t row_elems, GgmlType type, int64_t head_dim,
                         std::span<std::byte> out, int threads) {
  auto row_bytes = RowBytes(type, row_elems);
  if (!row_bytes.ok()) return row_bytes.status();
  const bool same_dtype = head_dim == 0 && ((type == GgmlType::kF32 && view.dtype == hf::DType::kF32) ||
                                            (type == GgmlType::kF16 && view.dtype == hf::DType::kF16) ||
                                            (type == GgmlType::kBF16 && view.dtype == hf::DType::kBF16));
  if (same_dtype) {  // bit-exact either way; skip the round trip through fp32
    std::memcpy(out.data(), view.data.data(), out.size());
    return absl::OkStatus();
  }
  const int64_t block = head_dim > 0 ? std::max<int64_t>(head_dim, kRowsPerBlock / head_dim * head_dim) : kRowsPerBlock;
  std::vector<float> permuted;
  for (int64_t first = 0; first < rows; first += block) {
    const int64_t n = std::min(block, rows - first);
    std::vector<float> values = hf::ToFloat32(RowSlice(view, first, n, row_elems));
    if (head_dim > 0) {
      permuted.resize(values.size());
      const int64_t half = head_dim / 2;
      for (int64_t head = 0; head < n / head_dim; ++head) {
        for (int64_t j = 0; j < half; ++j) {
          for (int64_t p = 0; p < 2; ++p) {
            const float* src = &values[static_cast<size_t>((head * head_dim + p * half + j) * row_elems)];
            std::copy(src, src + row_elems, &permuted[static_cast<size_t>((head * head_dim + 2 * j + p) * row_elems)]);
          }
        }
      }
      values.swap(permuted);
    }
    std::byte* dst = out.data() + first * *row_bytes;
    if (type == GgmlType::kF32) {
      std::memcpy(dst, values.data(), values.size() * sizeof(float));
    } else if (auto s = QuantizeRows(type, values.data(), n, row_elems, dst, threads); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FileTypePlan> ParseFileType(const std::string& name) {
  // general.file_type values are llama.cpp's llama_ftype (gguf.md "Model keys").
  static const std::map<std::string, FileTypePlan> kPlans = {
      {"f32", {"f32", GgmlType::kF32, 0, false}},      {"f16", {"f16", GgmlType::kF16, 1, false}},
      {"bf16", {"bf16", GgmlType::kBF16, 32, false}},  {"q8_0", {"q8_0", GgmlType::kQ8_0, 7, false}},
      {"q4_0", {"q4_0", GgmlType::kQ4_0, 2, false}},   {"q4_k", {"q4_k", GgmlType::kQ4_K, 14, false}},
      {"q5_k", {"q5_k", GgmlType::kQ5_K, 16, false}},  {"q6_k", {"q6_k", GgmlType::kQ6_K, 18, false}},
      {"q4_k_m", {"q4_k_m", GgmlType::kQ4_K, 15, true}}, {"q5_k_m", {"q5_k_m", GgmlType::kQ5_K, 17, true}},
  };
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  auto it = kPlans.find(lower);
  if (it == kPlans.end()) {
    std::vector<std::string> names;
    for (const auto& [k, v] : kPlans) names.push_back(k);
    return absl::InvalidArgumentError(
        absl::StrCat("unknown export type \"", name, "\"; expected one of ", absl::StrJoin(names, ", ")));
  }
  return it->second;
}

GgmlType TensorType(const FileTypePlan& plan, const std::string& name, const std::vector<int64_t>& ne, int64_t layers,
                    bool tied) {
  if (IsSmallTensor(name, ne)) return GgmlType::kF32;
  GgmlType type = plan.base;
  const bool is_output = name == "output.weight" || (tied && name == "token_embd.weight");
  const bool quantized = type != GgmlType::kF32 && type != GgmlType::kF16 && type != GgmlType::kBF16;
  if (quantized && type != GgmlType::kQ8_0) {
    // llama.cpp keeps the output matrix at Q6_K for the 4- and 5-bit types.
    if (is_output) type = GgmlType::kQ6_K;
    const int64_t layer = LayerOf(name);
    if (plan.mix_m && layer >= 0 && (name.ends_with("attn_v.weight") || name.ends_with("ffn_down.weight")) &&
        UseMoreBits(layer, layers))
      type = GgmlType::kQ6_K;
  }
  // Rows that do not fill the type's blocks fall back as llama.cpp does (Q5_K → Q8_0 here: Q5_1 is not
  // implemented), then to F16 when even 32-element blocks do not fit.
  const int64_t row = ne.empty() ? 0 : ne[0];
  if (row % 256 != 0) {
    if (type == GgmlType::kQ4_K) type = GgmlType::kQ5_0;
    if (type == GgmlType::kQ5_K || type == GgmlType::kQ6_K) type = GgmlType::kQ8_0;
  }
  if (row % 32 != 0 && (type == GgmlType::kQ4_0 || type == GgmlType::kQ5_0 || type == GgmlType::kQ8_0))
    type = GgmlType::kF16;
  return type;
}

absl::StatusOr<ExportReport> ExportGguf(const ExportOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  auto plan = ParseFileType(options.type);
  if (!plan.ok()) return plan.status();
  auto config = hf::LoadModelConfig(options.model);
  if (!config.ok()) return config.status();
  const hf::ModelConfig& c = *config;
  auto checkpoint = hf::SafetensorsCheckpoint::Open(options.model);
  if (!checkpoint.ok()) return checkpoint.status();
  tok::ModelFolderOptions folder_options;
  folder_options.template_override = options.template_override;
  auto tokenization = tok::LoadModelTokenization(options.model, folder_options);
  if (!tokenization.ok()) return tokenization.status();
  auto vocab = ReadGgufVocab(*tokenization, c.vocab_size, c.bos_token_id);
  if (!vocab.ok()) return vocab.status();

  const std::string& arch = c.model_type;
  ExportReport report;
  report.architecture = arch;
  report.pre_tokenizer = vocab->pre;
  report.end_of_turn = vocab->end_of_turn;
  report.eos_id = vocab->eos_id;

  GgufWriter w;
  auto add = [&](const std::string& key, Value value) { return w.AddKv(key, std::move(value)); };
  auto u32 = [](int64_t v) { return Value::U32(static_cast<uint32_t>(v)); };
  std::string name = options.name;
  if (name.empty()) name = fs::path(options.model).lexically_normal().filename().string();
  if (name.empty()) name = fs::absolute(options.model).parent_path().filename().string();
  std::vector<std::pair<std::string, Value>> kvs = {
      {"general.architecture", Value::String(arch)},
      {"general.type", Value::String("model")},
      {"general.name", Value::String(name)},
      {"general.file_type", u32(plan->file_type)},
      {arch + ".vocab_size", u32(c.vocab_size)},
      {arch + ".context_length", u32(c.max_position_embeddings)},
      {arch + ".embedding_length", u32(c.hidden_size)},
      {arch + ".block_count", u32(c.num_hidden_layers)},
      {arch + ".feed_forward_length", u32(c.intermediate_size)},
      {arch + ".attention.head_count", u32(c.num_attention_heads)},
      {arch + ".attention.head_count_kv", u32(c.num_key_value_heads)},
      {arch + ".attention.key_length", u32(c.head_dim)},
      {arch + ".attention.value_length", u32(c.head_dim)},
      {arch + ".rope.dimension_count", u32(c.head_dim)},
      {arch + ".rope.freq_base", Value::F32(static_cast<float>(c.rope_theta))},
      {arch + ".attention.layer_norm_rms_epsilon", Value::F32(static_cast<float>(c.rms_norm_eps))},
      {"tokenizer.ggml.model", Value::String(vocab->model)},
      {"tokenizer.ggml.pre", Value::String(vocab->pre)},
      {"tokenizer.ggml.tokens", Value::Strings(vocab->tokens)},
      {"tokenizer.ggml.token_type", Value::I32s(vocab->token_types)},
      {"tokenizer.ggml.merges", Value::Strings(vocab->merges)},
      {"tokenizer.ggml.eos_token_id", Value::U32(vocab->eos_id)},
      {"tokenizer.ggml.add_bos_token", Value::Bool(vocab->add_bos)},
      {"tokenizer.ggml.add_eos_token", Value::Bool(vocab->add_eos)},
      {"tokenizer.chat_template", Value::String(vocab->chat_template)},
  };
  if (vocab->bos_id) kvs.emplace_back("tokenizer.ggml.bos_token_id", Value::U32(*vocab->bos_id));
  if (vocab->eot_id) kvs.emplace_back("tokenizer.ggml.eot_token_id", Value::U32(*vocab->eot_id));
  if (vocab->pad_id) kvs.emplace_back("tokenizer.ggml.padding_token_id", Value::U32(*vocab->pad_id));
  for (auto& [key, value] : kvs)
    if (auto s = add(key, std::move(value)); !s.ok()) return s;

  // Tensors in llama.cpp's order: embeddings, (rope_freqs), layers in order, output norm, output.
  const bool permute_qk = arch == "llama";
  const int threads = options.threads;
  bool any_quantized = false;
  std::vector<const hf::TensorView*> ordered;
  std::map<std::string, const hf::TensorView*> by_gguf;
  for (const hf::TensorView* t : (*checkpoint)->tensors()) {
    if (t->name.ends_with("rotary_emb.inv_freq")) continue;
    if (c.tie_word_embeddings && t->name == "lm_head.weight") continue;  // llama.cpp reuses token_embd
    const std::string g = GgufName(t->name);
    if (g.empty())
      return absl::InvalidArgumentError(absl::StrCat(options.model, ": tensor ", t->name, " has no GGUF name for ",
                                                     arch, " (unexpected in a ", arch, " checkpoint)"));
    by_gguf[g] = t;
  }
  auto rank = [](const std::string& g) -> std::pair<int64_t, std::string> {
    if (g == "token_embd.weight") return {-2, g};
    if (g == "output_norm.weight") return {1LL << 40, g};
    if (g == "output.weight") return {(1LL << 40) + 1, g};
    return {LayerOf(g), g};
  };
  // Without an output matrix llama.cpp reuses token_embd, which then gets the output's precision.
  const bool tied = !by_gguf.contains("output.weight");
  // Shapes the tokenizer metadata and llama.cpp's loader rely on.
  auto embd = by_gguf.find("token_embd.weight");
  if (embd == by_gguf.end())
    return absl::InvalidArgumentError(absl::StrCat(options.model, ": no model.embed_tokens.weight in the checkpoint"));
  for (const char* g : {"token_embd.weight", "output.weight"}) {
    auto it = by_gguf.find(g);
    if (it == by_gguf.end()) continue;
    const hf::TensorView& t = *it->second;
    if (t.shape.size() != 2 || t.shape[0] != c.vocab_size || t.shape[1] != c.hidden_size)
      return absl::InvalidArgumentError(absl::StrCat(
          options.model, ": tensor ", t.name, " has shape [", absl::StrJoin(t.shape, ", "), "]; config.json says [",
          c.vocab_size, ", ", c.hidden_size, "] (vocab_size, hidden_size)"));
  }
  std::vector<std::string> names;
  for (const auto& [g, t] : by_gguf) names.push_back(g);
  std::sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });

  if (c.rope_scaling && c.rope_scaling->type == "llama3") {
    std::vector<float> factors = Llama3RopeFactors(c);
    std::vector<std::byte> bytes(factors.size() * sizeof(float));
    std::memcpy(bytes.data(), factors.data(), bytes.size());
    TensorSpec spec{"rope_freqs.weight", {static_cast<int64_t>(factors.size())}, GgmlType::kF32};
    report.tensors.push_back({spec.name, "", spec.ne, spec.type});
    if (auto s = w.AddTensorBytes(std::move(spec), std::move(bytes)); !s.ok()) return s;
  }
  for (const std::string& g : names) {
    const hf::TensorView* t = by_gguf[g];
    std::vector<int64_t> ne(t->shape.rbegin(), t->shape.rend());
    if (ne.empty()) ne = {1};
    const GgmlType type = TensorType(*plan, g, ne, c.num_hidden_layers, tied);
    any_quantized |= type != GgmlType::kF32 && type != GgmlType::kF16 && type != GgmlType::kBF16;
    const int64_t row_elems = ne[0];
    const int64_t rows = row_elems > 0 ? t->numel() / row_elems : 0;
    int64_t head_dim = 0;
    if (permute_qk && (g.ends_with("attn_q.weight") || g.ends_with("attn_k.weight") || g.ends_with("attn_q.bias") ||
                       g.ends_with("attn_k.bias")))
      head_dim = c.head_dim;
    // Biases are 1-D: permute them as a column of single-element rows.
    const bool is_bias = ne.size() == 1;
    report.tensors.push_back({g, t->name, ne, type});
    report.source_bytes += t->data.size();
    TensorSpec spec{g, ne, type};
    auto fill = [t, type, rows, row_elems, head_dim, is_bias, threads, g](std::span<std::byte> out) -> absl::Status {
      absl::Status s = is_bias ? ConvertRows(*t, row_elems, 1, type, head_dim, out, threads)
                               : ConvertRows(*t, rows, row_elems, type, head_dim, out, threads);
      if (!s.ok()) return absl::Status(s.code(), absl::StrCat("tensor ", g, " (", t->name, "): ", s.message()));
      return absl::OkStatus();
    };
    if (auto s = w.AddTensor(std::move(spec), std::move(fill)); !s.ok()) return s;
  }
  if (any_quantized) {
    if (auto s = add("general.quantization_version", Value::U32(2)); !s.ok()) return s;
  }

  fs::path out = options.out;
  if (out.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(out.parent_path(), ec);
  }
  if (auto s = w.Write(options.out); !s.ok()) return s;
  std::error_code ec;
  report.file_bytes = fs::file_size(options.out, ec);
  if (options.modelfile) {
    auto path = WriteModelfile(options.out, *tokenization, *vocab);
    if (!path.ok()) return path.status();
    report.modelfile_path = *path;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace distill::gguf
