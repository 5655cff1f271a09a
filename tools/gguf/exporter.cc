#include "tools/gguf/exporter.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <numbers>
#include <span>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "data/output_guard.h"
#include "nlohmann/json.hpp"
#include "tools/gguf/gguf_file.h"
#include "tools/gguf/modelfile.h"
#include "tools/gguf/vocab.h"
#include "tokenizers/heap.h"
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

// A tensor name as an error message shows it: a hostile file's name can be megabytes long.
std::string NameForMessage(absl::string_view name) {
  constexpr size_t kShown = 120;
  if (name.size() <= kShown) return std::string(name);
  size_t cut = kShown;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;  // not inside a code point
  return absl::StrCat(name.substr(0, cut), "… (", name.size(), " bytes)");
}

// HF → GGUF names (gguf.md "Tensor names"); empty for tensors GGUF does not keep.
std::string GgufName(const std::string& hf) {
  static const std::map<std::string, std::string> kTop = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"},
  };
  if (auto it = kTop.find(hf); it != kTop.end()) return it->second;
  static const std::map<std::string, std::string> kPart = {
      {"input_layernorm", "attn_norm"},       {"self_attn.q_proj", "attn_q"},
      {"self_attn.k_proj", "attn_k"},         {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"},    {"self_attn.q_norm", "attn_q_norm"},
      {"self_attn.k_norm", "attn_k_norm"},    {"post_attention_layernorm", "ffn_norm"},
      {"mlp.gate_proj", "ffn_gate"},          {"mlp.up_proj", "ffn_up"},
      {"mlp.down_proj", "ffn_down"},
  };
  // "model.layers.<digits>.<part>.weight|bias", parsed by hand: std::regex recurses per character and a
  // hostile file's 100k-character name would overflow the stack.
  absl::string_view rest = hf;
  if (!absl::ConsumePrefix(&rest, "model.layers.")) return "";
  const size_t dot = rest.find('.');
  const absl::string_view index = rest.substr(0, dot);
  if (dot == absl::string_view::npos || index.empty() || !absl::c_all_of(index, absl::ascii_isdigit)) return "";
  rest.remove_prefix(dot + 1);
  absl::string_view kind = "weight";
  if (!absl::ConsumeSuffix(&rest, ".weight")) {
    if (!absl::ConsumeSuffix(&rest, ".bias")) return "";
    kind = "bias";
  }
  auto part = kPart.find(std::string(rest));
  if (part == kPart.end()) return "";
  return absl::StrCat("blk.", index, ".", part->second, ".", kind);
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

// A LoRA pair to merge into a base weight W [out, in]: A [r, in], B [out, r], W' = W + scaling · B·A.
struct LoraDelta {
  const hf::TensorView* a = nullptr;
  const hf::TensorView* b = nullptr;
  int64_t r = 0;
  float scaling = 0;
};

// Adds scaling · B[first .. first+n) · A to `values` (n rows of A's width), in fp32: each row's B·A is summed
// over k = 0 … r−1, then scaled and added to W, the order of operations of torch's (B @ A) * scaling + W.
void AddLoraRows(const LoraDelta& lora, const std::vector<float>& a, int64_t first, int64_t n, int64_t row_elems,
                 std::span<float> values) {
  const std::vector<float> b = hf::ToFloat32(RowSlice(*lora.b, first, n, lora.r));
  std::vector<float> delta(static_cast<size_t>(row_elems));
  for (int64_t i = 0; i < n; ++i) {
    std::fill(delta.begin(), delta.end(), 0.0f);
    for (int64_t k = 0; k < lora.r; ++k) {
      const float coef = b[static_cast<size_t>(i * lora.r + k)];
      const float* a_row = &a[static_cast<size_t>(k * row_elems)];
      for (int64_t j = 0; j < row_elems; ++j) delta[static_cast<size_t>(j)] += coef * a_row[j];
    }
    float* w = &values[static_cast<size_t>(i * row_elems)];
    for (int64_t j = 0; j < row_elems; ++j) w[j] += delta[static_cast<size_t>(j)] * lora.scaling;
  }
}

// Converts rows [first_row, first_row + rows) of `view` (row_elems each) to `type` into `out`, a block of rows
// at a time, first merging `lora` into the rows when given. With `head_dim` > 0 the rows of each head are
// reordered from HF's rotate-half layout to llama.cpp's adjacent pairs (the `llama` q/k permutation: new row
// 2j+p of a head is old row p·hd/2 + j); the range must then hold whole heads. Safe to call from several threads.
absl::Status ConvertRows(const hf::TensorView& view, int64_t first_row, int64_t rows, int64_t row_elems, GgmlType type,
                         int64_t head_dim, std::span<std::byte> out, const LoraDelta* lora = nullptr) {
  auto row_bytes = RowBytes(type, row_elems);
  if (!row_bytes.ok()) return row_bytes.status();
  const bool same_dtype = head_dim == 0 && lora == nullptr &&
                          ((type == GgmlType::kF32 && view.dtype == hf::DType::kF32) ||
                           (type == GgmlType::kF16 && view.dtype == hf::DType::kF16) ||
                           (type == GgmlType::kBF16 && view.dtype == hf::DType::kBF16));
  if (same_dtype) {  // bit-exact either way; skip the round trip through fp32
    std::memcpy(out.data(), RowSlice(view, first_row, rows, row_elems).data.data(), out.size());
    return absl::OkStatus();
  }
  const int64_t block = head_dim > 0 ? std::max<int64_t>(head_dim, kRowsPerBlock / head_dim * head_dim) : kRowsPerBlock;
  // Scratch per thread, reused across blocks and chunks: a fresh vector per block cost a memset and, on large
  // rows, page faults every time.
  thread_local std::vector<float> values, permuted;
  const size_t block_elems = static_cast<size_t>(std::min(block, rows) * row_elems);
  if (values.size() < block_elems) values.resize(block_elems);
  if (head_dim > 0 && permuted.size() < block_elems) permuted.resize(block_elems);
  const std::vector<float> lora_a = lora != nullptr ? hf::ToFloat32(*lora->a) : std::vector<float>();
  for (int64_t done = 0; done < rows; done += block) {
    const int64_t first = first_row + done, n = std::min(block, rows - done);
    std::span<float> rows_fp32(values.data(), static_cast<size_t>(n * row_elems));
    hf::ToFloat32(RowSlice(view, first, n, row_elems), rows_fp32);
    if (lora != nullptr) AddLoraRows(*lora, lora_a, first, n, row_elems, rows_fp32);
    if (head_dim > 0) {
      const int64_t half = head_dim / 2;
      for (int64_t head = 0; head < n / head_dim; ++head) {
        for (int64_t j = 0; j < half; ++j) {
          for (int64_t p = 0; p < 2; ++p) {
            const float* src = &rows_fp32[static_cast<size_t>((head * head_dim + p * half + j) * row_elems)];
            std::copy(src, src + row_elems, &permuted[static_cast<size_t>((head * head_dim + 2 * j + p) * row_elems)]);
          }
        }
      }
      rows_fp32 = std::span<float>(permuted.data(), rows_fp32.size());
    }
    std::byte* dst = out.data() + done * *row_bytes;
    if (type == GgmlType::kF32) {
      std::memcpy(dst, rows_fp32.data(), rows_fp32.size_bytes());
    } else if (auto s = QuantizeRows(type, rows_fp32.data(), n, row_elems, dst, /*threads=*/1); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}


constexpr char kAdapterConfig[] = "adapter_config.json";
constexpr char kAdapterWeights[] = "adapter_model.safetensors";
constexpr char kPeftPrefix[] = "base_model.model.";

// A PEFT LoRA adapter folder opened for merging: its weights stay mapped while the GGUF is written.
struct Adapter {
  std::string base;  // the base model folder
  std::unique_ptr<hf::SafetensorsFile> file;
  std::map<std::string, LoraDelta> by_weight;  // base weight's HF name → its A/B pair
};

bool IsAdapterFolder(const std::string& folder) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(folder) / kAdapterConfig, ec);
}

bool HasTokenizer(const std::string& folder) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(folder) / "tokenizer.json", ec) ||
         fs::is_regular_file(fs::path(folder) / "tokenizer.model", ec);
}

