#include "tokenizers/tokenizer.h"

namespace distill::tok {

std::string Tokenizer::TokenBytes(TokenId id) const {
  // Backends whose Decode is byte-exact for single tokens can rely on this; others override it.
  auto text = Decode(std::span<const TokenId>(&id, 1));
  return text.ok() ? *std::move(text) : std::string();
}

}  // namespace distill::tok
