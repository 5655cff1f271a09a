// A fast strict JSON parser producing nlohmann::json, for the long-string lines of trace JSONL. nlohmann's own
// lexer appends string bytes one at a time, which made JSON parsing a sixth of `distill build`; this one copies
// runs between quotes and escapes in bulk. It accepts exactly RFC 8259 JSON (no comments, trailing commas, lone
// surrogates, control characters in strings, or leading zeros) and gives the same DOM nlohmann gives (last
// duplicate key wins; integers as unsigned when non-negative, signed when negative, double when they overflow).
// On any failure it returns nullopt and says nothing: callers re-parse with nlohmann for its exact error message.
#pragma once

#include <optional>
#include <string_view>

#include "nlohmann/json.hpp"

namespace distill::data {

// The JSON value spelled by `text` (surrounding whitespace allowed), or nullopt when `text` is not valid JSON
// or nests deeper than 512 levels. The input must be valid UTF-8 (checked by the caller).
std::optional<nlohmann::json> ParseJsonFast(std::string_view text);

}  // namespace distill::data