// adapter_config.json → (r, scaling, base), refusing what a plain W + scaling·B·A merge would get wrong.
absl::Status ParseAdapterConfig(const std::string& path, const std::string& base_override, int64_t* r,
                                double* scaling, std::string* base) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
  auto bad = [&](const std::string& what) { return absl::InvalidArgumentError(absl::StrCat(path, ": ", what)); };
  auto unsupported = [&](const std::string& what) {
    return absl::UnimplementedError(
        absl::StrCat(path, ": ", what, " is not supported by distill export (only plain LoRA adapters merge)"));
  };
  auto flag = [&](const char* key) { return j.contains(key) && j[key].is_boolean() && j[key].get<bool>(); };
  auto set = [&](const char* key) {  // present with a value other than null, [] or {}
    return j.contains(key) && !j[key].is_null() && !((j[key].is_array() || j[key].is_object()) && j[key].empty());
  };
  if (!j.contains("peft_type") || !j["peft_type"].is_string() || j["peft_type"].get<std::string>() != "LORA")
    return unsupported("a peft_type other than \"LORA\"");
  if (flag("use_dora")) return unsupported("DoRA (use_dora)");
  if (j.contains("bias") && !(j["bias"].is_string() && j["bias"].get<std::string>() == "none"))
    return unsupported(absl::StrCat("bias ", j["bias"].dump(), " (trained biases; only \"none\")"));
  if (flag("fan_in_fan_out")) return unsupported("fan_in_fan_out");
  if (set("modules_to_save")) return unsupported("modules_to_save (fully trained modules beside the adapters)");
  for (const char* key : {"rank_pattern", "alpha_pattern"}) {
    if (set(key)) return unsupported(absl::StrCat(key, " (per-module rank or alpha)"));
  }
  if (set("layer_replication")) return unsupported("layer_replication");
  if (!j.contains("r") || !j["r"].is_number_integer() || j["r"].get<int64_t>() < 1)
    return bad("r must be a positive integer");
  *r = j["r"].get<int64_t>();
  if (!j.contains("lora_alpha") || !j["lora_alpha"].is_number() || !(j["lora_alpha"].get<double>() > 0))
    return bad("lora_alpha must be a positive number");
  const double alpha = j["lora_alpha"].get<double>();
  *scaling = flag("use_rslora") ? alpha / std::sqrt(static_cast<double>(*r)) : alpha / static_cast<double>(*r);
  *base = base_override;
  if (base->empty() && j.contains("base_model_name_or_path") && j["base_model_name_or_path"].is_string())
    *base = j["base_model_name_or_path"].get<std::string>();
  if (base->empty())
    return bad("no base_model_name_or_path; name the base model folder with --base");
  std::error_code ec;
  if (!fs::is_directory(*base, ec) || !fs::is_regular_file(fs::path(*base) / "config.json", ec))
    return absl::NotFoundError(absl::StrCat(
        "base model folder ", *base, base_override.empty() ? " (base_model_name_or_path of " + path + ")" : "",
        " not found or without config.json; name the base model folder with --base"));
  return absl::OkStatus();
}

