// Model weights in and out of a Hugging Face model folder: config.json plus model.safetensors (or shards with
// model.safetensors.index.json), tensors under the HF names the model's parameters carry.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/hf/safetensors.h"
#include "trainer/model.h"

namespace distill::trainer {

// Copies every checkpoint tensor into the parameter of the same name, converting F32/F16/BF16 to the
// parameter's dtype and device. All-or-nothing: InvalidArgument naming every missing, unexpected or mis-shaped
// tensor leaves the model untouched. *.rotary_emb.inv_freq (old checkpoints) is skipped; a tied model accepts
// lm_head.weight only when it equals model.embed_tokens.weight.
absl::Status LoadWeights(Model& model, const hf::SafetensorsCheckpoint& checkpoint);

// MakeModel from `folder`/config.json, then LoadWeights from its safetensors. Errors name the folder.
absl::StatusOr<std::shared_ptr<Model>> LoadModel(const std::string& folder, torch::Device device, torch::Dtype dtype);

// Writes `folder` (created if needed): the parameters as safetensors in `dtype` (default: the model's; float32,
// float16 or bfloat16), sharded above `max_shard_bytes`, and config.json with torch_dtype set to match, each
// temp-then-rename.
absl::Status SaveModel(const Model& model, const std::string& folder, std::optional<torch::Dtype> dtype = {},
                       uint64_t max_shard_bytes = 5ull << 30);

}  // namespace distill::trainer
