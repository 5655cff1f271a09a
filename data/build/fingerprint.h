// Fingerprints that tie a shard folder to the tokenizer and chat template it was built with: the trainer and
// `distill inspect` refuse a model whose fingerprints differ. Header-only (needs tokenizers and distill_shard),
// so tools that link only the shard reader and tokenizers can compute them too.
#pragma once

#include <string>

#include "data/shard/shard.h"
#include "tokenizers/model_folder.h"

namespace distill::build {

// "xxh64:<hex>" of the id → piece mapping (every id below VocabSize, with its special flag), the added tokens and
// the BOS settings: what token ids mean.
inline std::string TokenizerFingerprint(const tok::ModelTokenization& model) {
  std::string bytes;
  const tok::Tokenizer& t = *model.tokenizer;
  const size_t n = t.VocabSize();
  bytes.reserve(n * 8);
  for (size_t id = 0; id < n; ++id) {
    const auto piece = t.IdToPiece(static_cast<tok::TokenId>(id));
    bytes += piece ? *piece : std::string("\x01<none>");
    bytes += t.IsSpecial(static_cast<tok::TokenId>(id)) ? '\x02' : '\0';
  }
  bytes += model.add_bos_token ? "bos:1" : "bos:0";
  bytes += '\0';
  bytes += model.bos_token.value_or("");
  bytes += '\0';
  bytes += model.eos_token.value_or("");
  return "xxh64:" + shard::Hex64(shard::Xxh64(bytes));
}

// "xxh64:<hex>" of the chat template source and the end-of-turn token the training view found.
inline std::string TemplateFingerprint(const tok::ModelTokenization& model, const std::string& end_of_turn) {
  std::string bytes = model.chat_template ? model.chat_template->source() : std::string("<no template>");
  bytes += '\0';
  bytes += end_of_turn;
  return "xxh64:" + shard::Hex64(shard::Xxh64(bytes));
}

}  // namespace distill::build
