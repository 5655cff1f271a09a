// The tokenizer half of a GGUF: what llama.cpp needs to tokenize exactly like the model's tokenizer.json and to
// stop where the chat template ends an assistant turn (gguf.md "Tokenizer keys").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tokenizers/model_folder.h"

namespace distill::gguf {

// llama.cpp's token types (tokenizer.ggml.token_type).
enum class TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

struct GgufVocab {
  std::string model = "gpt2";            // tokenizer.ggml.model: byte-level BPE
  std::string pre;                       // tokenizer.ggml.pre: "qwen2", "llama-bpe", "deepseek-r1-qwen", "deepseek-v3"
  std::vector<std::string> tokens;       // one per id up to the model's vocab_size ("[PAD{i}]" where no token)
  std::vector<int32_t> token_types;      // TokenType per id
  std::vector<std::string> merges;       // "a b", in rank order
  std::optional<uint32_t> bos_id;
  uint32_t eos_id = 0;                   // the template's end-of-turn token (<|im_end|>, <|eot_id|>, …)
  std::optional<uint32_t> eot_id;        // the same token, for llama.cpp's end-of-turn detection
  std::optional<uint32_t> pad_id;
  std::optional<uint32_t> unknown_id;
  bool add_bos = false;
  bool add_eos = false;
  std::string chat_template;             // the training template's Jinja source, verbatim
  std::string end_of_turn;               // its text, for the Modelfile's stop list
};

// What a GGUF vocabulary takes from tokenizer.json itself rather than from the loaded tokenizer; independent of it,
// so an export reads it on a second thread while the tokenizer loads.
struct GgufTokenizerFile {
  std::string path;                  // the tokenizer.json read
  std::vector<std::string> merges;   // "a b", in rank order, verbatim
  nlohmann::json pre_tokenizer;      // null when absent
  std::vector<std::string> splits;   // its Split regexes, in order
};

// Reads the tokenizer.json of the model folder (or of a tokenizer.json path's folder): byte-level BPE with merges
// only (a SentencePiece-style vocabulary is refused); errors name the file and the field.
absl::StatusOr<GgufTokenizerFile> ReadGgufTokenizerFile(const std::string& model_path);

// Reads the vocabulary of a loaded model folder (tokenizer.json byte-level BPE only; SentencePiece folders are
// refused) for a model with `vocab_size` rows in its embedding. The pre-tokenizer name comes from the
// tokenizer's identity (its split regexes and special tokens); an unknown one is an error that names what was
// found. The end-of-sequence id is the chat template's end-of-turn token, not the base tokenizer's eos: a Qwen
// base says <|endoftext|> but its chat turns end with <|im_end|>, and a GGUF with the former never stops.
// `config_bos_id` is config.json's bos_token_id, used when tokenizer_config.json names no bos_token.
// `file` is ReadGgufTokenizerFile of the same folder.
absl::StatusOr<GgufVocab> ReadGgufVocab(const tok::ModelTokenization& model, GgufTokenizerFile file,
                                        int64_t vocab_size, std::optional<int64_t> config_bos_id = std::nullopt);

}  // namespace distill::gguf