// Opens the adapter at `folder` and pairs its tensors by the base weight they adapt.
absl::StatusOr<Adapter> OpenAdapter(const std::string& folder, const std::string& base_override) {
  Adapter adapter;
  int64_t r = 0;
  double scaling = 0;
  if (auto s = ParseAdapterConfig((fs::path(folder) / kAdapterConfig).string(), base_override, &r, &scaling,
                                  &adapter.base);
      !s.ok())
    return s;
  const fs::path weights = fs::path(folder) / kAdapterWeights;
  std::error_code ec;
  if (!fs::is_regular_file(weights, ec)) {
    if (fs::exists(fs::path(folder) / "adapter_model.bin", ec))
      return absl::UnimplementedError(absl::StrCat(folder, ": adapter_model.bin (pickle) is not read; save the adapter "
                                                           "with safetensors (PEFT's default)"));
    return absl::NotFoundError(absl::StrCat(weights.string(), ": not found"));
  }
  auto file = hf::SafetensorsFile::Open(weights.string());
  if (!file.ok()) return file.status();
  adapter.file = std::move(*file);
  std::vector<std::string> problems;
  for (const hf::TensorView& t : adapter.file->tensors()) {
    // "base_model.model.<module>.lora_A|lora_B.weight" (parsed by hand, as in GgufName).
    absl::string_view module = t.name;
    const bool is_a = absl::ConsumeSuffix(&module, ".lora_A.weight");
    const bool known = absl::ConsumePrefix(&module, kPeftPrefix) &&
                       (is_a || absl::ConsumeSuffix(&module, ".lora_B.weight")) && !module.empty();
    if (!known) {
      problems.push_back(absl::StrCat("unexpected tensor ", NameForMessage(t.name), " (only ", kPeftPrefix,
                                      "<module>.lora_A/lora_B.weight of Linear layers merge)"));
      continue;
    }
    LoraDelta& d = adapter.by_weight[absl::StrCat(module, ".weight")];
    d.r = r;
    d.scaling = static_cast<float>(scaling);
    (is_a ? d.a : d.b) = &t;
  }
  for (const auto& [weight, d] : adapter.by_weight) {
    const std::string module = weight.substr(0, weight.size() - 7);
    if (d.a == nullptr || d.b == nullptr) {
      problems.push_back(absl::StrCat(module, " has lora_", d.a == nullptr ? "B" : "A", " without lora_",
                                      d.a == nullptr ? "A" : "B"));
    } else if (d.a->shape.size() != 2 || d.b->shape.size() != 2 || d.a->shape[0] != r || d.b->shape[1] != r) {
      problems.push_back(absl::StrCat(module, ": lora_A [", absl::StrJoin(d.a->shape, ", "), "] and lora_B [",
                                      absl::StrJoin(d.b->shape, ", "), "] do not have rank r = ", r));
    }
  }
  if (adapter.by_weight.empty()) problems.push_back("no LoRA tensors");
  if (!problems.empty())
    return absl::InvalidArgumentError(absl::StrCat(weights.string(), ": ", absl::StrJoin(problems, "; ")));
  return adapter;
}

}  // namespace

