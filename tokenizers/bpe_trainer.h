// A byte-level BPE trainer that writes Hugging Face tokenizer.json text in Qwen2's layout (NFC normalizer, Qwen2's
// split regex — digits one by one — then ByteLevel, ByteLevel decoder, special tokens as added tokens after the BPE
// vocabulary), so a vocabulary made from a small corpus loads through the same code path as a real model's, in
// our tokenizer and in HF tokenizers alike. Used by the offline demo to make a tiny student's vocabulary.
//
// Training: the texts are split on the special tokens, NFC-normalized and pre-tokenized exactly as the produced
// tokenizer will do it; the distinct pre-tokens are counted, and, starting from the 256 byte-level characters
// (ids 0…255 in GPT-2 bytes_to_unicode order, so every text encodes), the most frequent adjacent pair is merged
// until the vocabulary has the size asked for or no pair occurs `min_frequency` times. Pair counts are updated
// incrementally (only words holding the merged pair are touched). Ties go to the pair with the smallest
// (left id, right id), so the same texts and options give byte-identical output on every run and machine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace distill::tok {

struct BpeTrainOptions {
  // Total vocabulary: 256 byte tokens + learned merges + special tokens. At least 256 + special_tokens.size().
  int vocab_size = 0;
  // Added tokens (special=true), given ids vocab_size - special_tokens.size() … vocab_size - 1 in this order.
  // Non-empty, distinct, valid UTF-8, and not a single byte-level character.
  std::vector<std::string> special_tokens;
  // A pair seen fewer times than this (summed over the corpus) is never merged; training may then stop short of
  // vocab_size (the vocabulary is smaller, never padded).
  int min_frequency = 2;
  // Longest merged token, in bytes (0 = no limit).
  int max_token_bytes = 0;
};

// Trains on `texts` (valid UTF-8; special-token occurrences are cut out, not learned) and returns tokenizer.json
// text. InvalidArgument for bad options or invalid UTF-8 (naming the text index and byte offset).
absl::StatusOr<std::string> TrainByteLevelBpe(const std::vector<std::string>& texts, const BpeTrainOptions& options);

struct TokenizerFolderOptions {
  // tokenizer_config.json special tokens; each, when set, must be an added token of the tokenizer.
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::optional<std::string> pad_token;
  bool add_bos_token = false;
  int64_t model_max_length = 32768;
  std::string chat_template;  // Jinja source; empty = no "chat_template" key
};

// Writes `dir`/tokenizer.json (the text as given) and `dir`/tokenizer_config.json (Qwen2-style: add_bos_token,
// bos/eos/pad tokens, model_max_length, chat_template, added_tokens_decoder matching tokenizer.json's added_tokens),
// each through a temp file, fsync and rename. Creates `dir`. InvalidArgument when the JSON does not parse or a
// named special token is not one of its added tokens.
absl::Status WriteTokenizerFolder(const std::string& dir, const std::string& tokenizer_json,
                                  const TokenizerFolderOptions& options);

}  // namespace distill::tok
