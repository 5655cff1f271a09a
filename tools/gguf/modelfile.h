// An Ollama Modelfile beside an exported GGUF: FROM, a Go TEMPLATE equivalent to the training chat template
// (ChatML, Llama 3 or DeepSeek-R1 turns, with the "<think>\n" opening when the training template's generation
// prompt forces it), the end-of-turn stop token, and DeepSeek's recommended sampling (temperature 0.6, top_p 0.95).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "tokenizers/model_folder.h"
#include "tools/gguf/vocab.h"

namespace distill::gguf {

// The Modelfile text for `gguf_file_name` (a path relative to the Modelfile's folder). FailedPrecondition for a
// template family Ollama cannot be given here (the end-of-turn token names the family).
absl::StatusOr<std::string> ModelfileText(const std::string& gguf_file_name, const tok::ModelTokenization& model,
                                          const GgufVocab& vocab);

// Writes "<folder of gguf_path>/Modelfile" (temp-then-rename) and returns its path.
absl::StatusOr<std::string> WriteModelfile(const std::string& gguf_path, const tok::ModelTokenization& model,
                                           const GgufVocab& vocab);

}  // namespace distill::gguf