absl::StatusOr<FileTypePlan> ParseFileType(const std::string& name) {
  // general.file_type values are llama.cpp's llama_ftype (gguf.md "Model keys").
  static const std::map<std::string, FileTypePlan> kPlans = {
      {"f32", {"f32", GgmlType::kF32, 0, false}},      {"f16", {"f16", GgmlType::kF16, 1, false}},
      {"bf16", {"bf16", GgmlType::kBF16, 32, false}},  {"q8_0", {"q8_0", GgmlType::kQ8_0, 7, false}},
      {"q4_0", {"q4_0", GgmlType::kQ4_0, 2, false}},   {"q4_k", {"q4_k", GgmlType::kQ4_K, 14, false, true}},
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

bool LlamaCppSeesA70B(const hf::ModelConfig& config) {
  if (config.num_hidden_layers != 80) return false;
  if (config.model_type == "llama") return config.num_key_value_heads != config.num_attention_heads;
  return config.model_type == "qwen2";
}

GgmlType TensorType(const FileTypePlan& plan, const std::string& name, const std::vector<int64_t>& ne, int64_t layers,
                    bool tied, bool is_70b) {
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
    // llama.cpp's Q4_K_S (what a plain q4_k file type means) spends a little more on the first layers.
    if (plan.mix_q4_k_s && ((name.ends_with("attn_v.weight") && layer >= 0 && layer < 4) ||
                            (name.ends_with("ffn_down.weight") && layer >= 0 && layer < layers / 8)))
      type = GgmlType::kQ5_K;
    if (is_70b && name.ends_with("attn_v.weight") && type == GgmlType::kQ4_K) type = GgmlType::kQ5_K;
  }
  // Rows that do not fill the type's blocks fall back as llama.cpp does (Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0),
  // then to F16 when even 32-element blocks do not fit.
  const int64_t row = ne.empty() ? 0 : ne[0];
  if (row % 256 != 0) {
    if (type == GgmlType::kQ4_K) type = GgmlType::kQ5_0;
    if (type == GgmlType::kQ5_K) type = GgmlType::kQ5_1;
    if (type == GgmlType::kQ6_K) type = GgmlType::kQ8_0;
  }
  if (row % 32 != 0 && (type == GgmlType::kQ4_0 || type == GgmlType::kQ5_0 || type == GgmlType::kQ5_1 ||
                        type == GgmlType::kQ8_0))
    type = GgmlType::kF16;
  return type;
}

absl::StatusOr<ExportReport> ExportGguf(const ExportOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  // An existing -o that is not a GGUF is a mistyped path (`-o ckpt/model.safetensors` would replace the weights
  // being read), not a wish.
  if (auto s = data::CheckReplaceableOutput(options.out, ".gguf file", "a GGUF file",
                                            [](std::string_view head) { return head.starts_with("GGUF"); });
      !s.ok())
    return s;
  auto plan = ParseFileType(options.type);
  if (!plan.ok()) return plan.status();
  // An adapter folder: weights and config.json from the base, tokenizer (with the training template) from the
  // adapter folder when the trainer copied it there.
  std::optional<Adapter> adapter;
  std::string weights_dir = options.model;
  std::string tokenizer_dir = options.model;
  if (IsAdapterFolder(options.model)) {
    auto opened = OpenAdapter(options.model, options.base_model);
    if (!opened.ok()) return opened.status();
    adapter = std::move(*opened);
    weights_dir = adapter->base;
    if (!HasTokenizer(options.model)) tokenizer_dir = adapter->base;
  } else if (!options.base_model.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(options.model, ": a base model was given but the folder holds no ",
                                                   kAdapterConfig, " (not a LoRA adapter)"));
  }
  // tokenizer.json's merges and pre-tokenizer are read on a second thread while this one loads the tokenizer,
  // the config and the checkpoint's headers: the two reads of tokenizer.json are most of an export's fixed cost.
  // (A future from std::async waits for its thread when destroyed, so an early return below is safe.)
  auto tokenizer_file = std::async(std::launch::async, [&] {
    tok::AdviseHugePagesForThreadHeap();
    return ReadGgufTokenizerFile(tokenizer_dir);
  });
  auto config = hf::LoadModelConfig(weights_dir);
  if (!config.ok()) return config.status();
  if (adapter) hf::RaiseToTrainedContext(options.model, *config);  // a LoRA run on rows longer than its base's
  const hf::ModelConfig& c = *config;
  auto checkpoint = hf::SafetensorsCheckpoint::Open(weights_dir);
  if (!checkpoint.ok()) return checkpoint.status();
  tok::ModelFolderOptions folder_options;
  folder_options.template_override = options.template_override;
  auto tokenization = tok::LoadModelTokenization(tokenizer_dir, folder_options);
  if (!tokenization.ok()) return tokenization.status();
  auto file = tokenizer_file.get();
  if (!file.ok()) return file.status();
  auto vocab = ReadGgufVocab(*tokenization, std::move(*file), c.vocab_size, c.bos_token_id);
  if (!vocab.ok()) return vocab.status();

  const std::string& arch = c.model_type;
  ExportReport report;
  if (adapter) report.base_model = adapter->base;
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
      return absl::InvalidArgumentError(absl::StrCat(weights_dir, ": tensor ", NameForMessage(t->name),
                                                     " has no GGUF name for ", arch, " (unexpected in a ", arch,
                                                     " checkpoint)"));
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
    return absl::InvalidArgumentError(absl::StrCat(weights_dir, ": no model.embed_tokens.weight in the checkpoint"));
  for (const char* g : {"token_embd.weight", "output.weight"}) {
    auto it = by_gguf.find(g);
    if (it == by_gguf.end()) continue;
    const hf::TensorView& t = *it->second;
    if (t.shape.size() != 2 || t.shape[0] != c.vocab_size || t.shape[1] != c.hidden_size)
      return absl::InvalidArgumentError(absl::StrCat(
          weights_dir, ": tensor ", t.name, " has shape [", absl::StrJoin(t.shape, ", "), "]; config.json says [",
          c.vocab_size, ", ", c.hidden_size, "] (vocab_size, hidden_size)"));
  }
  // Every adapter must land on an exported 2-D weight of matching shape.
  if (adapter) {
    std::map<std::string, const hf::TensorView*> exported;
    for (const auto& [g, t] : by_gguf) exported[t->name] = t;
    std::vector<std::string> problems;
    for (const auto& [weight, d] : adapter->by_weight) {
      auto it = exported.find(weight);
      if (it == exported.end()) {
        problems.push_back(c.tie_word_embeddings && weight == "lm_head.weight"
                               ? std::string("lm_head.weight is tied to the embeddings (an adapter on it cannot merge)")
                               : absl::StrCat("no base weight ", weight));
        continue;
      }
      const hf::TensorView& w = *it->second;
      if (w.shape.size() != 2 || w.shape[0] != d.b->shape[0] || w.shape[1] != d.a->shape[1])
        problems.push_back(absl::StrCat(weight, " [", absl::StrJoin(w.shape, ", "), "] does not fit lora_B [",
                                        absl::StrJoin(d.b->shape, ", "), "] · lora_A [",
                                        absl::StrJoin(d.a->shape, ", "), "]"));
    }
    if (!problems.empty())
      return absl::InvalidArgumentError(absl::StrCat(options.model, ": the adapter does not fit the base model ",
                                                     adapter->base, ": ", absl::StrJoin(problems, "; ")));
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
  const bool is_70b = LlamaCppSeesA70B(c);
  for (const std::string& g : names) {
    const hf::TensorView* t = by_gguf[g];
    std::vector<int64_t> ne(t->shape.rbegin(), t->shape.rend());
    if (ne.empty()) ne = {1};
    const GgmlType type = TensorType(*plan, g, ne, c.num_hidden_layers, tied, is_70b);
    any_quantized |= type != GgmlType::kF32 && type != GgmlType::kF16 && type != GgmlType::kBF16;
    const int64_t row_elems = ne[0];
    int64_t head_dim = 0;
    if (permute_qk && (g.ends_with("attn_q.weight") || g.ends_with("attn_k.weight") || g.ends_with("attn_q.bias") ||
                       g.ends_with("attn_k.bias")))
      head_dim = c.head_dim;
    // Biases are 1-D: permute them as a column of single-element rows.
    const bool is_bias = ne.size() == 1;
    const LoraDelta* lora = nullptr;
    if (adapter) {
      if (auto it = adapter->by_weight.find(t->name); it != adapter->by_weight.end()) lora = &it->second;
    }
    report.tensors.push_back({g, t->name, ne, type, lora != nullptr});
    report.source_bytes += t->data.size();
    if (lora != nullptr) {
      report.source_bytes += lora->a->data.size() + lora->b->data.size();
      ++report.merged_adapters;
    }
    TensorSpec spec{g, ne, type};
    // The writer converts chunks of rows on its threads; a permuted tensor's chunks hold whole heads, and a bias
    // (one GGUF row, permuted as a column of single-element rows) is one chunk.
    auto fill = [t, type, row_elems, head_dim, is_bias, g, lora](int64_t first_row, int64_t n_rows,
                                                                  std::span<std::byte> out) -> absl::Status {
      absl::Status s = is_bias ? ConvertRows(*t, 0, row_elems, 1, type, head_dim, out)
                               : ConvertRows(*t, first_row, n_rows, row_elems, type, head_dim, out, lora);
      if (!s.ok()) return absl::Status(s.code(), absl::StrCat("(", t->name, "): ", s.message()));
      return absl::OkStatus();
    };
    const int64_t row_multiple = is_bias ? 1 : std::max<int64_t>(head_dim, 1);
    if (auto s = w.AddTensorRows(std::move(spec), row_multiple, std::move(fill)); !s.ok()) return s;
  }
  if (any_quantized) {
    if (auto s = add("general.quantization_version", Value::U32(2)); !s.ok()) return s;
  }

  fs::path out = options.out;
  if (out.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(out.parent_path(), ec);
  }
  const auto writing = std::chrono::steady_clock::now();
  if (auto s = w.Write(options.out, threads); !s.ok()) return s;
  report.data_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - writing).count();
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
