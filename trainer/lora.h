// LoRA as PEFT does it (peft.tuners.lora): each targeted Linear gets lora_A [r, in] (kaiming-uniform, a = √5) and
// lora_B [out, r] (zeros), and computes base(x) + dropout(x) Aᵀ Bᵀ · alpha / r. Adapters live beside the base
// weights (Linear::lora), not among the model's registered parameters, so HF checkpoint io keeps seeing the base
// model. Adapters are saved and loaded in PEFT's folder format (adapter_model.safetensors + adapter_config.json)
// and can be merged into the base weights for export.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/model.h"

namespace distill::trainer {

struct LoraOptions {
  int64_t r = 16;
  double alpha = 32.0;    // lora_alpha
  double dropout = 0.05;  // lora_dropout
  // A Linear is adapted when its module name equals an entry or ends with "." + entry (PEFT's list matching).
  std::vector<std::string> target_modules = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                             "gate_proj", "up_proj", "down_proj"};
  bool use_rslora = false;              // scaling alpha / √r instead of alpha / r
  uint64_t seed = 0;                    // lora_A init (dropout masks use torch's default generator, seeded by the run)
  std::string base_model_name_or_path;  // recorded in adapter_config.json
};

// Attaches an adapter to every targeted Linear, on its weight's device, in fp32 (fp64 on an fp64 base; add LoRA
// after placing the model), and freezes every base parameter (requires_grad false). lora_A comes from a CPU
// generator seeded with options.seed, so the init is device independent. InvalidArgument for bad options or no
// matching module; FailedPrecondition when the model already has adapters.
absl::Status AddLora(Model& model, const LoraOptions& options);

// The parameters to optimise: every adapter's A and B plus any base parameter that still requires grad, with
// names "<module>.lora_A.weight" / "<module>.lora_B.weight" for adapters and HF names otherwise.
std::vector<std::pair<std::string, torch::Tensor>> NamedTrainableParameters(const Model& model);
std::vector<torch::Tensor> TrainableParameters(const Model& model);

// Writes `folder` (created if needed) in PEFT's format, each file temp-then-rename: adapter_model.safetensors
// with "base_model.model.<module>.lora_A.weight" [r, in] and ".lora_B.weight" [out, r] in the adapters' dtype
// (F32 for fp64), and adapter_config.json (peft_type LORA, task_type CAUSAL_LM, r, lora_alpha, lora_dropout,
// target_modules, …). FailedPrecondition when the model has no adapters.
absl::Status SaveLoraAdapter(const Model& model, const LoraOptions& options, const std::string& folder);

// Reads a PEFT LoRA adapter folder, all-or-nothing, and returns the options read. A model without adapters gets
// AddLora with the folder's config first; a model with adapters (a resumed run whose optimizer holds them) must
// have exactly the folder's adapted modules and r, and its adapter tensors are overwritten in place (scaling and
// dropout taken from the folder). InvalidArgument (naming the file) for a malformed folder or tensors that do
// not fit the model; Unimplemented for PEFT features not modelled here (DoRA, bias training, per-module
// rank/alpha patterns, modules_to_save, regex targets, fan_in_fan_out).
absl::StatusOr<LoraOptions> LoadLoraAdapter(Model& model, const std::string& folder);

// True when `folder` holds adapter_config.json: a PEFT adapter folder rather than a model.
bool IsLoraAdapterFolder(const std::string& folder);

// The adapter's base model folder as its adapter_config.json names it (base_model_name_or_path). NotFound, naming
// the adapter, when the field is missing or names no folder holding config.json (a hub id, or a folder moved since
// training); InvalidArgument for a malformed adapter_config.json.
absl::StatusOr<std::string> LoraAdapterBase(const std::string& adapter_folder);

// OK when the adapter at `folder` has options' r, lora_alpha, use_rslora and target_modules (in any order), as an
// adapter trained further or resumed must: InvalidArgument naming its adapter_config.json and both values otherwise.
absl::Status CheckSameAdapterShape(const LoraOptions& options, const std::string& folder);

// For training an adapter further: attaches the adapter at `folder` to `model` (which has none) as trainable
// parameters, with options' dropout. The folder's r, lora_alpha, use_rslora and target_modules must equal options'
// (InvalidArgument naming the folder and both values otherwise), so the adapters the run saves describe themselves.
absl::Status ContinueLoraAdapter(Model& model, const LoraOptions& options, const std::string& folder);

// W += scaling · B A for every adapter (computed in fp32 or wider, rounded once to W's dtype), then drops the
// adapters and makes every parameter trainable again, leaving a plain model. FailedPrecondition without adapters.
absl::Status MergeLora(Model& model);

// LoadModel(base_folder) on `device` in `dtype` with the adapter at `adapter_folder` merged in (LoadLoraAdapter, then
// MergeLora): a plain model equal to base + adapter. Errors name the folder at fault.
absl::StatusOr<std::shared_ptr<Model>> LoadMergedLoraModel(const std::string& base_folder,
                                                           const std::string& adapter_folder, torch::Device device,
                                                           torch::Dtype dtype);

// For `distill export`: loads the HF model at `base_folder` on the CPU in fp32, applies and merges the PEFT
// adapter at `adapter_folder`, and saves the result to `out_folder` in the base's torch_dtype (fp32 when
// unset), copying the base's tokenizer and generation files beside it.
absl::Status MergeLoraFolder(const std::string& base_folder, const std::string& adapter_folder,
                             const std::string& out_folder);

}  // namespace distill::trainer
