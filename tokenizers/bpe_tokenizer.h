// The tokenizer.json byte-level BPE backend: added tokens → normalizer → pre-tokenizer → BPE, as HF tokenizers
// runs them, plus the ByteLevel decoder. Built by ParseTokenizerJson (tokenizer_json.cc).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "tokenizers/added_vocab.h"
#include "tokenizers/bpe.h"
#include "tokenizers/normalizer.h"
#include "tokenizers/pretokenizer.h"
#include "tokenizers/tokenizer.h"

namespace distill::tok {

class BpeTokenizer : public Tokenizer {
 public:
  enum class DecoderKind { kByteLevel, kJoinWithSpace };  // ByteLevel, or no decoder (HF joins with " ")

  BpeTokenizer();

  absl::StatusOr<std::vector<TokenId>> Encode(std::string_view text) const override;
  absl::StatusOr<std::string> Decode(std::span<const TokenId> ids, bool skip_special = false) const override;
  std::optional<std::string> IdToPiece(TokenId id) const override;
  std::optional<TokenId> PieceToId(std::string_view piece) const override;
  size_t VocabSize() const override { return vocab_size_; }
  const std::vector<AddedToken>& AddedTokens() const override { return added_tokens_; }
  bool IsSpecial(TokenId id) const override;
  std::string TokenBytes(TokenId id) const override;
  bool SplitsAtAddedTokens() const override { return true; }
  bool PostProcessorAddsBos() const override { return post_processor_adds_bos_; }
  std::string Describe() const override;

  // Assembly (used by the loader).
  BpeModel& model() { return model_; }
  Normalizer& normalizer() { return normalizer_; }
  PreTokenizer& pre_tokenizer() { return pre_tokenizer_; }
  void set_decoder(DecoderKind kind) { decoder_ = kind; }
  void set_origin(std::string origin) { origin_ = std::move(origin); }
  void set_post_processor_adds_bos(bool adds) { post_processor_adds_bos_ = adds; }
  // Adds the added tokens (any order) and computes the per-id tables. Call once, after the model is complete.
  void Finish(std::vector<AddedToken> added);

 private:
  struct Scratch;
  void EncodeSegment(std::string_view text, Scratch* scratch, std::vector<TokenId>* ids) const;
  void EncodePlain(std::string_view text, Scratch* scratch, std::vector<TokenId>* ids) const;
  void EncodePiece(std::string_view piece, Scratch* scratch, std::vector<TokenId>* ids) const;

  uint64_t instance_;  // identifies this object in per-thread caches
  std::string origin_;
  BpeModel model_;
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  AddedVocab added_vocab_;
  DecoderKind decoder_ = DecoderKind::kByteLevel;
  bool post_processor_adds_bos_ = false;
  std::vector<AddedToken> added_tokens_;                   // sorted by id
  StringMap<TokenId> added_by_content_;
  std::vector<std::string> token_bytes_;                   // per id: bytes the decoder produces
  std::vector<uint8_t> id_kind_;                           // per id: 0 none, 1 model, 2 added, 3 added special
  size_t vocab_size_ = 0;
};

}  // namespace distill::tok
