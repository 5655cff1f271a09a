// The BPE model of a byte-level tokenizer.json: vocabulary, ranked merges and the merge algorithm, working on raw
// bytes (vocabulary pieces are converted from GPT-2's byte-to-unicode alphabet at load time).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "tokenizers/tokenizer.h"

namespace distill::tok {

// Hash and equality for std::string keys looked up by std::string_view (Abseil's string_view may differ).
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return absl::HashOf(absl::string_view(s.data(), s.size())); }
};
struct StringViewEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};
template <typename V>
using StringMap = absl::flat_hash_map<std::string, V, StringViewHash, StringViewEq>;

// GPT-2 byte-level alphabet: the code point byte `b` is written as in vocabulary pieces.
uint32_t ByteToCodepoint(uint8_t b);
// Converts a byte-level piece to the bytes it stands for; nullopt when a character is outside the alphabet.
std::optional<std::string> ByteLevelToBytes(std::string_view piece);
// The byte-level spelling of raw bytes.
std::string BytesToByteLevel(std::string_view bytes);

// Largest token id accepted from a file (real vocabularies stay far below; bounds per-id tables).
inline constexpr TokenId kMaxTokenId = (1 << 22) - 1;

class BpeModel {
 public:
  // Sizes the tables for `pieces` vocabulary entries and `merges` merges (an optimisation only).
  void Reserve(size_t pieces, size_t merges);
  // Adds a vocabulary entry (byte-level spelling). Errors on a duplicate piece or a negative id.
  absl::Status AddPiece(std::string_view piece, TokenId id);
  // Adds the merge of rank `rank` (its index in the merges list). Both parts and their concatenation must be in
  // the vocabulary.
  absl::Status AddMerge(std::string_view left, std::string_view right, uint32_t rank);
  // Checks that every byte has a token. Call after the vocabulary is complete.
  absl::Status Finish();
  void set_ignore_merges(bool v) { ignore_merges_ = v; }
  bool ignore_merges() const { return ignore_merges_; }

  // Appends the ids of one pre-token (raw bytes).
  void EncodeWord(std::string_view bytes, std::vector<TokenId>* out) const;

  std::optional<TokenId> PieceToId(std::string_view piece) const;
  const std::string* IdToPiece(TokenId id) const;  // nullptr when not in the vocabulary
  TokenId MaxId() const { return max_id_; }
  size_t size() const { return piece_to_id_.size(); }
  size_t num_merges() const { return merges_.size(); }

 private:
  static uint64_t PairKey(TokenId a, TokenId b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  // Looks up the merge of (a, b): rank in the high half, merged id in the low half; ~0 when none.
  uint64_t Merge(TokenId a, TokenId b) const {
    auto it = merges_.find(PairKey(a, b));
    return it == merges_.end() ? ~uint64_t{0} : it->second;
  }
  void MergeSmall(TokenId* ids, size_t n, std::vector<TokenId>* out) const;
  void MergeLarge(std::string_view bytes, std::vector<TokenId>* out) const;

  StringMap<TokenId> piece_to_id_;  // byte-level spelling
  StringMap<TokenId> bytes_to_id_;  // raw bytes
  std::vector<std::string> id_to_piece_;
  std::vector<bool> has_id_;
  absl::flat_hash_map<uint64_t, uint64_t> merges_;
  TokenId byte_id_[256];
  TokenId max_id_ = -1;
  bool ignore_merges_ = false;
};

}  // namespace distill::tok
