// Response bodies of the teacher simulator in each endpoint dialect of DESIGN.md "Endpoint dialects":
// non-streaming chat.completion JSON and streaming SSE events (chat.completion.chunk … data: [DONE]).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace distill::teacher {

// Where a dialect puts the reasoning:
//   kDeepSeek: message.reasoning_content + content; deltas reasoning_content then content;
//              usage.completion_tokens_details.reasoning_tokens.
//   kVllm:     reasoning_content (and `reasoning` as well when ResponseSpec::vllm_reasoning_alias).
//   kLlamaCpp: reasoning_content (llama-server --reasoning-format deepseek).
//   kOllama:   "<think>\n…\n</think>\n\n" inline at the start of content.
enum class Dialect { kDeepSeek, kVllm, kLlamaCpp, kOllama };

// "deepseek", "vllm", "llamacpp", "ollama".
std::string_view DialectName(Dialect dialect);
// Inverse of DialectName (case-insensitive; "llama.cpp" and "llama-cpp" accepted); InvalidArgument otherwise.
absl::StatusOr<Dialect> ParseDialect(std::string_view name);

// One choice after max_tokens was applied.
struct ChoiceText {
  std::string reasoning;  // without tags
  std::string content;
  std::string finish_reason;  // "stop" or "length"
};

// Everything a response body needs.
struct ResponseSpec {
  Dialect dialect = Dialect::kDeepSeek;
  bool vllm_reasoning_alias = false;
  std::string id;
  std::string model;
  int64_t created = 0;
  int prompt_tokens = 0;
  std::vector<ChoiceText> choices;
};

// The `usage` object (completion tokens = reasoning + content words, see CountTokens).
nlohmann::json UsageJson(const ResponseSpec& spec);

// Non-streaming body: {"id", "object": "chat.completion", "created", "model", "choices": [...], "usage"}.
nlohmann::json CompletionJson(const ResponseSpec& spec);

// Streaming events, each a complete "data: …\n\n" string: a role chunk, reasoning deltas, content deltas
// (`words_per_chunk` words each), a finish chunk per choice, a usage chunk when `include_usage`, "data: [DONE]".
std::vector<std::string> StreamEvents(const ResponseSpec& spec, bool include_usage, int words_per_chunk);

// Splits `text` into consecutive pieces of up to `words` words; concatenating them gives `text` back.
std::vector<std::string> SplitWords(std::string_view text, int words);

}  // namespace distill::teacher
