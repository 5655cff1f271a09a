// Records that flow through collect and verify: a prompt line in, a trace line out (docs/formats.md describes the
// JSONL schemas). Plain structs; JSON conversion validates every field and names file:line and field on error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace distill::data {

// One line of the prompts JSONL.
struct PromptRecord {
  std::string id;                           // given, or a stable hash of the prompt (PromptIdFor)
  nlohmann::json messages;                  // [{role, content}…]; a bare "prompt" becomes one user message
  std::optional<std::string> ground_truth;  // "answer" field, for graders
  nlohmann::json extra = nlohmann::json::object();  // every other field, passed through to the trace
};

// Sampling parameters as sent to the teacher (or as the endpoint reported them back).
struct Sampling {
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> max_tokens;
  std::optional<int64_t> seed;
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  std::optional<int64_t> reasoning_tokens;  // when the endpoint reports it (DeepSeek, vLLM)
};

// One line of the traces JSONL: one (prompt, sample index) answered by the teacher.
struct TraceRecord {
  std::string prompt_id;
  int32_t sample_index = 0;
  nlohmann::json messages;                  // exactly what was sent
  std::optional<std::string> ground_truth;
  nlohmann::json extra = nlohmann::json::object();
  std::string reasoning;                    // tag-free
  std::string answer;                       // tag-free
  std::string teacher_model;                // model name the endpoint returned (else the one requested)
  std::string endpoint;                     // base URL, never with credentials
  std::string dialect;                      // deepseek | vllm | llamacpp | ollama | openai
  Sampling sampling_requested;
  Sampling sampling_returned;               // fields the endpoint echoed, if any
  Usage usage;
  std::string finish_reason;                // stop | length | …
  double latency_s = 0;                     // request start to last byte, final attempt
  std::optional<double> first_token_s;      // streaming only
  int32_t attempts = 1;
  std::string started_at;                   // RFC 3339 UTC, first attempt
  std::string finished_at;                  // RFC 3339 UTC
};

// Stable id of a prompt without one: hex of a 64-bit hash of the canonical JSON of its messages.
std::string PromptIdFor(const nlohmann::json& messages);

// Parses one prompts-JSONL line. `where` is "file:line" for errors.
absl::StatusOr<PromptRecord> ParsePromptLine(std::string_view line, const std::string& where);

nlohmann::json ToJson(const TraceRecord& trace);
absl::StatusOr<TraceRecord> TraceFromJson(const nlohmann::json& json, const std::string& where);
// The same, moving strings and the messages out of `json` instead of copying them (what a reader of long traces
// wants); `json` is left valid but unspecified.
absl::StatusOr<TraceRecord> TraceFromJson(nlohmann::json&& json, const std::string& where);

// The key that identifies a trace for resume and de-duplication: "<prompt_id>#<sample_index>".
std::string TraceKey(const std::string& prompt_id, int32_t sample_index);

// One line of the failures JSONL: a (prompt, sample) the collector gave up on.
struct FailureRecord {
  std::string prompt_id;
  int32_t sample_index = 0;
  std::string reason;      // short code: http_status | timeout | connection | truncated_stream | …
  int32_t attempts = 0;
  int32_t last_status = 0;  // HTTP status of the last attempt, 0 when none came back
  std::string last_error;   // message of the last attempt (never with credentials)
  std::string at;           // RFC 3339 UTC
};

nlohmann::json ToJson(const FailureRecord& failure);
absl::StatusOr<FailureRecord> FailureFromJson(const nlohmann::json& json, const std::string& where);

// Byte offset of the first invalid UTF-8 sequence in `text` (overlongs, surrogates and > U+10FFFF are invalid),
// or nullopt when `text` is valid.
std::optional<size_t> FindInvalidUtf8(std::string_view text);

// Parses one JSONL line that must hold a JSON object; errors name `where` ("file:line") and, for invalid UTF-8
// or JSON syntax, the byte offset within the line.
absl::StatusOr<nlohmann::json> ParseJsonObjectLine(std::string_view line, const std::string& where);

// True for a line that holds only whitespace: JSONL readers skip such lines.
bool IsBlankLine(std::string_view line);

// The text of a prompt's user turns (contents of every "user" message whose content is a string, joined by
// blank lines): what language, code-task and decontamination checks look at.
std::string PromptText(const nlohmann::json& messages);

}  // namespace distill::data
