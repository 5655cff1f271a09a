// `distill inspect` on weight files: a .gguf (keys, tensors, types, sizes) or safetensors (a file or a model
// folder: tensors, dtypes, shapes, sizes, metadata).
#pragma once

#include <string>

namespace distill::cli {

// True when `path` names a GGUF file or safetensors (a .safetensors file, or a folder with model.safetensors or
// model.safetensors.index.json and no shard manifest).
bool IsWeightsPath(const std::string& path);

// Prints the file's contents; returns the exit code (errors go to stderr naming file and offset).
int InspectWeights(const std::string& path, bool all_tensors);

}  // namespace distill::cli
