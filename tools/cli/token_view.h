// Terminal rendering of token sequences: token boundaries and loss masks made visible.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "tokenizers/tokenizer.h"

namespace distill::cli {

// True when stdout is a terminal that should get ANSI colour (honours NO_COLOR).
bool UseColor();

// Renders tokens one after another. With colour: trained (mask 1) tokens green, others grey, alternate tokens
// underlined so boundaries show. Without colour: trained runs wrapped in ⟦ ⟧. Control characters are escaped.
// `loss_mask` may be empty (then every token is shown plainly).
std::string RenderTokens(const tok::Tokenizer& tokenizer, std::span<const tok::TokenId> ids,
                         std::span<const uint8_t> loss_mask, bool color);

}  // namespace distill::cli
