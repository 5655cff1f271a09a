// `distill inspect` on weight files: a .gguf (keys, tensors, types, sizes) or safetensors (a file, a model folder
// or a PEFT adapter folder with its adapter_config.json: tensors, dtypes, shapes, sizes).
#pragma once

#include <string>

namespace distill::cli {

// True when `path` names a GGUF file or safetensors (a .safetensors file, or a folder with model.safetensors,
// model.safetensors.index.json or a PEFT adapter's adapter_model.safetensors, and no shard manifest).
bool IsWeightsPath(const std::string& path);

// Prints the file's contents; returns the exit code (errors go to stderr naming file and offset).
int InspectWeights(const std::string& path, bool all_tensors);

}  // namespace distill::cli
