// R1-style completions for the teacher simulator: a step-by-step reasoning trace (intermediate results,
// "Let me verify: …" self-checks, occasional "Wait, …" corrections) and a short answer ending in \boxed{…},
// with configurable defects of the kinds DeepSeek filtered out of its distillation data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace distill::teacher {

// Per-response probabilities of content defects (each drawn independently; `empty` wins over all others).
struct DefectRates {
  double wrong_answer = 0;   // final answer off by a small amount (reasoning and \boxed agree on the wrong value)
  double language_mix = 0;   // Chinese sentences inserted between reasoning paragraphs
  double loop = 0;           // one reasoning paragraph repeated `loop_repeats` times
  double truncation = 0;     // reasoning cut part-way, no answer, finish_reason "length"
  double no_reasoning = 0;   // empty reasoning, answer only (DeepSeek under load)
  double empty = 0;          // 200 with empty reasoning and empty content
  double wait_correction = 0.25;  // a "Wait, …" self-correction of one intermediate result (answer stays right)
  int loop_repeats = 25;
};

// One generated completion. `defects` names what was injected: "wrong_answer", "language_mix", "loop",
// "truncated", "no_reasoning", "empty", "unsolvable" (no problem found in the prompt).
struct Completion {
  std::string reasoning;  // without <think> tags
  std::string content;    // the answer text
  bool truncated = false; // finish_reason "length"
  std::vector<std::string> defects;
};

// The completion for `prompt` (the last user message). Same (prompt, seed, rates) → byte-identical result.
Completion ComposeCompletion(std::string_view prompt, uint64_t seed, const DefectRates& rates);

// Simulator token count: whitespace-separated words (documented in docs/teacher-sim.md).
int CountTokens(std::string_view text);

// The prefix of `text` holding its first `max_tokens` words (original spacing kept, trailing space dropped).
std::string TruncateTokens(std::string_view text, int max_tokens);

}  // namespace distill::teacher
