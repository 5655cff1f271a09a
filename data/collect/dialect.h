// Normalises an OpenAI-compatible chat completion, in any of the reasoning dialects (DESIGN.md "Endpoint
// dialects"), into one shape: tag-free reasoning and answer kept apart, usage, finish_reason, model.
//  - DeepSeek API: message.reasoning_content / delta.reasoning_content; usage.completion_tokens_details.reasoning_tokens
//  - vLLM / SGLang: reasoning_content, or (newer vLLM) reasoning
//  - llama.cpp server: reasoning_content (--reasoning-format deepseek), else <think>…</think> in content
//  - Ollama /v1: <think>…</think> inline at the start of content (newer: reasoning)
// Streaming (SSE deltas) and non-streaming bodies of the same completion normalise to the same Completion.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "data/collect/sse_parser.h"
#include "data/trace_record.h"
#include "nlohmann/json.hpp"

namespace distill::data::collect {

struct Completion {
  std::string reasoning;      // tag-free, surrounding whitespace trimmed
  std::string answer;         // tag-free, surrounding whitespace trimmed
  std::string finish_reason;  // as reported ("stop", "length", …); empty when none came
  std::string model;          // model name the endpoint reported
  // Where the reasoning came from: "deepseek" (reasoning_content), "vllm" (reasoning), "ollama" (inline
  // <think> tags) or "openai" (no reasoning found).
  std::string detected_dialect;
  bool has_usage = false;
  Usage usage;
  Sampling sampling_returned;  // sampling fields the endpoint echoed (rare)
};

// Splits inline think tags out of `content`: "<think>R</think>A" → reasoning R, answer A; "R</think>A" (opening
// tag forced into the prompt) likewise; "<think>R" without a close (truncated) → all reasoning. Appends to
// `reasoning` (which may already hold a separate reasoning field) and rewrites `content` to the answer.
// Returns true when tags were found.
bool SplitThinkTags(std::string& reasoning, std::string& content);

// Normalises a non-streaming response body. Errors: malformed JSON, an {"error": …} body, no choices.
absl::StatusOr<Completion> NormaliseResponse(std::string_view body);

// Accumulates a streaming response (SSE chunks of chat.completion.chunk) as bytes arrive.
class StreamNormaliser {
 public:
  StreamNormaliser();
  StreamNormaliser(const StreamNormaliser&) = delete;
  StreamNormaliser& operator=(const StreamNormaliser&) = delete;

  void Feed(std::string_view bytes);
  // True once any reasoning or answer text arrived (for first-token latency).
  bool got_text() const { return got_text_; }
  // Ends the stream. Errors: malformed JSON in an event, an error event, a stream that ended before both
  // "[DONE]" and a finish_reason arrived ("stream ended early"), an empty body. A body that is not SSE but a
  // whole chat.completion JSON (an endpoint that ignores "stream") is normalised as such.
  absl::StatusOr<Completion> Finish();

 private:
  void OnEvent(std::string_view data);

  SseParser parser_;
  Completion out_;
  std::string reasoning_raw_;
  std::string content_raw_;
  std::string reasoning_field_;
  std::string raw_;  // the body while no event has arrived: a server that ignores "stream" answers plain JSON
  bool got_text_ = false;
  bool done_ = false;
  absl::Status error_;
};

// Strips ASCII whitespace at both ends.
std::string TrimCopy(std::string_view s);

}  // namespace distill::data::collect
