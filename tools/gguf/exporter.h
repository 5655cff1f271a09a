// HF model folder (config.json, *.safetensors, tokenizer files) → GGUF v3 that llama.cpp, Ollama and LM Studio
// load: hyperparameter keys, tokenizer metadata (vocab.h), HF → GGUF tensor names, the q/k row permutation for
// `llama`, rope_freqs for llama3 rope scaling, and per-tensor types following llama.cpp's rules for the mixes
// (/work/shared/references/gguf.md). Tensors are converted a block of rows at a time while the file is written,
// so memory stays near one block per thread whatever the model size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/gguf/quantize.h"
#include "trainer/hf/model_config.h"

namespace distill::gguf {

// Output types `distill export --type` accepts: f32 f16 bf16 q8_0 q4_0 q4_k q5_k q6_k q4_k_m q5_k_m.
struct FileTypePlan {
  std::string name;        // as given
  GgmlType base;           // type of the 2-D weights before the mix's exceptions
  uint32_t file_type = 0;  // general.file_type (llama_ftype)
  bool mix_m = false;      // the _M mixes: attn_v / ffn_down get Q6_K on use_more_bits layers
  bool mix_q4_k_s = false;  // Q4_K_S: attn_v of layers 0-3 and ffn_down of the first eighth of layers get Q5_K
};
absl::StatusOr<FileTypePlan> ParseFileType(const std::string& name);

struct ExportOptions {
  // HF folder: config.json, model*.safetensors, tokenizer.json + config; or a PEFT LoRA adapter folder
  // (adapter_config.json + adapter_model.safetensors, as `distill train train.mode=lora` writes), whose
  // adapters are merged into the base model's weights while the file is written.
  std::string model;
  std::string base_model;         // the adapter's base model folder (default: its base_model_name_or_path)
  std::string out;                // .gguf path; an existing file that is not a GGUF is refused, not replaced
  std::string type = "f16";
  std::string template_override;  // the template the student was trained with, when not the folder's
  std::string name;               // general.name (default: the folder's name)
  bool modelfile = false;         // also write an Ollama Modelfile beside the GGUF
  int threads = 0;                // 0 = all cores
};

struct ExportedTensor {
  std::string name;           // GGUF name
  std::string source;         // HF name ("" for generated ones such as rope_freqs)
  std::vector<int64_t> ne;
  GgmlType type;
  bool merged = false;  // a LoRA adapter was merged into it
};

struct ExportReport {
  std::string architecture;
  std::string pre_tokenizer;
  std::string end_of_turn;
  uint32_t eos_id = 0;
  std::vector<ExportedTensor> tensors;
  uint64_t source_bytes = 0;  // safetensors data read
  uint64_t file_bytes = 0;
  double seconds = 0;          // the whole export
  double data_seconds = 0;     // of it, writing the file: converting the tensors, writing and fsyncing
  std::string modelfile_path;  // when written
  std::string base_model;      // for an adapter folder: the base folder its adapters were merged into
  int64_t merged_adapters = 0;  // LoRA A/B pairs merged
};

// Exports; errors name the file and tensor at fault. The GGUF is written temp-then-rename.
// For an adapter folder: every "base_model.model.<module>.lora_A.weight" [r, in] / ".lora_B.weight" [out, r] pair
// is merged as W' = W + scaling · B·A in fp32 (scaling = lora_alpha / r, or lora_alpha / √r with use_rslora),
// a block of rows at a time inside the tensor's conversion; config.json and weights come from the base, the
// tokenizer files (and chat template) from the adapter folder when it has them, else from the base.
// Unimplemented for PEFT features that are not a plain LoRA merge (DoRA, bias other than "none",
// fan_in_fan_out, modules_to_save, rank_pattern / alpha_pattern); InvalidArgument for adapter tensors that do
// not fit the base.
absl::StatusOr<ExportReport> ExportGguf(const ExportOptions& options);

// Whether llama.cpp classes the model as a 70B (its LLM_TYPE_70B, from the block count): 80 layers of `llama` with
// grouped-query attention (without it llama.cpp says 65B) or of `qwen2`. Its quantizer gives such a model's attn_v
// (8 query heads per KV head, so 8x smaller than attn_q) more bits.
bool LlamaCppSeesA70B(const hf::ModelConfig& config);

// The type llama.cpp would give one tensor (its GGUF name, ne) of a model with `layers` layers under `plan`.
// `tied` means token_embd doubles as the output matrix; `is_70b` is LlamaCppSeesA70B (attn_v's Q4_K → Q5_K).
// Exposed for tests of the mixing rules.
GgmlType TensorType(const FileTypePlan& plan, const std::string& gguf_name, const std::vector<int64_t>& ne,
                    int64_t layers, bool tied, bool is_70b = false);

}  // namespace distill::gguf
