#include "tools/teacher/dialect.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "tools/teacher/trace.h"

namespace distill::teacher {
namespace {

using json = nlohmann::json;

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

// Ollama's inline form of a choice's text.
std::string InlineThink(const ChoiceText& choice) {
  if (choice.reasoning.empty()) return choice.content;
  std::string out = absl::StrCat("<think>\n", choice.reasoning);
  // A truncated response stops inside the thinking block.
  if (choice.finish_reason == "length" && choice.content.empty()) return out;
  absl::StrAppend(&out, "\n</think>\n\n", choice.content);
  return out;
}

json ReasoningValue(const std::string& reasoning, Dialect dialect) {
  if (reasoning.empty() && dialect != Dialect::kDeepSeek) return nullptr;
  return reasoning;
}

json ChunkJson(const ResponseSpec& spec, size_t index, json delta, json finish_reason) {
  json choice = {{"index", index}, {"delta", std::move(delta)}, {"logprobs", nullptr},
                 {"finish_reason", std::move(finish_reason)}};
  return json{{"id", spec.id},       {"object", "chat.completion.chunk"}, {"created", spec.created},
              {"model", spec.model}, {"system_fingerprint", "distill-teacher-sim"},
              {"choices", json::array({std::move(choice)})}};
}

std::string Event(const json& body) { return absl::StrCat("data: ", body.dump(), "\n\n"); }

}  // namespace

std::string_view DialectName(Dialect dialect) {
  switch (dialect) {
    case Dialect::kDeepSeek:
      return "deepseek";
    case Dialect::kVllm:
      return "vllm";
    case Dialect::kLlamaCpp:
      return "llamacpp";
    case Dialect::kOllama:
      return "ollama";
  }
  return "deepseek";
}

absl::StatusOr<Dialect> ParseDialect(std::string_view name) {
  std::string lower = absl::AsciiStrToLower(absl::string_view(name.data(), name.size()));
  if (lower == "deepseek") return Dialect::kDeepSeek;
  if (lower == "vllm" || lower == "sglang") return Dialect::kVllm;
  if (lower == "llamacpp" || lower == "llama.cpp" || lower == "llama-cpp") return Dialect::kLlamaCpp;
  if (lower == "ollama") return Dialect::kOllama;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dialect '", lower, "' (expected deepseek, vllm, llamacpp or ollama)"));
}

std::vector<std::string> SplitWords(std::string_view text, int words) {
  std::vector<std::string> pieces;
  if (words < 1) words = 1;
  size_t start = 0, i = 0;
  while (i < text.size()) {
    int count = 0;
    while (i < text.size() && count < words) {
      while (i < text.size() && IsSpace(text[i])) ++i;
      if (i >= text.size()) break;
      while (i < text.size() && !IsSpace(text[i])) ++i;
      ++count;
    }
    while (i < text.size() && IsSpace(text[i])) ++i;
    pieces.emplace_back(text.substr(start, i - start));
    start = i;
  }
  return pieces;
}

json UsageJson(const ResponseSpec& spec) {
  int reasoning = 0, content = 0;
  for (const ChoiceText& c : spec.choices) {
    reasoning += CountTokens(c.reasoning);
    content += CountTokens(c.content);
  }
  json usage = {{"prompt_tokens", spec.prompt_tokens},
                {"completion_tokens", reasoning + content},
                {"total_tokens", spec.prompt_tokens + reasoning + content}};
  if (spec.dialect == Dialect::kDeepSeek) {
    usage["completion_tokens_details"] = {{"reasoning_tokens", reasoning}};
    usage["prompt_cache_hit_tokens"] = 0;
    usage["prompt_cache_miss_tokens"] = spec.prompt_tokens;
  }
  return usage;
}

json CompletionJson(const ResponseSpec& spec) {
  json choices = json::array();
  for (size_t i = 0; i < spec.choices.size(); ++i) {
    const ChoiceText& c = spec.choices[i];
    json message = {{"role", "assistant"}};
    if (spec.dialect == Dialect::kOllama) {
      message["content"] = InlineThink(c);
    } else {
      message["content"] = c.content;
      message["reasoning_content"] = ReasoningValue(c.reasoning, spec.dialect);
      if (spec.dialect == Dialect::kVllm && spec.vllm_reasoning_alias)
        message["reasoning"] = ReasoningValue(c.reasoning, spec.dialect);
    }
    choices.push_back(
        {{"index", i}, {"message", std::move(message)}, {"logprobs", nullptr}, {"finish_reason", c.finish_reason}});
  }
  return json{{"id", spec.id},
              {"object", "chat.completion"},
              {"created", spec.created},
              {"model", spec.model},
              {"system_fingerprint", "distill-teacher-sim"},
              {"choices", std::move(choices)},
              {"usage", UsageJson(spec)}};
}

std::vector<std::string> StreamEvents(const ResponseSpec& spec, bool include_usage, int words_per_chunk) {
  std::vector<std::string> events;
  for (size_t i = 0; i < spec.choices.size(); ++i) {
    const ChoiceText& c = spec.choices[i];
    events.push_back(Event(ChunkJson(spec, i, {{"role", "assistant"}, {"content", ""}}, nullptr)));
    if (spec.dialect == Dialect::kOllama) {
      for (std::string& piece : SplitWords(InlineThink(c), words_per_chunk))
        events.push_back(Event(ChunkJson(spec, i, {{"content", std::move(piece)}}, nullptr)));
    } else {
      for (std::string& piece : SplitWords(c.reasoning, words_per_chunk)) {
        json delta = {{"reasoning_content", piece}};
        if (spec.dialect == Dialect::kDeepSeek) delta["content"] = nullptr;
        if (spec.dialect == Dialect::kVllm && spec.vllm_reasoning_alias) delta["reasoning"] = piece;
        events.push_back(Event(ChunkJson(spec, i, std::move(delta), nullptr)));
      }
      for (std::string& piece : SplitWords(c.content, words_per_chunk)) {
        json delta = {{"content", piece}};
        if (spec.dialect == Dialect::kDeepSeek) delta["reasoning_content"] = nullptr;
        events.push_back(Event(ChunkJson(spec, i, std::move(delta), nullptr)));
      }
    }
    events.push_back(Event(ChunkJson(spec, i, json::object(), c.finish_reason)));
  }
  if (include_usage) {
    json last = {{"id", spec.id},       {"object", "chat.completion.chunk"}, {"created", spec.created},
                 {"model", spec.model}, {"system_fingerprint", "distill-teacher-sim"},
                 {"choices", json::array()}, {"usage", UsageJson(spec)}};
    events.push_back(Event(last));
  }
  events.push_back("data: [DONE]\n\n");
  return events;
}

}  // namespace distill::teacher
