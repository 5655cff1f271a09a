// The one interface every tokenizer backend (tokenizer.json BPE, SentencePiece) implements.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json_fwd.hpp"

namespace distill::tok {

using TokenId = int32_t;

// A token from tokenizer.json "added_tokens" (or tokenizer_config.json "added_tokens_decoder").
// Special tokens are matched in raw text before normalization and are skipped by Decode(skip_special).
struct AddedToken {
  std::string content;
  TokenId id = -1;
  bool special = false;
  bool lstrip = false;      // swallow whitespace on the left of a match
  bool rstrip = false;      // swallow whitespace on the right of a match
  bool normalized = false;  // match against normalized text instead of raw text
  bool single_word = false;
};

// A loaded vocabulary. Thread-safe for concurrent const use.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Encodes UTF-8 text the way HF `encode(text, add_special_tokens=False)` does: added tokens found in the
  // text become their ids; no BOS/EOS is added. Invalid UTF-8 is an InvalidArgument error naming the byte offset.
  virtual absl::StatusOr<std::vector<TokenId>> Encode(std::string_view text) const = 0;

  // Decodes ids to UTF-8 text (HF `decode`, without clean-up of spaces). Out-of-range ids are an error.
  virtual absl::StatusOr<std::string> Decode(std::span<const TokenId> ids, bool skip_special = false) const = 0;

  // The vocabulary piece for an id as stored in the vocabulary file (byte-level form for BPE), or nullopt.
  virtual std::optional<std::string> IdToPiece(TokenId id) const = 0;
  // The id of a vocabulary piece or added token, or nullopt.
  virtual std::optional<TokenId> PieceToId(std::string_view piece) const = 0;
  // One past the largest id (added tokens included).
  virtual size_t VocabSize() const = 0;
  // Added tokens, in id order.
  virtual const std::vector<AddedToken>& AddedTokens() const = 0;
  // True for ids of added tokens flagged special.
  virtual bool IsSpecial(TokenId id) const = 0;
  // The exact bytes token `id` contributes to the decoded text (an incomplete UTF-8 sequence for some byte-level
  // tokens); empty for unknown ids. The training view uses it to map loss-mask spans onto tokens.
  virtual std::string TokenBytes(TokenId id) const;
  // True when Encode(a + b) == Encode(a) + Encode(b) whenever b starts with an added token that has no lstrip,
  // single_word or normalized flag (the text is split at added tokens before anything else looks at it). False
  // for SentencePiece, which adds a dummy-prefix space to each encoded text.
  virtual bool SplitsAtAddedTokens() const { return false; }
  // True when the file's post-processor prepends a BOS to every encoding (HF TemplateProcessing whose single
  // template starts with a special token, as Llama 3's tokenizer.json has).
  virtual bool PostProcessorAddsBos() const { return false; }
  // Short name of the backend and its configuration, e.g. "bpe(tokenizer.json)"; used in fingerprints and logs.
  virtual std::string Describe() const = 0;
};

// Encodes many texts on `threads` worker threads (0 = all cores). Output order equals input order; the first
// error (by input index) is returned.
absl::StatusOr<std::vector<std::vector<TokenId>>> EncodeBatch(const Tokenizer& tokenizer,
                                                              std::span<const std::string> texts, int threads = 0);

// Loads a Hugging Face tokenizer.json (byte-level BPE). Errors name the file and the JSON path at fault.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerJson(const std::string& path);
// Parses tokenizer.json content; `origin` names the source in error messages.
absl::StatusOr<std::unique_ptr<Tokenizer>> ParseTokenizerJson(std::string_view json, const std::string& origin);
// True when ParseTokenizerJson can read `json` on its fast path (model.vocab and model.merges streamed into flat
// lists rather than a DOM); the result is the same either way. For tests and benchmarks.
bool TokenizerJsonHasFastPath(std::string_view json);
// model.merges of tokenizer.json as (left, right) in file order, read on that fast path (the vocabulary skipped,
// never built), with every other member as a DOM in `rest` (its "model" without "vocab" and "merges"). nullopt
// when the fast path declines the file (callers then parse it with nlohmann, for its exact error).
std::optional<std::vector<std::pair<std::string, std::string>>> ReadTokenizerJsonMerges(std::string_view json,
                                                                                       nlohmann::json* rest);

// Loads a SentencePiece tokenizer.model through libsentencepiece.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePiece(const std::string& path);

}  // namespace distill::tok
